"""Optimizers and learning-rate schedules with torch semantics, in place on flat arrays.

P, its gradient G and the optimizer state (one or two arrays shaped like P)
are updated in place, so the numba training loop can call a step per batch.
``t`` is the 0-based index of the optimizer step; torch's ``state["step"]``
is t + 1 and ``CosineAnnealingLR.last_epoch`` is t.
"""
import math

from numba import njit
from tying.core import kernel_cache

SGD, ADAM, ADAMW = 0, 1, 2
CONSTANT, COSINE = 0, 1
OPT_CODE = {"sgd": SGD, "adam": ADAM, "adamw": ADAMW}
SCHED_CODE = {"constant": CONSTANT, "cosine": COSINE}


@njit(cache=True)
def lr_at(t, base, schedule, t_max, eta_min):
    """The learning rate of step t: constant, or CosineAnnealingLR's closed form
    (periodic past t_max with period 2 * t_max, as torch's closed form)."""
    if schedule == COSINE:
        return eta_min + (base - eta_min) * (1.0 + math.cos(math.pi * t / t_max)) / 2.0
    return base


@njit(cache=True)
def sgd_step(P, G, buf, t, lr, momentum, wd):
    """torch.optim.SGD (dampening 0, no Nesterov): g += wd * p; buf = g on the first step,
    else momentum * buf + g; p -= lr * buf."""
    for i in range(P.shape[0]):
        g = G[i] + wd * P[i]
        if momentum != 0.0:
            buf[i] = g if t == 0 else momentum * buf[i] + g
            g = buf[i]
        P[i] -= lr * g


@njit(cache=True)
def adam_step(P, G, m, v, t, lr, beta1, beta2, eps, wd, decoupled):
    """torch.optim.Adam (decoupled=False: L2 decay added to the gradient) or AdamW
    (decoupled=True: p *= 1 - lr * wd before the step); bias-corrected, eps added
    to sqrt(v_hat)."""
    step = t + 1
    step_size = lr / (1.0 - beta1**step)
    bc2_sqrt = math.sqrt(1.0 - beta2**step)
    for i in range(P.shape[0]):
        g = G[i]
        if decoupled:
            P[i] *= 1.0 - lr * wd
        else:
            g += wd * P[i]
        m[i] += (g - m[i]) * (1.0 - beta1)  # torch's lerp form of beta1 * m + (1 - beta1) * g
        v[i] = v[i] * beta2 + (1.0 - beta2) * g * g
        P[i] -= step_size * m[i] / (math.sqrt(v[i]) / bc2_sqrt + eps)


kernel_cache.stamp(globals())
