"""One entry point for every architecture, so the trainer's numba loop needs no Python.

Every ``models/<arch>_kernels.loss_grad`` has this signature: one batch (tokens
(B, T) int32, lengths (B,), that batch's targets) in; (weighted loss, weighted
accuracy) out; when want_grad the gradient is added into G (same shape and
dtype as P; the caller zeroes it).  The architecture codes come from
``archs.REGISTRY``; numba cannot loop over that table, so the branches below
compare against its constants, which numba compiles in: the cache stamp names
``archs`` so that editing the table recompiles this.
"""
import numpy as np
from numba import njit

from . import archs, bilinear_kernels, lstm_kernels, mixer_kernels, transformer_kernels
from .archs import BILINEAR, LSTM, MIXER, TRANSFORMER
from tying.core import kernel_cache


@njit(cache=True)
def loss_grad_any(arch_code, P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos, tgt_sym,
                  tgt_w, want_grad):
    if arch_code == BILINEAR:
        return bilinear_kernels.loss_grad(P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos,
                                          tgt_sym, tgt_w, want_grad)
    if arch_code == MIXER:
        return mixer_kernels.loss_grad(P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos,
                                       tgt_sym, tgt_w, want_grad)
    if arch_code == TRANSFORMER:
        return transformer_kernels.loss_grad(P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos,
                                             tgt_sym, tgt_w, want_grad)
    if arch_code == LSTM:
        return lstm_kernels.loss_grad(P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos,
                                      tgt_sym, tgt_w, want_grad)
    # An unknown code is a caller's bug; a NaN loss makes a training loop stop instead of training nothing.
    return np.nan, np.nan


kernel_cache.stamp(globals(), compiled_in=(archs,))
