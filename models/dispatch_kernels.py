"""One entry point for every architecture, so the trainer's numba loop needs no Python.

Every ``models/<arch>_kernels.loss_grad`` has this signature: one batch (tokens
(B, T) int32, lengths (B,), that batch's targets) in; (weighted loss, weighted
accuracy) out; when want_grad the gradient is added into G (same shape and
dtype as P; the caller zeroes it).  The architecture codes come from
``archs.REGISTRY``.

The code is a compile-time constant, not a runtime branch: ``literally`` makes
numba compile ``loss_grad_any`` (and every kernel that passes ``arch`` down to
it: the training loop, the evaluation, the variants) once per architecture, and
the overload below hands each compilation the one kernel module its code names.
A run of one architecture therefore compiles that architecture only (a cold
paper-small transformer compiles in about half the time an if-chain over all
four took), and each architecture's machine code is cached under its own
signature.  An unknown code compiles to a NaN loss, which makes a training loop
stop instead of training nothing.
"""
import numpy as np
from numba import literally, njit, types
from numba.extending import overload

from . import archs, bilinear_kernels, lstm_kernels, mixer_kernels, transformer_kernels  # noqa: F401 (KERNELS)
from tying.core import kernel_cache

# code -> the architecture's kernel module, as the registry names it (importing one compiles nothing)
KERNELS = {a.code: globals()[a.kernels] for a in archs.REGISTRY.values()}


def arch_loss_grad(arch_code, P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos, tgt_sym,
                   tgt_w, want_grad):
    """The registered architecture's loss_grad, chosen while numba compiles (no Python implementation)."""
    raise NotImplementedError("arch_loss_grad runs inside numba kernels only; call loss_grad_any")


@overload(arch_loss_grad)
def _arch_loss_grad(arch_code, P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos, tgt_sym,
                    tgt_w, want_grad):
    if not isinstance(arch_code, types.IntegerLiteral):
        return None  # the caller's literally() asks numba to retry with the code as a literal
    module = KERNELS.get(arch_code.literal_value)
    if module is None:
        return lambda arch_code, P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos, tgt_sym, \
            tgt_w, want_grad: (np.nan, np.nan)
    kernel = module.loss_grad
    return lambda arch_code, P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos, tgt_sym, \
        tgt_w, want_grad: kernel(P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos, tgt_sym,
                                 tgt_w, want_grad)


@njit(cache=True)
def loss_grad_any(arch_code, P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos, tgt_sym,
                  tgt_w, want_grad):
    literally(arch_code)
    return arch_loss_grad(arch_code, P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos,
                          tgt_sym, tgt_w, want_grad)


kernel_cache.stamp(globals(), compiled_in=(archs,))
