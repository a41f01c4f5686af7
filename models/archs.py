"""The one table of architectures: ``REGISTRY`` maps each name to its code, kernel module and shapes.

Everything that lists the architectures is derived from it: the config's
choices (``ARCHS``) and paper-small/medium defaults (``PAPER_SMALL``,
``PAPER_MEDIUM``), the kernel module the numba dispatch compiles in for each
code (``dispatch_kernels``), each architecture's parameter blocks
(``params.blocks``), ``Model.hidden``, and the tests' parametrisation.  Adding
an architecture is an entry here and its ``<name>_kernels.py`` (with
``loss_grad`` and ``hidden``).

Plain Python without numba, since the config imports it.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable


@dataclass(frozen=True)
class Arch:
    code: int  # what the numba kernels receive instead of the name
    kernels: str  # the module under tying.models with loss_grad and hidden
    min_layers: int
    blocks: Callable  # cfg -> [(name, shape, init)] after the common blocks, in canonical order
    small: dict  # the paper's small configuration: the defaults of ModelConfig
    medium: dict  # the paper's medium configuration


def _per_layer(cfg, names: tuple, shapes: list) -> list:
    """Layer i's blocks: the kernels' block names (``params``, which they compile in) with these shapes."""
    return [(f"layer{i}.{n}", shape, init) for i in range(cfg.layers) for n, (shape, init) in zip(names, shapes)]


def _bilinear_blocks(cfg) -> list:
    return []


def _mixer_blocks(cfg) -> list:
    from .params import MIXER_LAYER  # params lays out what this table describes: imported late

    d, T, tf, cf = cfg.d, cfg.seq_len, cfg.token_ff, cfg.channel_ff
    return _per_layer(cfg, MIXER_LAYER, [
        ((d,), "ones"), ((d,), "zeros"), ((tf, T), f"uniform:{T}"), ((tf,), f"uniform:{T}"),
        ((T, tf), f"uniform:{tf}"), ((T,), f"uniform:{tf}"), ((d,), "ones"), ((d,), "zeros"),
        ((cf, d), f"uniform:{d}"), ((cf,), f"uniform:{d}"), ((d, cf), f"uniform:{cf}"), ((d,), f"uniform:{cf}")])


def _transformer_blocks(cfg) -> list:
    from .params import TRANSFORMER_LAYER

    d, ff = cfg.d, cfg.ff
    return _per_layer(cfg, TRANSFORMER_LAYER, [
        ((3 * d, d), "xavier"), ((3 * d,), "zeros"), ((d, d), f"uniform:{d}"), ((d,), "zeros"),
        ((d,), "ones"), ((d,), "zeros"), ((ff, d), f"uniform:{d}"), ((ff,), f"uniform:{d}"),
        ((d, ff), f"uniform:{ff}"), ((d,), f"uniform:{ff}"), ((d,), "ones"), ((d,), "zeros")])


def _lstm_blocks(cfg) -> list:
    """Per layer and direction torch's four tensors, then one projection to d."""
    from .params import LSTM_CELL, LSTM_HEAD

    d, H, dirs = cfg.d, cfg.hidden, 2 if cfg.bidirectional else 1
    out = []
    for i in range(cfg.layers):
        n_in = d if i == 0 else H * dirs
        cell = [((4 * H, n_in), f"uniform:{H}"), ((4 * H, H), f"uniform:{H}"), ((4 * H,), f"uniform:{H}"),
                ((4 * H,), f"uniform:{H}")]
        out += [(f"layer{i}.dir{r}.{n}", shape, init) for r in range(dirs) for n, (shape, init) in zip(LSTM_CELL, cell)]
    n = H * dirs
    head = [((d, n), f"uniform:{n}"), ((d,), f"uniform:{n}")]
    return out + [(name, shape, init) for name, (shape, init) in zip(LSTM_HEAD, head)]


REGISTRY = MappingProxyType({
    "bilinear": Arch(0, "bilinear_kernels", 0, _bilinear_blocks,
                     small=dict(d=4, layers=0), medium=dict(d=32, layers=0)),
    "mixer": Arch(1, "mixer_kernels", 1, _mixer_blocks,
                  small=dict(d=4, layers=1, token_ff=4, channel_ff=8, activation="relu"),
                  medium=dict(d=32, layers=2, token_ff=32, channel_ff=32, activation="relu")),
    "transformer": Arch(2, "transformer_kernels", 1, _transformer_blocks,
                        small=dict(d=4, layers=1, heads=1, ff=4, activation="gelu"),
                        medium=dict(d=32, layers=2, heads=1, ff=32, activation="gelu")),
    "lstm": Arch(3, "lstm_kernels", 1, _lstm_blocks,
                 small=dict(d=4, layers=2, hidden=8, bidirectional=True),
                 medium=dict(d=32, layers=4, hidden=32, bidirectional=True)),
})

ARCHS = tuple(REGISTRY)
ARCH_CODE = MappingProxyType({name: a.code for name, a in REGISTRY.items()})
PAPER_SMALL = MappingProxyType({name: MappingProxyType(a.small) for name, a in REGISTRY.items()})
PAPER_MEDIUM = MappingProxyType({name: MappingProxyType(a.medium) for name, a in REGISTRY.items()})
if len(set(ARCH_CODE.values())) != len(ARCHS):
    raise ImportError("two architectures in models/archs.py share a code")


def kernels(arch: str):
    """The kernel module of an architecture (imported on first use; importing compiles nothing)."""
    from .dispatch_kernels import KERNELS

    return KERNELS[REGISTRY[arch].code]
