"""Row-wise building blocks shared by the mixer and the transformer: LayerNorm and activations."""
import math

from numba import njit
from tying.core import kernel_cache

SQRT2 = math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@njit(cache=True)
def layernorm_fwd(x, g, b, eps, y, xhat, rstd):
    """y = g * (x - mean) / sqrt(var + eps) + b over the last axis of x (n, d); keeps xhat and rstd."""
    n, d = x.shape
    for i in range(n):
        mu = 0.0
        for k in range(d):
            mu += x[i, k]
        mu /= d
        var = 0.0
        for k in range(d):
            var += (x[i, k] - mu) ** 2
        var /= d  # biased variance, as torch
        r = 1.0 / math.sqrt(var + eps)
        rstd[i] = r
        for k in range(d):
            xhat[i, k] = (x[i, k] - mu) * r
            y[i, k] = g[k] * xhat[i, k] + b[k]


@njit(cache=True)
def layernorm_bwd(dy, xhat, rstd, g, dx, dg, db):
    """dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)); dg, db accumulate."""
    n, d = dy.shape
    for i in range(n):
        m1 = 0.0
        m2 = 0.0
        for k in range(d):
            dxh = dy[i, k] * g[k]
            m1 += dxh
            m2 += dxh * xhat[i, k]
            dg[k] += dy[i, k] * xhat[i, k]
            db[k] += dy[i, k]
        m1 /= d
        m2 /= d
        for k in range(d):
            dx[i, k] = rstd[i] * (dy[i, k] * g[k] - m1 - xhat[i, k] * m2)


@njit(cache=True)
def act(x, kind):
    """0: ReLU; 1: GELU with the exact erf (torch's default)."""
    if kind == 0:
        return x if x > 0.0 else 0.0
    return 0.5 * x * (1.0 + math.erf(x / SQRT2))


@njit(cache=True)
def act_grad(x, kind):
    if kind == 0:
        return 1.0 if x > 0.0 else 0.0
    return 0.5 * (1.0 + math.erf(x / SQRT2)) + x * math.exp(-0.5 * x * x) * INV_SQRT_2PI


kernel_cache.stamp(globals())
