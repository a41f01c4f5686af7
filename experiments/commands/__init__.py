"""The subcommands of ``tying``, one module each, in the order ``tying --help`` lists them."""
from __future__ import annotations


def modules() -> list:
    """Imported on demand, so that a Ctrl-C while they load is handled by ``cli.main``."""
    from . import analyze, audit, bench, export, generate, inspect, reproduce, sweep, train, verify

    return [generate, inspect, audit, export, train, analyze, sweep, verify, reproduce, bench]
