"""tying: a synthetic-language testbed for tied input/output embeddings and the distributional hypothesis.

The face of the package.  Each name below lives in one layer (docs/architecture.md)::

    corpora       parity_corpus, pcfg_corpus, text_corpus, load_grammar, Corpus, transforms, exact, audit
    models        ModelConfig, TrainConfig, train, Run, Optimizer, ARCHS
    theory        verify
    experiments   sweep, reproduce_paper, reproduce_variants, analyze

``tying.torch`` (StreamDataset, needs the torch extra) is a module of this package, imported by name.

Names load on first use (PEP 562), so ``import tying`` and the ``tying``
command do not pay for numba, sympy or matplotlib before they need them.
"""
from __future__ import annotations

from pathlib import Path

# Installed, the layers are this package's folders.  In a checkout they are this folder's siblings (the design
# card keeps them top-level), so code that reads the checkout from its root (python -m pytest, a notebook
# there) finds them beside it.
_here = Path(__file__).resolve().parent
if not (_here / "core").is_dir() and (_here.parent / "core" / "version.py").is_file():
    __path__.append(str(_here.parent))

from .core import lazy  # noqa: E402
from .core.version import package_version  # noqa: E402

__version__ = package_version()

# name -> the layer whose face offers it
_FACE = {
    "parity_corpus": ".generators",
    "pcfg_corpus": ".generators",
    "load_grammar": ".generators",
    "text_corpus": ".generators",
    "Corpus": ".generators",
    "transforms": ".generators",
    "exact": ".generators",
    "audit": ".generators",
    "ModelConfig": ".models",
    "TrainConfig": ".models",
    "train": ".models",
    "Run": ".models",
    "Optimizer": ".models",
    "ARCHS": ".models",
    "verify": ".theory",
    "sweep": ".experiments",
    "reproduce_paper": ".experiments",
    "reproduce_variants": ".experiments",
    "analyze": ".experiments",
}
__all__ = ["__version__", *_FACE]

__getattr__, __dir__ = lazy.face(globals(), _FACE)
