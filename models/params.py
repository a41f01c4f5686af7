"""Flat parameter layout, the parameter-sharing map, and torch-default initialisation.

All parameters of a model live in one flat array ``P``.  The layout is a list
of named blocks; ``offs[k]`` is the start of block k in canonical order, which
is what numba kernels receive (together with ``dims``), so a kernel reads e.g.
the first transformer layer's input projection as
``P[offs[L0 + IN_W] : ...].reshape(3 * d, d)`` with ``L0 = N_COMMON``.

Embeddings: one shared table ``emb`` of R rows.  Each role maps a symbol to a
row: the input embedding of symbol s is ``emb[in_row[s]]`` and its output
embedding ``emb[out_row[s]]`` (its bias ``out_bias[out_row[s]]``).  Untied
models use separate rows (R = 2V), tied ones the same rows (R = V), and merged
output rows point two symbols at one row.  Gradients accumulate into shared
rows, so tying, partial tying and merging are one mechanism.

Tying variants (``variant_kernels``) read the same table: a model tied in only
its first k < d columns stores untied rows (R = 2V) and its output role reads
columns < k from the symbol's input row (``tie_row``); a tie map adds the block
``tie_w`` (d, d) last, so every other block keeps its offset and its init draws.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .archs import REGISTRY
from .config import ModelConfig

# dims[] indices handed to kernels
D_V, D_D, D_T, D_LAYERS, D_HEADS, D_FF, D_CFF, D_ACT, D_CAUSAL, D_BIAS, D_R, D_POS, D_HIDDEN, D_DIRS = range(14)
N_DIMS = 14
ACT_CODE = {"relu": 0, "gelu": 1}
OUTPUT_ROWS_STREAM = 1  # second entropy word of the untied output rows' generator (see init_params)

COMMON = ("emb", "out_bias", "pos")
EMB, OUT_BIAS, POS = range(3)
N_COMMON = len(COMMON)
TRANSFORMER_LAYER = ("in_w", "in_b", "out_w", "out_b", "ln1_g", "ln1_b",
                     "ff_w1", "ff_b1", "ff_w2", "ff_b2", "ln2_g", "ln2_b")
MIXER_LAYER = ("ln1_g", "ln1_b", "tok_w1", "tok_b1", "tok_w2", "tok_b2",
               "ln2_g", "ln2_b", "ch_w1", "ch_b1", "ch_w2", "ch_b2")
# LSTM: per layer and direction the four torch tensors, then one projection to d (archs.REGISTRY lays them out).
LSTM_CELL = ("w_ih", "w_hh", "b_ih", "b_hh")
LSTM_HEAD = ("proj_w", "proj_b")


def sharing_map(cfg: ModelConfig) -> tuple[np.ndarray, np.ndarray, int]:
    """(in_row, out_row, R) for the config's tying and output-row merges.  Only a model that shares all d
    columns stores tied rows; partial tying keeps untied rows and reads the shared columns at ``tie_row``."""
    V = cfg.vocab_size
    in_row = np.arange(V, dtype=np.int32)
    tied = cfg.shared_dims == cfg.d
    out_row = in_row.copy() if tied else np.arange(V, 2 * V, dtype=np.int32)
    parent = list(range(V))  # union-find, so merges may chain: (a, b), (b, c)

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in cfg.merge_out:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    out_row = out_row[[find(s) for s in range(V)]].astype(np.int32)
    R = V if tied else 2 * V
    return in_row, out_row, R


def tie_row(cfg: ModelConfig) -> np.ndarray:
    """The row each symbol's output role reads its shared columns from: the tied model's out_row."""
    return sharing_map(dataclasses.replace(cfg, tied=True, tied_dims=None, tie_map=False))[1]


def blocks(cfg: ModelConfig, R: int) -> list[tuple[str, tuple, str]]:
    """[(name, shape, init)] in canonical order: the common blocks, then the architecture's own
    (``archs.REGISTRY``). init: normal | uniform:FAN_IN | xavier | zeros | ones | identity."""
    d, T = cfg.d, cfg.seq_len
    out = [("emb", (R, d), "normal"), ("out_bias", (R if cfg.output_bias else 0,), "zeros"),
           ("pos", (T if cfg.positional else 0, d), "normal")]
    tie = [("tie_w", (d, d), "identity")] if cfg.tie_map else []
    return out + REGISTRY[cfg.arch].blocks(cfg) + tie


def layout(cfg: ModelConfig):
    """(in_row, out_row, blocks, offs, dims, size) for a fitted config."""
    in_row, out_row, R = sharing_map(cfg)
    bl = blocks(cfg, R)
    sizes = [int(np.prod(s)) for _, s, _ in bl]
    offs = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    dims = np.zeros(N_DIMS, np.int64)
    dims[[D_V, D_D, D_T, D_LAYERS, D_R]] = cfg.vocab_size, cfg.d, cfg.seq_len, cfg.layers, R
    dims[D_HEADS] = cfg.heads or 0
    dims[D_FF] = (cfg.token_ff if cfg.arch == "mixer" else cfg.ff) or 0
    dims[D_CFF] = cfg.channel_ff or 0
    dims[D_ACT] = ACT_CODE.get(cfg.activation, 0)
    dims[D_CAUSAL] = cfg.objective == "causal"
    dims[D_BIAS] = cfg.output_bias
    dims[D_POS] = cfg.positional
    dims[D_HIDDEN] = cfg.hidden or 0
    dims[D_DIRS] = 2 if cfg.bidirectional else 1
    return in_row, out_row, bl, offs, dims, int(offs[-1])


def init_params(cfg: ModelConfig, seed: int) -> np.ndarray:
    """torch's default distributions: embeddings N(0,1); Linear U(+-1/sqrt(fan_in));
    the attention input projection Xavier-uniform; LayerNorm ones and zeros; zero biases where torch zeroes them.
    Every tensor but the untied output rows is drawn from one generator seeded with ``seed``, in layout
    order; those rows from a generator seeded with ``[seed, OUTPUT_ROWS_STREAM]``."""
    _, _, bl, offs, _, size = layout(cfg)
    rng = np.random.default_rng(seed)
    P = np.empty(size, np.float64)
    for (name, shape, init), a, b in zip(bl, offs[:-1], offs[1:]):
        n = b - a
        if name == "emb":
            # Rows past the V input rows (untied output rows) come from their own stream, so that at one
            # seed a tied and an untied model start with the same values in every tensor they share.
            n_in = cfg.vocab_size * cfg.d
            P[a:a + n_in] = rng.standard_normal(n_in)
            P[a + n_in:b] = np.random.default_rng([seed, OUTPUT_ROWS_STREAM]).standard_normal(n - n_in)
        elif init == "normal":
            P[a:b] = rng.standard_normal(n)
        elif init == "zeros":
            P[a:b] = 0.0
        elif init == "ones":
            P[a:b] = 1.0
        elif init == "identity":
            P[a:b] = np.eye(shape[0]).ravel()
        elif init == "xavier":
            bound = np.sqrt(6.0 / (shape[0] + shape[1]))
            P[a:b] = rng.uniform(-bound, bound, n)
        else:
            bound = 1.0 / np.sqrt(int(init.split(":")[1]))
            P[a:b] = rng.uniform(-bound, bound, n)
    return P.astype(cfg.dtype)


def views(cfg: ModelConfig, P: np.ndarray) -> dict[str, np.ndarray]:
    """Named, shaped views into the flat array (writes go through)."""
    _, _, bl, offs, _, _ = layout(cfg)
    return {name: P[a:b].reshape(shape) for (name, shape, _), a, b in zip(bl, offs[:-1], offs[1:])}
