"""What the kernels need to know of a config's tying variant (``variant_kernels``), as one tuple.

    var = state(cfg, P.dtype)   # passed to loss_grad_model / train_steps beside the sharing map

The effective layout is the config's own with separate rows and no variant, so
the plain kernels run on it unchanged.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from . import params
from .config import ModelConfig
from .variant_kernels import V_K, V_ON, V_TIE_W


def plain(cfg: ModelConfig) -> ModelConfig:
    """The config the effective parameters are laid out for: untied, unmerged, no variant."""
    return dataclasses.replace(cfg, tied=False, merge_out=[], input_grad_scale=1.0, input_multiplier=1.0,
                               tied_dims=None, tie_map=False)


def state(cfg: ModelConfig, dtype) -> tuple:
    """(vi, vf, tie_row, offs_e, dims_e, in_e, out_e, Pe, Ge); empty arrays when the config has no variant."""
    vi = np.zeros(3, np.int64)
    vf = np.array([cfg.input_grad_scale, cfg.multiplier], np.float64)  # in the order V_ALPHA, V_C
    vi[V_ON], vi[V_K], vi[V_TIE_W] = cfg.variant, cfg.shared_dims, -1
    if not cfg.variant:
        i32, i64 = np.zeros(0, np.int32), np.zeros(0, np.int64)
        return vi, vf, i32, i64, i64, i32, i32, np.zeros(0, dtype), np.zeros(0, dtype)
    if cfg.tie_map:
        _, _, bl, offs, _, _ = params.layout(cfg)
        vi[V_TIE_W] = offs[[name for name, _, _ in bl].index("tie_w")]
    in_e, out_e, _, offs_e, dims_e, size_e = params.layout(plain(cfg))
    return (vi, vf, params.tie_row(cfg), offs_e, dims_e, in_e, out_e, np.zeros(size_e, dtype),
            np.zeros(size_e, dtype))
