"""Faces whose names load on first use (PEP 562).

A layer's ``__init__`` that would otherwise import sympy or matplotlib for
every importer (the ``tying`` command among them) lists its names instead::

    __getattr__, __dir__ = lazy.face(globals(), {"verify": ".registry", ...})

and each name is imported from its module the first time it is read.  This is
the project's one import by name.
"""
from __future__ import annotations

import importlib


def face(namespace: dict, table: dict):
    """``__getattr__`` and ``__dir__`` for the package whose globals() is ``namespace``; ``table`` maps
    each name to the module (relative to the package) that defines it."""
    package = namespace["__name__"]

    def __getattr__(name: str):
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(table[name], package), name)
        namespace[name] = value  # later reads are plain attribute lookups
        return value

    def __dir__():
        return sorted(set(namespace) | set(table))

    return __getattr__, __dir__
