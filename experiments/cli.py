"""The ``tying`` command line: a thin layer over the Python API.

Each subcommand lives in ``experiments/commands/<name>.py`` and exposes
``register(subparsers)``.  Bad input (``InputError`` or an argparse error)
prints one line and exits 2; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import sys

from tying.core.errors import InputError
from tying.core.interrupt import caused_by_interrupt

from .commands.options import Parser



def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="tying",
        description="A synthetic-language testbed for tied input/output embeddings "
        "(Bertolotti & Cazzola, ICML 2024).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    from . import commands

    for module in commands.modules():
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    prog = "tying"
    try:
        args = build_parser().parse_args(argv)
        prog = f"tying {args.command}"
        return int(args.func(args) or 0)
    except InputError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `tying inspect X | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0
    except OSError as e:  # a path we could not read or write: the user's to fix, not a bug of ours
        print(f"{prog}: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except (KeyboardInterrupt, SystemError) as e:  # SystemError: a Ctrl-C that hit a numba kernel
        if not caused_by_interrupt(e):
            raise
        print(f"{prog}: interrupted", file=sys.stderr)  # also while the commands are still being imported
        return 130


if __name__ == "__main__":
    sys.exit(main())
