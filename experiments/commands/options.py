"""Option helpers shared by the subcommands (the library never imports them)."""
from __future__ import annotations

import argparse


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


def int_at_least(low: int):
    """An option type: an integer >= low (argparse reports anything else in one line, exit 2)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text!r}")
        return value
    return parse


def add_executor_args(parser) -> None:
    """The --workers / --dask options, for every command that runs a sweep."""
    parser.add_argument("--workers", type=int_at_least(1), default=None, metavar="N",
                        help="local worker processes (default: one per core)")
    parser.add_argument("--dask", default=None, metavar="ADDRESS",
                        help="run on a Dask distributed cluster, e.g. tcp://host:8786 (extra 'dask'); "
                        "the workers must see the output folder")
