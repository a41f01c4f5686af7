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


kernel_cache.stamp(globals())
