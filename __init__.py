"""tying: a synthetic-language testbed for tied input/output embeddings and the distributional hypothesis.

The face of the package.  Each name below lives in one layer (docs/architecture.md)::

    corpora       parity_corpus, pcfg_corpus, load_grammar, Corpus, transforms, exact
    models        ModelConfig, TrainConfig, train, Run, Optimizer, ARCHS
    theory        verify
    experiments   sweep, reproduce_paper

Names load on first use (PEP 562), so ``import tying`` and the ``tying``
command do not pay for numba, sympy or matplotlib before they need them.
"""
from __future__ import annotations

import importlib

from .core.version import package_version

__version__ = package_version()

# name -> the layer module that defines it (None: the module itself is the name)
_FACE = {
    "parity_corpus": ".generators.parity",
    "pcfg_corpus": ".generators.pcfg",
    "load_grammar": ".generators.pcfg",
    "Corpus": ".generators.corpus",
    "transforms": None,
    "exact": ".generators.truth",
    "ModelConfig": ".models",
    "TrainConfig": ".models",
    "train": ".models",
    "Run": ".models",
    "Optimizer": ".models",
    "ARCHS": ".models",
    "verify": ".theory.registry",
    "sweep": ".experiments.sweep",
    "reproduce_paper": ".experiments.reproduce",
}
__all__ = ["__version__", *_FACE]


def __getattr__(name: str):
    if name not in _FACE:
        raise AttributeError(f"module 'tying' has no attribute {name!r}")
    if _FACE[name] is None:
        value = importlib.import_module(f".generators.{name}", __name__)
    else:
        value = getattr(importlib.import_module(_FACE[name], __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
