"""Numba kernels that realize meanings as surface symbols and build training batches.

Random numbers come in as arrays of uniforms drawn by the caller, so every
kernel is pure: the same arrays in give the same arrays out.
"""
import numpy as np
from numba import njit
from tying.core import kernel_cache


@njit(cache=True, inline="always")
def realize_sequence(seqs, a, L, out, o0, variants, weights, class_of, start_class, copy_src, copy_map, u, u0):
    """out[o0 + t] = the surface of meaning seqs[a + t] for t < L, drawn with the uniform u[u0 + t].
    Offsets into whole arrays, not row slices: a view per sequence cost a third of the stream.

    The draw is the inverse CDF over the meaning's variants after class c: the first variant whose
    cumulative weight exceeds u, zero-weight variants never drawn, the last drawable one when u is within
    rounding of 1.  It is written out here rather than called per token: arrays passed into a function
    per token (even one numba inlines) cost about three times the draw itself."""
    for t in range(L):
        m = seqs[a + t]
        src = copy_src[m]
        if src >= 0:
            s = -1
            for j in range(t - 1, -1, -1):
                if seqs[a + j] == src:
                    s = copy_map[out[o0 + j]]
                    break
            out[o0 + t] = s
            continue
        c = start_class if t == 0 else class_of[seqs[a + t - 1]]
        x = u[u0 + t]
        acc = 0.0
        s = -1
        for k in range(variants.shape[1]):
            v = variants[m, k]
            if v < 0:
                break
            w = weights[m, c, k]
            if w > 0.0:
                s = v
                acc += w
                if x < acc:
                    break
        out[o0 + t] = s


@njit(cache=True)
def realize_flat(seqs, offsets, variants, weights, class_of, start_class, copy_src, copy_map, u):
    out = np.empty(seqs.shape[0], np.int32)
    for i in range(offsets.shape[0] - 1):
        a, b = offsets[i], offsets[i + 1]
        realize_sequence(seqs, a, b - a, out, a, variants, weights, class_of, start_class, copy_src, copy_map, u, a)
    return out


@njit(cache=True)
def sample_steps(seqs, offsets, maskable, rows, u_real, u_mask, variants, weights, class_of, start_class,
                 copy_src, copy_map, causal, mask_rate, mask_id, pad_id, T):
    """Build S batches of B examples: realize, then mask (MLM) or shift (causal).

    rows[s, b] is the corpus sequence of example b in step s.  For MLM with
    mask_rate == 0 exactly one maskable position is masked, chosen uniformly;
    otherwise each maskable position is masked with probability mask_rate, and
    one is forced when none was.  Every target of a step weighs 1/(its count).
    """
    S, B = rows.shape
    tokens = np.full((S, B, T), pad_id, np.int32)
    lengths = np.zeros((S, B), np.int32)
    cap = S * B * T
    tgt_off = np.zeros(S + 1, np.int64)
    tgt_seq = np.empty(cap, np.int32)
    tgt_pos = np.empty(cap, np.int32)
    tgt_sym = np.empty(cap, np.int32)
    tgt_w = np.empty(cap, np.float64)
    surf = np.empty(T, np.int32)
    u_flat = u_real.reshape(S * B * u_real.shape[2])
    n = 0
    for s in range(S):
        start = n
        for b in range(B):
            i = rows[s, b]
            a, e = offsets[i], offsets[i + 1]
            L = e - a
            realize_sequence(seqs, a, L, surf, 0, variants, weights, class_of, start_class,
                             copy_src, copy_map, u_flat, (s * B + b) * u_real.shape[2])
            lengths[s, b] = L
            for t in range(L):
                tokens[s, b, t] = surf[t]
            if causal:
                for t in range(L - 1):
                    tgt_seq[n] = b
                    tgt_pos[n] = t
                    tgt_sym[n] = surf[t + 1]
                    n += 1
            else:
                n_mask = 0
                if mask_rate > 0.0:
                    for t in range(L):
                        if maskable[a + t] and u_mask[s, b, t] < mask_rate:
                            tgt_seq[n] = b
                            tgt_pos[n] = t
                            tgt_sym[n] = surf[t]
                            tokens[s, b, t] = mask_id
                            n += 1
                            n_mask += 1
                if n_mask == 0:
                    n_ok = 0
                    for t in range(L):
                        if maskable[a + t]:
                            n_ok += 1
                    if n_ok > 0:
                        pick = min(int(u_mask[s, b, T - 1] * n_ok), n_ok - 1)
                        for t in range(L):
                            if maskable[a + t]:
                                if pick == 0:
                                    tgt_seq[n] = b
                                    tgt_pos[n] = t
                                    tgt_sym[n] = surf[t]
                                    tokens[s, b, t] = mask_id
                                    n += 1
                                    break
                                pick -= 1
        for j in range(start, n):
            tgt_w[j] = 1.0 / (n - start)
        tgt_off[s + 1] = n
    return tokens, lengths, tgt_off, tgt_seq[:n].copy(), tgt_pos[:n].copy(), tgt_sym[:n].copy(), tgt_w[:n].copy()


kernel_cache.stamp(globals())
