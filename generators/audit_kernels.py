"""Numba kernel of the DH audit: overlaps of sparse target rows."""
import numpy as np
from numba import njit
from tying.core import kernel_cache


@njit(cache=True)
def row_dots(indptr, sym, x, c1, c2):
    """sum_s x(s, c1[n]) x(s, c2[n]) for each n, from CSR rows sorted by symbol."""
    out = np.empty(c1.shape[0], np.float64)
    for n in range(c1.shape[0]):
        i, ie = indptr[c1[n]], indptr[c1[n] + 1]
        j, je = indptr[c2[n]], indptr[c2[n] + 1]
        acc = 0.0
        while i < ie and j < je:
            if sym[i] < sym[j]:
                i += 1
            elif sym[j] < sym[i]:
                j += 1
            else:
                acc += x[i] * x[j]
                i += 1
                j += 1
        out[n] = acc
    return out


@njit(cache=True)
def pair_sums(start, ctx, ea, eb, p_cond, J, Q, p_ctx, valid, denom):
    """Per group n of contexts ctx[start[n]:start[n + 1]] (entries ea, eb of a and b there, or -1):
    D(a, b) (truth.dh_violation's sum, in one pass), the ce_gap numerator and the contexts with two targets."""
    G = start.shape[0] - 1
    D, gap, used = np.zeros(G), np.zeros(G), np.zeros(G, np.int64)
    ln2 = np.log(2.0)
    for n in range(G):
        for i in range(start[n], start[n + 1]):
            x = ctx[i]
            pa = p_cond[ea[i]] if ea[i] >= 0 else 0.0
            pb = p_cond[eb[i]] if eb[i] >= 0 else 0.0
            s = pa + pb
            if s > 0.0:
                term = s * ln2
                if pa > 0.0:
                    term += pa * np.log(pa / s)
                if pb > 0.0:
                    term += pb * np.log(pb / s)
                D[n] += p_ctx[x] * max(term, 0.0)
            if valid[x]:
                ja = J[ea[i]] if ea[i] >= 0 else 0.0
                jb = J[eb[i]] if eb[i] >= 0 else 0.0
                qa = Q[ea[i]] if ea[i] >= 0 else 0.0
                qb = Q[eb[i]] if eb[i] >= 0 else 0.0
                gap[n] += p_ctx[x] * ((ja - jb) ** 2 - qa - qb) / denom[x]
                used[n] += 1
    return D, gap, used


kernel_cache.stamp(globals())
