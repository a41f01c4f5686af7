"""Numba kernels that enumerate every realization of a corpus's sequences.

Given its meanings, a sequence's free positions are realized independently
(a position's weights depend on the previous *meaning*, never on a surface
symbol), and copy positions are functions of earlier surfaces.  So the
realizations are a mixed-radix count over the free positions' variants, and a
realization's probability is the product of its digits' probabilities.
"""
import numpy as np
from numba import njit
from tying.core import kernel_cache


@njit(cache=True)
def position_tables(seq, variants, weights, class_of, start_class, copy_src, pv_sym, pv_p, pv_n):
    """Distinct positive-probability surfaces of each free position (pv_n = 0 marks a copy).

    Repeated surfaces of one meaning are merged, and the probabilities are
    renormalized so that enumerated weights sum to 1 to rounding.
    """
    for t in range(seq.shape[0]):
        m = seq[t]
        pv_n[t] = 0
        if copy_src[m] >= 0:
            continue
        c = start_class if t == 0 else class_of[seq[t - 1]]
        n = 0
        total = 0.0
        for k in range(variants.shape[1]):
            s = variants[m, k]
            if s < 0:
                break
            w = weights[m, c, k]
            if w <= 0.0:
                continue
            j = 0
            while j < n and pv_sym[t, j] != s:
                j += 1
            if j == n:
                pv_sym[t, n] = s
                pv_p[t, n] = 0.0
                n += 1
            pv_p[t, j] += w
            total += w
        for j in range(n):
            pv_p[t, j] /= total
        pv_n[t] = n


@njit(cache=True)
def fill(seq, digits, slot, pv_sym, pv_p, copy_src, copy_map, surf):
    """Write the realization picked by ``digits`` into surf; return its probability.

    Copies follow ``realize_sequence`` in stream_kernels: the most recent
    earlier position with the source meaning, mapped by copy_map.
    """
    p = 1.0
    for t in range(seq.shape[0]):
        j = slot[t]
        if j >= 0:
            surf[t] = pv_sym[t, digits[j]]
            p *= pv_p[t, digits[j]]
        else:
            src = copy_src[seq[t]]
            s = -1
            for i in range(t - 1, -1, -1):
                if seq[i] == src:
                    s = copy_map[surf[i]]
                    break
            surf[t] = s
    return p


@njit(cache=True)
def advance(digits, order, nf, pv_n):
    """Next mixed-radix counter value, last digit fastest; False after the last one."""
    j = nf - 1
    while j >= 0:
        digits[j] += 1
        if digits[j] < pv_n[order[j]]:
            return True
        digits[j] = 0
        j -= 1
    return False


@njit(cache=True)
def enumerate_contexts(seqs, offsets, maskable, ids, seq_p, variants, weights, class_of, start_class,
                       copy_src, copy_map, causal, mask_id, pad_id, T, max_rows, max_tgts):
    """Every (context, target) pair of the sequences ``ids`` with its probability.

    MLM: for each maskable position t (probability 1 / #maskable) and each
    realization, the row is the realization with t masked and the target is
    the surface at t.  Realizations that differ only at t give the same row,
    so t is the fastest digit and its rows are merged within a group.
    Causal: one row per realization; its L - 1 targets share the probability.
    """
    K = variants.shape[1]
    tokens = np.full((max_rows, T), pad_id, np.int32)
    lengths = np.zeros(max_rows, np.int32)
    tgt_seq = np.empty(max_tgts, np.int32)
    tgt_pos = np.empty(max_tgts, np.int32)
    tgt_sym = np.empty(max_tgts, np.int32)
    tgt_w = np.empty(max_tgts, np.float64)
    pv_sym = np.empty((T, K), np.int32)
    pv_p = np.empty((T, K), np.float64)
    pv_n = np.zeros(T, np.int64)
    slot = np.empty(T, np.int64)
    order = np.empty(T, np.int64)
    digits = np.zeros(T, np.int64)
    surf = np.empty(T, np.int32)
    R = 0
    N = 0
    for i in ids:
        a, e = offsets[i], offsets[i + 1]
        L = e - a
        seq = seqs[a:e]
        if seq_p[i] <= 0.0:
            continue
        position_tables(seq, variants, weights, class_of, start_class, copy_src, pv_sym, pv_p, pv_n)
        impossible = False
        for t in range(L):
            if copy_src[seq[t]] < 0 and pv_n[t] == 0:
                impossible = True
        if impossible:
            continue
        if causal:
            nf = 0
            for t in range(L):
                slot[t] = -1
                if pv_n[t] > 0:
                    slot[t] = nf
                    order[nf] = t
                    nf += 1
            digits[:nf] = 0
            while True:
                p = fill(seq, digits, slot, pv_sym, pv_p, copy_src, copy_map, surf)
                tokens[R, :L] = surf[:L]
                lengths[R] = L
                for t in range(L - 1):
                    tgt_seq[N] = R
                    tgt_pos[N] = t
                    tgt_sym[N] = surf[t + 1]
                    tgt_w[N] = seq_p[i] * p  # seq_p is 1 / (all targets of the split) here
                    N += 1
                R += 1
                if not advance(digits, order, nf, pv_n):
                    break
            continue
        n_ok = 0
        for t in range(L):
            if maskable[a + t]:
                n_ok += 1
        for t in range(L):
            if not maskable[a + t]:
                continue
            nf = 0
            for u in range(L):  # free positions, the masked one last (fastest)
                slot[u] = -1
                if pv_n[u] > 0 and u != t:
                    slot[u] = nf
                    order[nf] = u
                    nf += 1
            t_free = pv_n[t] > 0
            if t_free:
                slot[t] = nf
                order[nf] = t
                nf += 1
            digits[:nf] = 0
            g0 = R
            while True:
                p = fill(seq, digits, slot, pv_sym, pv_p, copy_src, copy_map, surf)
                if not t_free or digits[slot[t]] == 0:
                    g0 = R
                r = -1
                for q in range(g0, R):
                    same = True
                    for u in range(L):
                        if tokens[q, u] != (mask_id if u == t else surf[u]):
                            same = False
                            break
                    if same:
                        r = q
                        break
                if r < 0:
                    r = R
                    tokens[R, :L] = surf[:L]
                    tokens[R, t] = mask_id
                    lengths[R] = L
                    R += 1
                tgt_seq[N] = r
                tgt_pos[N] = t
                tgt_sym[N] = surf[t]
                tgt_w[N] = seq_p[i] * p / n_ok
                N += 1
                if not advance(digits, order, nf, pv_n):
                    break
    return tokens[:R].copy(), lengths[:R].copy(), tgt_seq[:N].copy(), tgt_pos[:N].copy(), \
        tgt_sym[:N].copy(), tgt_w[:N].copy()


kernel_cache.stamp(globals())
