"""What a model and its training would need in memory, from the config alone, checked before allocating.

The sizes are written out as formulas (not by building the layout, whose
loops over layers and symbols a config of 10^12 of them would never finish);
``tests/test_config.py`` checks the parameter count against ``params.layout``.
A config that needs more than ``TYING_MEMORY`` bytes (default: the machine's
physical memory) is refused with one line, instead of numpy's "Unable to
allocate 102 TiB" or an int64 overflow inside a kernel.
"""
from __future__ import annotations

from tying.core.errors import InputError
from tying.core.limits import gib, limit

from .config import ModelConfig, TrainConfig

CHUNK_FLOATS = 1 << 18  # the kernels' activation budget per chunk (transformer_kernels, mixer_kernels)
TOKEN_SLOTS = 1 << 21  # at most this many token slots per sampled chunk, or one batch (train.chunk_steps)


def n_params(cfg: ModelConfig) -> int:
    """Length of the flat parameter array P of a fitted config (params.layout's size)."""
    V, T, d, n = cfg.vocab_size, cfg.seq_len, cfg.d, cfg.layers
    R = V if cfg.shared_dims == d else 2 * V
    size = R * d + (R if cfg.output_bias else 0) + (T * d if cfg.positional else 0) + (d * d if cfg.tie_map else 0)
    if cfg.arch == "transformer":
        size += n * (4 * d * d + 9 * d + 2 * cfg.ff * d + cfg.ff)
    elif cfg.arch == "mixer":
        tf, cf = cfg.token_ff, cfg.channel_ff
        size += n * (5 * d + 2 * tf * T + tf + T + 2 * cf * d + cf)
    elif cfg.arch == "lstm":
        H, dirs = cfg.hidden, 2 if cfg.bidirectional else 1
        cell = 4 * H * H + 8 * H  # w_hh and the two biases
        size += dirs * (4 * H * d + cell) + (n - 1) * dirs * (4 * H * H * dirs + cell)
        size += d * H * dirs + d  # the projection to d
    return size


def activations(cfg: ModelConfig) -> int:
    """Floats a kernel keeps for one chunk: the chunk budget, or one sequence when that alone is larger."""
    T, d, n = cfg.seq_len, cfg.d, cfg.layers
    if cfg.arch == "transformer":
        one = n * T * ((6 + 2 * cfg.heads) * d + cfg.heads * T + 2 * cfg.ff + 2)
    elif cfg.arch == "mixer":
        one = T * d + n * (T * (5 * d + 2 + 2 * cfg.channel_ff) + 2 * cfg.token_ff * d)
    elif cfg.arch == "lstm":
        H, dirs = cfg.hidden, 2 if cfg.bidirectional else 1
        one = 2 * (n + 1) * T * max(d, H * dirs) + n * dirs * T * 6 * H
    else:
        one = 3 * T * d
    return 2 * max(CHUNK_FLOATS, one)  # forward and backward


def needed(cfg: ModelConfig, tc: TrainConfig | None = None) -> dict[str, int]:
    """{part: bytes}: the parameters alone, or with a TrainConfig everything training holds."""
    item = 4 if cfg.dtype == "float32" else 8
    P = n_params(cfg)
    if tc is None:
        return {"parameters": P * item}
    records = tc.steps // tc.record_every + 2
    from .variants import plain

    # the effective tables a tying variant's kernels read, and their gradient (variants.state)
    P_eff = 2 * n_params(plain(cfg)) * item if cfg.variant else 0
    return {
        # P, its gradient, two optimizer moments and the two records an interrupt returns to,
        # plus the float64 copies the kernels read
        "parameters and optimizer state": 6 * P * item + 2 * P * 8 + P_eff,
        "activations": 8 * activations(cfg),
        # tokens, lengths and four target arrays per token slot
        "batches": 24 * max(TOKEN_SLOTS, tc.batch_size * cfg.seq_len),
        "embedding snapshots": records * cfg.vocab_size * (2 * cfg.d + 1) * item,
    }


def check_memory(cfg: ModelConfig, tc: TrainConfig | None = None) -> None:
    """Refuse a config whose parameters (or, with tc, whose training) would not fit in memory."""
    parts = needed(cfg, tc)
    total, cap = sum(parts.values()), limit("TYING_MEMORY")
    if total > cap:
        big = max(parts, key=parts.get)
        raise InputError(f"the {cfg.arch} (d={cfg.d}, layers={cfg.layers}, {cfg.vocab_size} symbols) would need "
                         f"{gib(total)} of memory, {gib(parts[big])} of it for {big}, but {gib(cap)} is available "
                         "(TYING_MEMORY)")
