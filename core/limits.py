"""Limits on sizes that would otherwise run for hours, silently, or exhaust memory.

Each limit is refused with a one-line error that names the environment
variable that raises it, for a user who means it:

* ``TYING_MAX_SEQUENCES`` (default 10,000,000): sentences of one PCFG corpus
  (``tying generate pcfg --sequences``, a spec's ``sequences``); 10 million
  toy-english sentences take about two minutes and 1 GB.
* ``TYING_MAX_RUNS`` (default 10,000): runs of one experiment spec, counted
  before the grid is expanded.
* ``TYING_MEMORY`` (default: the machine's physical memory, in bytes): what a
  model's parameters, optimizer state and training buffers may need
  (``models/memory.py``), checked before anything is allocated.
"""
from __future__ import annotations

import os

from .errors import InputError

DEFAULTS = {"TYING_MAX_SEQUENCES": 10_000_000, "TYING_MAX_RUNS": 10_000}


def limit(name: str) -> int:
    """The limit called ``name``: the environment's value if set, else the default."""
    text = os.environ.get(name)
    if text is None:
        return DEFAULTS[name] if name in DEFAULTS else physical_memory()
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise InputError(f"environment variable {name} must be a positive integer, got {text!r}")
    return value


def physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: no bound we can know
        return 2**63 - 1


def check_count(n: int, name: str, what: str) -> None:
    """Refuse n things when the limit ``name`` allows fewer; ``what`` describes them, with {n} for n."""
    cap = limit(name)
    if n > cap:
        raise InputError(f"{what.format(n=n)}, more than the limit of {cap} (set the environment variable "
                         f"{name} to raise it)")


def gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.3g} GiB"
