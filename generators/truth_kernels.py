"""Numba kernels for ground-truth comparisons of target distributions."""
import numpy as np
from numba import njit
from tying.core import kernel_cache


@njit(cache=True)
def row_gaps(indptr, sym, p, c1, c2):
    """max_s |p(s | c1[n]) - p(s | c2[n])| for each n, from CSR rows sorted by symbol."""
    out = np.empty(c1.shape[0], np.float64)
    for n in range(c1.shape[0]):
        i, ie = indptr[c1[n]], indptr[c1[n] + 1]
        j, je = indptr[c2[n]], indptr[c2[n] + 1]
        gap = 0.0
        while i < ie or j < je:
            if j >= je or (i < ie and sym[i] < sym[j]):
                d = p[i]
                i += 1
            elif i >= ie or sym[j] < sym[i]:
                d = p[j]
                j += 1
            else:
                d = abs(p[i] - p[j])
                i += 1
                j += 1
            gap = max(gap, d)
        out[n] = gap
    return out


kernel_cache.stamp(globals())
