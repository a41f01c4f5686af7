"""Tying variants as two maps around the plain kernels, one forward and one backward.

Every architecture reads its input embeddings through ``head_kernels.embed`` and
its output table through ``head_kernels.head_loss_grad``.  A variant changes what
the two roles read and what the table receives, so a variant model runs the
plain kernels on *effective* parameters ``Pe`` in the untied layout (row s the
input embedding of s, row V + s its output embedding, the other blocks copied)
and maps their gradient ``Ge`` back through the sharing map, where the roles'
gradients accumulate into shared rows as before:

    input role   Pe[s]     = c E[in_row[s]]                   E[in_row[s]] += alpha c Ge[s]
    output role  Pe[V + s] = E[tie_row[s]][:k] | E[out_row[s]][k:]    (Ge[V + s] split the same way)
     tie map     Pe[V + s] = E[out_row[s]] W     E[out_row[s]] += Ge[V + s] W^T,  W += E[out_row[s]]^T Ge[V + s]

alpha = 1 is the true gradient; alpha != 1 scales the input role's share of every row it reads.
A model without a variant never enters these maps (``loss_grad_model``'s first branch).
"""
from numba import literally, njit

from . import archs, params
from .dispatch_kernels import loss_grad_any
from .params import D_BIAS, D_D, D_V, EMB, OUT_BIAS, POS
from tying.core import kernel_cache

# the integers of a variant (vi): on, shared columns k, offset of tie_w in P (-1: none); its floats (vf): alpha, c
V_ON, V_K, V_TIE_W = range(3)
V_ALPHA, V_C = range(2)


@njit(cache=True)
def effective(P, offs, dims, in_row, out_row, tie_row, vi, vf, Pe, offs_e):
    """Fill Pe with what each role reads from P."""
    V, d = dims[D_V], dims[D_D]
    k, tw, c = vi[V_K], vi[V_TIE_W], vf[V_C]
    e, ee = offs[EMB], offs_e[EMB]
    for s in range(V):
        ri, ro, rt = in_row[s], out_row[s], tie_row[s]
        for j in range(d):
            Pe[ee + s * d + j] = c * P[e + ri * d + j]
        for j in range(d):
            if tw >= 0:
                v = 0.0
                for i in range(d):
                    v += P[e + ro * d + i] * P[tw + i * d + j]
            else:
                v = P[e + (rt if j < k else ro) * d + j]
            Pe[ee + (V + s) * d + j] = v
        if dims[D_BIAS] != 0:
            Pe[offs_e[OUT_BIAS] + s] = 0.0  # the input rows' bias: never read
            Pe[offs_e[OUT_BIAS] + V + s] = P[offs[OUT_BIAS] + ro]
    n = offs_e[-1] - offs_e[POS]
    Pe[offs_e[POS]:] = P[offs[POS]:offs[POS] + n]


@njit(cache=True)
def effective_backward(P, G, offs, dims, in_row, out_row, tie_row, vi, vf, Ge, offs_e):
    """Add into G the gradient Ge of the effective parameters, mapped back through the roles."""
    V, d = dims[D_V], dims[D_D]
    k, tw = vi[V_K], vi[V_TIE_W]
    scale = vf[V_ALPHA] * vf[V_C]
    e, ee = offs[EMB], offs_e[EMB]
    for s in range(V):
        ri, ro, rt = in_row[s], out_row[s], tie_row[s]
        for j in range(d):
            G[e + ri * d + j] += scale * Ge[ee + s * d + j]
        go = ee + (V + s) * d
        for j in range(d):
            if tw >= 0:
                for i in range(d):
                    G[e + ro * d + i] += Ge[go + j] * P[tw + i * d + j]
                    G[tw + i * d + j] += P[e + ro * d + i] * Ge[go + j]
            else:
                G[e + (rt if j < k else ro) * d + j] += Ge[go + j]
        if dims[D_BIAS] != 0:
            G[offs[OUT_BIAS] + ro] += Ge[offs_e[OUT_BIAS] + V + s]
    n = offs_e[-1] - offs_e[POS]
    G[offs[POS]:offs[POS] + n] += Ge[offs_e[POS]:]


@njit(cache=True)
def loss_grad_model(arch, P, G, offs, dims, in_row, out_row, var, tokens, lengths, tgt_seq, tgt_pos, tgt_sym,
                    tgt_w, want_grad):
    """``loss_grad_any`` of a model with its variant ``var`` (``variants.state``)."""
    literally(arch)  # compiled per architecture: dispatch_kernels
    vi, vf, tie_row, offs_e, dims_e, in_e, out_e, Pe, Ge = var
    if vi[V_ON] == 0:
        return loss_grad_any(arch, P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos, tgt_sym,
                             tgt_w, want_grad)
    effective(P, offs, dims, in_row, out_row, tie_row, vi, vf, Pe, offs_e)
    if want_grad:
        Ge[:] = 0.0
    loss, acc = loss_grad_any(arch, Pe, Ge, offs_e, dims_e, in_e, out_e, tokens, lengths, tgt_seq, tgt_pos,
                              tgt_sym, tgt_w, want_grad)
    if want_grad:
        effective_backward(P, G, offs, dims, in_row, out_row, tie_row, vi, vf, Ge, offs_e)
    return loss, acc


kernel_cache.stamp(globals(), compiled_in=(archs, params))
