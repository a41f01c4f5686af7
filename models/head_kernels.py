"""The softmax output head shared by every architecture.

z_s = <h, emb[out_row[s]]> + out_bias[out_row[s]];  loss = sum_n w_n (logsumexp(z) - z_y).
The backward pass is dz = w (softmax(z) - onehot(y)), scattered into the shared
rows through out_row, so tied and merged rows accumulate every role's gradient.
"""
import math

import numpy as np
from numba import njit

from . import params
from .params import D_BIAS, D_D, D_R, D_V, EMB, OUT_BIAS
from tying.core import kernel_cache


@njit(cache=True)
def head_loss_grad(Hs, P, G, offs, dims, out_row, tgt_sym, tgt_w, dHs, want_grad):
    """Loss and weighted accuracy of hidden states Hs (N, d) against targets; fills dHs (N, d)
    and accumulates into G when want_grad.  Accuracy counts argmax == target (first max wins)."""
    V, d, R = dims[D_V], dims[D_D], dims[D_R]
    has_bias = dims[D_BIAS] != 0
    E = P[offs[EMB] : offs[EMB] + R * d].reshape(R, d)
    GE = G[offs[EMB] : offs[EMB] + R * d].reshape(R, d)
    bias, gbias = P[offs[OUT_BIAS] : offs[OUT_BIAS + 1]], G[offs[OUT_BIAS] : offs[OUT_BIAS + 1]]
    z = np.empty(V, np.float64)
    e = np.empty(V, np.float64)  # exp(z - zmax), kept for the backward pass
    loss = 0.0
    acc = 0.0
    for n in range(Hs.shape[0]):
        zmax = -np.inf
        arg = 0
        for s in range(V):
            r = out_row[s]
            v = 0.0
            for k in range(d):
                v += Hs[n, k] * E[r, k]
            if has_bias:
                v += bias[r]
            z[s] = v
            if v > zmax:
                zmax = v
                arg = s
        se = 0.0
        for s in range(V):
            e[s] = math.exp(z[s] - zmax)
            se += e[s]
        lse = zmax + math.log(se)
        w, y = tgt_w[n], tgt_sym[n]
        loss += w * (lse - z[y])
        if arg == y:
            acc += w
        if want_grad:
            for k in range(d):
                dHs[n, k] = 0.0
            for s in range(V):
                g = w * (e[s] / se - (1.0 if s == y else 0.0))
                r = out_row[s]
                for k in range(d):
                    dHs[n, k] += g * E[r, k]
                    GE[r, k] += g * Hs[n, k]
                if has_bias:
                    gbias[r] += g
    return loss, acc


@njit(cache=True)
def embed(P, offs, dims, in_row, tokens, length, X):
    """X[t] = emb[in_row[tokens[t]]] (+ pos[t]) for t < length; zero beyond."""
    d = dims[D_D]
    e0 = offs[EMB]
    has_pos = offs[3] > offs[2]
    X[:] = 0.0
    for t in range(length):
        r = in_row[tokens[t]]
        for k in range(d):
            X[t, k] = P[e0 + r * d + k]  # flat indexing: a reshaped slice costs more than the lookup
            if has_pos:
                X[t, k] += P[offs[2] + t * d + k]


@njit(cache=True)
def embed_backward(G, offs, dims, in_row, tokens, length, dX):
    d = dims[D_D]
    has_pos = offs[3] > offs[2]
    for t in range(length):
        r = in_row[tokens[t]]
        for k in range(d):
            G[offs[EMB] + r * d + k] += dX[t, k]
            if has_pos:
                G[offs[2] + t * d + k] += dX[t, k]


@njit(cache=True)
def group_targets(B, tgt_seq):
    """Targets grouped by sequence: the targets of row b are order[start[b]:start[b+1]], in input order."""
    N = tgt_seq.shape[0]
    start = np.zeros(B + 1, np.int64)
    for n in range(N):
        if not 0 <= tgt_seq[n] < B:
            raise ValueError("target refers to a row outside the batch")
        start[tgt_seq[n] + 1] += 1
    for b in range(B):
        start[b + 1] += start[b]
    fill = start[:B].copy()
    order = np.empty(N, np.int64)
    for n in range(N):
        b = tgt_seq[n]
        order[fill[b]] = n
        fill[b] += 1
    return start, order


kernel_cache.stamp(globals(), compiled_in=(params,))
