"""The one table of architectures: ``REGISTRY`` maps each name to its code, kernel module and shapes.

Everything that lists the architectures is derived from it: the config's
choices (``ARCHS``) and paper-small/medium defaults (``PAPER_SMALL``,
``PAPER_MEDIUM``), the codes the numba dispatch compares against (the
module-level constants ``BILINEAR`` .. ``LSTM``), each architecture's
parameter blocks (``params.blocks``), ``Model.hidden``, and the tests'
parametrisation.  Adding an architecture is an entry here, its
``<name>_kernels.py`` (with ``loss_grad`` and ``hidden``), and one branch in
``dispatch_kernels.loss_grad_any``.

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


def _bilinear_blocks(cfg) -> list:
    return []


def _mixer_blocks(cfg) -> list:
    d, T, tf, cf = cfg.d, cfg.seq_len, cfg.token_ff, cfg.channel_ff
    out = []
    for i in range(cfg.layers):
        p = f"layer{i}."
        out += [(p + "ln1_g", (d,), "ones"), (p + "ln1_b", (d,), "zeros"),
                (p + "tok_w1", (tf, T), f"uniform:{T}"), (p + "tok_b1", (tf,), f"uniform:{T}"),
                (p + "tok_w2", (T, tf), f"uniform:{tf}"), (p + "tok_b2", (T,), f"uniform:{tf}"),
                (p + "ln2_g", (d,), "ones"), (p + "ln2_b", (d,), "zeros"),
                (p + "ch_w1", (cf, d), f"uniform:{d}"), (p + "ch_b1", (cf,), f"uniform:{d}"),
                (p + "ch_w2", (d, cf), f"uniform:{cf}"), (p + "ch_b2", (d,), f"uniform:{cf}")]
    return out


def _transformer_blocks(cfg) -> list:
    d, ff = cfg.d, cfg.ff
    out = []
    for i in range(cfg.layers):
        p = f"layer{i}."
        out += [(p + "in_w", (3 * d, d), "xavier"), (p + "in_b", (3 * d,), "zeros"),
                (p + "out_w", (d, d), f"uniform:{d}"), (p + "out_b", (d,), "zeros"),
                (p + "ln1_g", (d,), "ones"), (p + "ln1_b", (d,), "zeros"),
                (p + "ff_w1", (ff, d), f"uniform:{d}"), (p + "ff_b1", (ff,), f"uniform:{d}"),
                (p + "ff_w2", (d, ff), f"uniform:{ff}"), (p + "ff_b2", (d,), f"uniform:{ff}"),
                (p + "ln2_g", (d,), "ones"), (p + "ln2_b", (d,), "zeros")]
    return out


def _lstm_blocks(cfg) -> list:
    """Per layer and direction torch's four tensors, then one projection to d."""
    d, H, dirs = cfg.d, cfg.hidden, 2 if cfg.bidirectional else 1
    out = []
    for i in range(cfg.layers):
        n_in = d if i == 0 else H * dirs
        for r in range(dirs):
            q = f"layer{i}.dir{r}."
            out += [(q + "w_ih", (4 * H, n_in), f"uniform:{H}"), (q + "w_hh", (4 * H, H), f"uniform:{H}"),
                    (q + "b_ih", (4 * H,), f"uniform:{H}"), (q + "b_hh", (4 * H,), f"uniform:{H}")]
    n = H * dirs
    return out + [("proj_w", (d, n), f"uniform:{n}"), ("proj_b", (d,), f"uniform:{n}")]


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

# The dispatch's if-chain compares against these; numba compiles them in as constants.
BILINEAR = REGISTRY["bilinear"].code
MIXER = REGISTRY["mixer"].code
TRANSFORMER = REGISTRY["transformer"].code
LSTM = REGISTRY["lstm"].code


def kernels(arch: str):
    """The kernel module of an architecture (imported on first use: it compiles numba code); the
    dispatch imports every registered one, so it holds them all."""
    from . import dispatch_kernels

    return getattr(dispatch_kernels, REGISTRY[arch].kernels)
