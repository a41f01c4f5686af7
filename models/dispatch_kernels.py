"""One entry point for every architecture, so the trainer's numba loop needs no Python.

Every ``models/<arch>_kernels.loss_grad`` has this signature: one batch (tokens
(B, T) int32, lengths (B,), that batch's targets) in; (weighted loss, weighted
accuracy) out; when want_grad the gradient is added into G (same shape and
dtype as P; the caller zeroes it).  Architecture codes are ``params.ARCH_CODE``.
"""
import numpy as np
from numba import njit

from . import bilinear_kernels, lstm_kernels, mixer_kernels, transformer_kernels
from tying.core import kernel_cache


@njit(cache=True)
def loss_grad_any(arch_code, P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos, tgt_sym,
                  tgt_w, want_grad):
    if arch_code == 0:
        return bilinear_kernels.loss_grad(P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos,
                                          tgt_sym, tgt_w, want_grad)
    if arch_code == 1:
        return mixer_kernels.loss_grad(P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos,
                                       tgt_sym, tgt_w, want_grad)
    if arch_code == 2:
        return transformer_kernels.loss_grad(P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos,
                                             tgt_sym, tgt_w, want_grad)
    if arch_code == 3:
        return lstm_kernels.loss_grad(P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos,
                                      tgt_sym, tgt_w, want_grad)
    # An unknown code is a caller's bug; a NaN loss makes a training loop stop instead of training nothing.
    return np.nan, np.nan


kernel_cache.stamp(globals())
