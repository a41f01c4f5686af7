"""The training loop in numba: many optimizer steps per call, no Python per step.

Step t (global, 0-based) uses batch (batch0 + i) % S of the Examples arrays,
where i = t - step0 is its index in this call, so a chunk of S sampled
batches can be consumed by several calls, and a one-batch population is
reused every step.  losses[i] is the loss at the parameters *before* update t.
"""
import math

import numpy as np
from numba import literally, njit

from . import archs, params
from .variant_kernels import loss_grad_model
from .optim_kernels import ADAMW, SGD, adam_step, lr_at, sgd_step
from tying.core import kernel_cache


@njit(cache=True)
def train_steps(arch, P, G, M1, M2, in_row, out_row, var, offs, dims,
                tokens, lengths, tgt_off, tgt_seq, tgt_pos, tgt_sym, tgt_w, batch0, step0, n_steps,
                opt, lr, beta1, beta2, eps, wd, momentum, schedule, t_max, eta_min):
    """Run n_steps updates in place on P (and the optimizer state M1, M2; SGD uses M1 only);
    var is the model's tying variant (``variants.state``).

    Returns (losses, accs, status): status is -1, or the global step whose loss was not finite;
    the loop stops there without updating, so P holds the parameters that produced it.
    """
    literally(arch)  # compiled per architecture: dispatch_kernels
    losses = np.full(n_steps, np.nan)
    accs = np.full(n_steps, np.nan)
    S = tokens.shape[0]
    for i in range(n_steps):
        s = (batch0 + i) % S
        a, b = tgt_off[s], tgt_off[s + 1]
        G[:] = 0.0
        loss, acc = loss_grad_model(arch, P, G, offs, dims, in_row, out_row, var, tokens[s], lengths[s],
                                    tgt_seq[a:b], tgt_pos[a:b], tgt_sym[a:b], tgt_w[a:b], True)
        losses[i] = loss
        accs[i] = acc
        t = step0 + i
        if not math.isfinite(loss):
            return losses, accs, t
        rate = lr_at(t, lr, schedule, t_max, eta_min)
        if opt == SGD:
            sgd_step(P, G, M1, t, rate, momentum, wd)
        else:
            adam_step(P, G, M1, M2, t, rate, beta1, beta2, eps, wd, opt == ADAMW)
    return losses, accs, -1


@njit(cache=True)
def evaluate(arch, P, G, offs, dims, in_row, out_row, var, tokens, lengths, tgt_off, tgt_seq, tgt_pos, tgt_sym, tgt_w,
             first, stop):
    """Mean over batches first..stop-1 of the weighted loss and accuracy (no gradient; G is untouched)."""
    literally(arch)
    loss = 0.0
    acc = 0.0
    for s in range(first, stop):
        a, b = tgt_off[s], tgt_off[s + 1]
        l, c = loss_grad_model(arch, P, G, offs, dims, in_row, out_row, var, tokens[s], lengths[s],
                               tgt_seq[a:b], tgt_pos[a:b], tgt_sym[a:b], tgt_w[a:b], False)
        loss += l
        acc += c
    n = stop - first
    return loss / n, acc / n


# loss_grad_any is compiled into these kernels, and with it the architecture codes of archs and params' indices
kernel_cache.stamp(globals(), compiled_in=(archs, params))
