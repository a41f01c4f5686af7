"""Transformer encoder with torch ``TransformerEncoderLayer`` default semantics, forward and backward by hand.

batch_first, post-LN, no dropout.  One layer maps x (L, d) to

    a  = MultiHeadAttention(x)   in_proj (3d, d) + bias -> q, k, v (in that order); per head
                                 softmax(q k^T / sqrt(d / heads)) v over keys < length (and <= query when
                                 causal); heads concatenated; out_proj (d, d) + bias
    y1 = LN1(x + a)
    y2 = LN2(y1 + W2 act(W1 y1 + b1) + b2)      act: exact-erf GELU or ReLU; LayerNorm eps 1e-5, affine

Attention is computed with the key and value projections moved to the query
side, which is exact algebra, not an approximation: per head,

    q . k_j = (Wk^T q) . x_j + q . b_k    the second term is the same for every key and cancels in the softmax
    sum_j a_j v_j = Wv (sum_j a_j x_j) + b_v      because the a_j sum to 1

so a query costs O(d^2 + heads * keys * d) and no layer ever projects every
position to keys and values.  (The key bias therefore gets a zero gradient, as
it has in exact arithmetic in torch.)  The last layer is evaluated only at the
target rows because nothing else reaches the loss: with one masked position
per sequence it is one query per sequence.

Sequences are *packed*: the valid positions of a chunk of sequences sit one
after another in row-major buffers, so padding is never stored or computed and
cannot leak.  Each query row knows its own packed row ``qx``, the first row of
its sequence ``k0`` and how many keys it sees ``kn`` (the length, or the
position + 1 when causal).  A chunk holds as many sequences as fit a fixed
memory budget: forward over the chunk, one call of the output head, backward.

Products are written as row updates y[i, :] += x[i, c] * W^T[c, :] so the
inner loop runs over contiguous memory and vectorizes without fast-math (which
would make results depend on the machine); where W^T is needed the kernels read
a float64 copy of P with each layer's four matrices transposed, made once per call.
The updates index the arrays element by element instead of passing row slices to
helpers: at the paper-small width (d = 4) making a view per row cost ~5x the arithmetic.
"""
import math

import numpy as np
from numba import njit

from .head_kernels import embed, embed_backward, group_targets, head_loss_grad
from .layers_kernels import act, act_grad, layernorm_bwd, layernorm_fwd
from . import params
from .params import D_ACT, D_CAUSAL, D_D, D_FF, D_HEADS, D_LAYERS, N_COMMON, TRANSFORMER_LAYER
from tying.core import kernel_cache

IN_W, IN_B, OUT_W, OUT_B, LN1_G, LN1_B, FF_W1, FF_B1, FF_W2, FF_B2, LN2_G, LN2_B = range(12)
NB = len(TRANSFORMER_LAYER)
LN_EPS = 1e-5
CHUNK_FLOATS = 1 << 18  # activations kept per chunk (2 MB in float64)


@njit(cache=True)
def block(P, offs, layer, k):
    i = N_COMMON + layer * NB + k
    return P[offs[i] : offs[i + 1]]


@njit(cache=True)
def mat(P, offs, layer, k, rows, cols):
    return block(P, offs, layer, k).reshape(rows, cols)


@njit(cache=True)
def forward_weights(P, offs, dims):
    """float64 copy of P with in_w, out_w, ff_w1, ff_w2 of every layer stored transposed (in, out)."""
    d, F = dims[D_D], dims[D_FF]
    W = P.astype(np.float64)
    for l in range(dims[D_LAYERS]):
        for k, n_out, n_in in ((IN_W, 3 * d, d), (OUT_W, d, d), (FF_W1, F, d), (FF_W2, d, F)):
            src = mat(P, offs, l, k, n_out, n_in)
            dst = mat(W, offs, l, k, n_in, n_out)
            for o in range(n_out):
                for c in range(n_in):
                    dst[c, o] = src[o, c]
    return W


@njit(cache=True)
def layer_fwd(P, W, offs, dims, l, X, qx, k0, kn, nq, Q, U, A, XB, O, S, Y1, XH1, RS1, HP, HA, XH2, RS2, Y):
    """Layer l on packed input X: output Y (nq, d) at the query rows, keeping what backward needs
    (Q, U, attention probabilities A (nq, heads, keys), XB, head outputs O, LN1 output Y1, FF HP/HA, LN caches)."""
    d, H, F, kind = dims[D_D], dims[D_HEADS], dims[D_FF], dims[D_ACT]
    dh = d // H
    scale = 1.0 / math.sqrt(dh)
    WT, b_in = mat(W, offs, l, IN_W, d, 3 * d), block(W, offs, l, IN_B)
    Wk = mat(P, offs, l, IN_W, 3 * d, d)[d : 2 * d]
    WoT, bo = mat(W, offs, l, OUT_W, d, d), block(W, offs, l, OUT_B)
    W1T, b1 = mat(W, offs, l, FF_W1, d, F), block(W, offs, l, FF_B1)
    W2T, b2 = mat(W, offs, l, FF_W2, F, d), block(W, offs, l, FF_B2)
    # Every update below is y[.., o] += a * w[c, o] with c in the outer loop: the order of the sums of
    # every element is that of a row-by-row product, and indexing instead of slicing makes no views.
    for i in range(nq):
        t, j0, n = qx[i], k0[i], kn[i]
        for o in range(d):
            Q[i, o] = b_in[o]
        for c in range(d):
            a = X[t, c]
            for o in range(d):
                Q[i, o] += a * WT[c, o]
        for h in range(H):
            lo, hi = h * dh, (h + 1) * dh
            # scores q.k_j = u.x_j + q.b_k with u = Wk^T q; q.b_k is the same for every key and cancels
            for c in range(d):
                U[i, h, c] = 0.0
            for o in range(lo, hi):
                a = scale * Q[i, o]
                for c in range(d):
                    U[i, h, c] += a * Wk[o, c]
            m = -np.inf
            for j in range(n):
                s = 0.0
                for c in range(d):
                    s += U[i, h, c] * X[j0 + j, c]
                A[i, h, j] = s
                m = max(m, s)
            z = 0.0
            for j in range(n):
                A[i, h, j] = math.exp(A[i, h, j] - m)
                z += A[i, h, j]
            # sum_j a_j v_j = Wv xbar + b_v with xbar = sum_j a_j x_j, since the a_j sum to 1
            for c in range(d):
                XB[i, h, c] = 0.0
            for j in range(n):
                A[i, h, j] /= z
                a = A[i, h, j]
                for c in range(d):
                    XB[i, h, c] += a * X[j0 + j, c]
            for o in range(lo, hi):
                O[i, o] = b_in[2 * d + o]
            for c in range(d):
                a = XB[i, h, c]
                for o in range(lo, hi):
                    O[i, o] += a * WT[c, 2 * d + o]
        for o in range(d):  # residual + out_proj
            S[i, o] = X[t, o] + bo[o]
        for c in range(d):
            a = O[i, c]
            for o in range(d):
                S[i, o] += a * WoT[c, o]
    layernorm_fwd(S[:nq], block(W, offs, l, LN1_G), block(W, offs, l, LN1_B), LN_EPS, Y1[:nq], XH1[:nq], RS1[:nq])
    for i in range(nq):
        for f in range(F):
            HP[i, f] = b1[f]
        for c in range(d):
            a = Y1[i, c]
            for f in range(F):
                HP[i, f] += a * W1T[c, f]
        for f in range(F):
            HA[i, f] = act(HP[i, f], kind)
        for o in range(d):
            S[i, o] = Y1[i, o] + b2[o]
        for f in range(F):
            a = HA[i, f]
            for o in range(d):
                S[i, o] += a * W2T[f, o]
    layernorm_fwd(S[:nq], block(W, offs, l, LN2_G), block(W, offs, l, LN2_B), LN_EPS, Y[:nq], XH2[:nq], RS2[:nq])


@njit(cache=True)
def layer_bwd(P, W, G, offs, dims, l, X, npos, qx, k0, kn, nq, Q, U, A, XB, O, Y1, XH1, RS1, HP, HA, XH2, RS2,
              dY, dX, dS, dY1, dO, dq, du, dxb, dp, dh_ff):
    """Backward of layer_fwd: dY (nq, d) at the query rows -> dX (npos, d) and gradients added into G.
    The key bias gets no gradient: it cancels in the softmax.  Updates are indexed, as in layer_fwd."""
    d, H, F, kind = dims[D_D], dims[D_HEADS], dims[D_FF], dims[D_ACT]
    dh = d // H
    scale = 1.0 / math.sqrt(dh)
    Win, WT = mat(P, offs, l, IN_W, 3 * d, d), mat(W, offs, l, IN_W, d, 3 * d)
    gWin, gbin = mat(G, offs, l, IN_W, 3 * d, d), block(G, offs, l, IN_B)
    Wo, gWo, gbo = mat(P, offs, l, OUT_W, d, d), mat(G, offs, l, OUT_W, d, d), block(G, offs, l, OUT_B)
    W1, gW1, gb1 = mat(P, offs, l, FF_W1, F, d), mat(G, offs, l, FF_W1, F, d), block(G, offs, l, FF_B1)
    W2, gW2, gb2 = mat(P, offs, l, FF_W2, d, F), mat(G, offs, l, FF_W2, d, F), block(G, offs, l, FF_B2)
    # y2 = LN2(y1 + W2 act(W1 y1 + b1) + b2)
    layernorm_bwd(dY[:nq], XH2[:nq], RS2[:nq], block(P, offs, l, LN2_G), dS[:nq],
                  block(G, offs, l, LN2_G), block(G, offs, l, LN2_B))
    for i in range(nq):
        for o in range(d):
            dY1[i, o] = dS[i, o]
        for o in range(d):
            gb2[o] += 1.0 * dS[i, o]
        for f in range(F):
            dh_ff[f] = 0.0
        for o in range(d):
            a = dS[i, o]
            for f in range(F):
                dh_ff[f] += a * W2[o, f]
            for f in range(F):
                gW2[o, f] += a * HA[i, f]
        for f in range(F):
            g = dh_ff[f] * act_grad(HP[i, f], kind)
            gb1[f] += g
            for c in range(d):
                gW1[f, c] += g * Y1[i, c]
            for c in range(d):
                dY1[i, c] += g * W1[f, c]
    # y1 = LN1(x + Wo o + bo)
    layernorm_bwd(dY1[:nq], XH1[:nq], RS1[:nq], block(P, offs, l, LN1_G), dS[:nq],
                  block(G, offs, l, LN1_G), block(G, offs, l, LN1_B))
    for j in range(npos):
        for c in range(d):
            dX[j, c] = 0.0
    for i in range(nq):
        t, j0, n = qx[i], k0[i], kn[i]
        for c in range(d):
            dX[t, c] += 1.0 * dS[i, c]
        for c in range(d):
            gbo[c] += 1.0 * dS[i, c]
        for c in range(d):
            dO[c] = 0.0
        for o in range(d):
            a = dS[i, o]
            for c in range(d):
                gWo[o, c] += a * O[i, c]
            for c in range(d):
                dO[c] += a * Wo[o, c]
        for c in range(d):
            dq[c] = 0.0
        for h in range(H):
            lo, hi = h * dh, (h + 1) * dh
            # o_h = Wv_h xbar + b_v
            for c in range(d):
                dxb[c] = 0.0
            for o in range(2 * d + lo, 2 * d + hi):
                g = dO[o - 2 * d]
                gbin[o] += g
                for c in range(d):
                    gWin[o, c] += g * XB[i, h, c]
                for c in range(d):
                    dxb[c] += g * Win[o, c]
            # xbar = sum_j a_j x_j,  a = softmax_j(u . x_j)
            ad = 0.0  # sum_j a_j dL/da_j
            for j in range(n):
                s = 0.0
                for c in range(d):
                    s += dxb[c] * X[j0 + j, c]
                dp[j] = s
                ad += A[i, h, j] * dp[j]
                a = A[i, h, j]
                for c in range(d):
                    dX[j0 + j, c] += a * dxb[c]
            for c in range(d):
                du[c] = 0.0
            for j in range(n):
                g = A[i, h, j] * (dp[j] - ad)
                for c in range(d):
                    du[c] += g * X[j0 + j, c]
                for c in range(d):
                    dX[j0 + j, c] += g * U[i, h, c]
            # u = scale Wk_h^T q_h
            for o in range(lo, hi):
                a = scale * Q[i, o]
                for c in range(d):
                    gWin[d + o, c] += a * du[c]
            for c in range(d):
                a = scale * du[c]
                for o in range(lo, hi):
                    dq[o] += a * WT[c, d + o]
        # q = Wq x_t + b_q
        for o in range(d):
            gbin[o] += 1.0 * dq[o]
        for o in range(d):
            a = dq[o]
            for c in range(d):
                gWin[o, c] += a * X[t, c]
            for c in range(d):
                dX[t, c] += a * Win[o, c]


@njit(cache=True)
def run(P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos, tgt_sym, tgt_w, want_grad,
        want_loss, Hout, chunk_floats):
    """Driver of loss_grad and hidden.  Chunk by chunk (about chunk_floats of saved activations each):
    pack, forward, output head at the targets, backward."""
    B, T = tokens.shape
    d, nl, H, F = dims[D_D], dims[D_LAYERS], dims[D_HEADS], dims[D_FF]
    causal = dims[D_CAUSAL] != 0
    if nl < 1:
        raise ValueError("the transformer needs at least one layer")
    start, order = group_targets(B, tgt_seq)
    N = order.shape[0]
    pos = np.empty(N, np.int64)
    sym = np.empty_like(tgt_sym)
    w = np.empty_like(tgt_w)
    for k in range(N):
        pos[k], sym[k], w[k] = tgt_pos[order[k]], tgt_sym[order[k]], tgt_w[order[k]]
    # chunks of consecutive rows; rows without targets are skipped (they cannot affect the loss)
    per_seq = nl * T * ((6 + 2 * H) * d + H * T + 2 * F + 2)
    cap = max(1, chunk_floats // per_seq)
    bounds = np.empty(B + 1, np.int64)
    n_chunks, count, NP, NR, p, q = 0, 0, 1, 1, 0, 0
    bounds[0] = 0
    for b in range(B):
        if start[b + 1] > start[b]:
            count += 1
            p += lengths[b]
            q += start[b + 1] - start[b]
        if count == cap or b == B - 1:
            n_chunks += 1
            bounds[n_chunks] = b + 1
            NP, NR = max(NP, p), max(NR, p, q)
            count, p, q = 0, 0, 0
    W = forward_weights(P, offs, dims)
    Xs = np.zeros((nl, NP, d))  # Xs[l]: packed input of layer l
    Q, O, Y1 = np.empty((nl, NR, d)), np.empty((nl, NR, d)), np.empty((nl, NR, d))
    XH1, XH2 = np.empty((nl, NR, d)), np.empty((nl, NR, d))
    U, XB = np.empty((nl, NR, H, d)), np.empty((nl, NR, H, d))
    A = np.empty((nl, NR, H, T))
    RS1, RS2 = np.empty((nl, NR)), np.empty((nl, NR))
    HP, HA = np.empty((nl, NR, F)), np.empty((nl, NR, F))
    Hs, S, dS, dY1 = np.empty((NR, d)), np.empty((NR, d)), np.empty((NR, d)), np.empty((NR, d))
    dA, dB = np.empty((NR, d)), np.empty((NR, d))
    dO, dq, du, dxb = np.empty(d), np.empty(d), np.empty(d), np.empty(d)
    dp, dh_ff = np.empty(T), np.empty(F)
    qx, k0, kn = np.empty(NP, np.int64), np.empty(NP, np.int64), np.empty(NP, np.int64)  # every position
    tq, tk0, tkn = np.empty(NR, np.int64), np.empty(NR, np.int64), np.empty(NR, np.int64)  # the targets
    seq0 = np.empty(B, np.int64)
    loss = 0.0
    acc = 0.0
    for ch in range(n_chunks):
        b0, b1 = bounds[ch], bounds[ch + 1]
        npos = 0
        for b in range(b0, b1):
            if start[b + 1] == start[b]:
                continue
            L = lengths[b]
            if not 0 < L <= T:
                raise ValueError("row length outside 1..T")
            seq0[b] = npos
            embed(P, offs, dims, in_row, tokens[b], L, Xs[0][npos : npos + L])
            for t in range(L):
                qx[npos + t], k0[npos + t] = npos + t, npos
                kn[npos + t] = t + 1 if causal else L
            for k in range(start[b], start[b + 1]):
                if not 0 <= pos[k] < L:
                    raise ValueError("target position outside its sequence")
                i = k - start[b0]
                tq[i], tk0[i] = npos + pos[k], npos
                tkn[i] = pos[k] + 1 if causal else L
            npos += L
        a, e = start[b0], start[b1]
        nt = e - a
        if nt == 0:
            continue
        for l in range(nl):
            if l == nl - 1:  # the last layer: queries at the targets only
                rq, rk0, rkn, nq, Y = tq, tk0, tkn, nt, Hs
            else:
                rq, rk0, rkn, nq, Y = qx, k0, kn, npos, Xs[l + 1]
            layer_fwd(P, W, offs, dims, l, Xs[l], rq, rk0, rkn, nq, Q[l], U[l], A[l], XB[l], O[l], S, Y1[l],
                      XH1[l], RS1[l], HP[l], HA[l], XH2[l], RS2[l], Y)
        if not want_loss:
            for i in range(nt):
                Hout[order[a + i]] = Hs[i]
            continue
        lo, ac = head_loss_grad(Hs[:nt], P, G, offs, dims, out_row, sym[a:e], w[a:e], dA[:nt], want_grad)
        loss += lo
        acc += ac
        if not want_grad:
            continue
        for l in range(nl - 1, -1, -1):
            if l == nl - 1:
                rq, rk0, rkn, nq = tq, tk0, tkn, nt
            else:
                rq, rk0, rkn, nq = qx, k0, kn, npos
            layer_bwd(P, W, G, offs, dims, l, Xs[l], npos, rq, rk0, rkn, nq, Q[l], U[l], A[l], XB[l], O[l], Y1[l],
                      XH1[l], RS1[l], HP[l], HA[l], XH2[l], RS2[l], dA, dB, dS, dY1, dO, dq, du, dxb, dp, dh_ff)
            dA, dB = dB, dA
        for b in range(b0, b1):
            if start[b + 1] > start[b]:
                embed_backward(G, offs, dims, in_row, tokens[b], lengths[b], dA[seq0[b] : seq0[b] + lengths[b]])
    return loss, acc


@njit(cache=True)
def loss_grad(P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos, tgt_sym, tgt_w, want_grad):
    """Weighted loss and accuracy of one batch; adds the gradient into G when want_grad (the arch contract)."""
    return run(P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos, tgt_sym, tgt_w,
               want_grad, True, np.empty((0, dims[D_D])), CHUNK_FLOATS)


@njit(cache=True)
def hidden(P, offs, dims, in_row, tokens, lengths, tgt_seq, tgt_pos):
    """The representation h (N, d) that the output head sees at each target, in target order."""
    N = tgt_seq.shape[0]
    Hout = np.zeros((N, dims[D_D]))
    run(P, P, offs, dims, in_row, in_row, tokens, lengths, tgt_seq, tgt_pos, np.zeros(N, np.int32),
        np.zeros(N), False, False, Hout, CHUNK_FLOATS)
    return Hout


kernel_cache.stamp(globals(), compiled_in=(params,))
