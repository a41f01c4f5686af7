"""The paper's MLP-Mixer, forward and backward by hand.

Each layer:  x = x + TokenMLP(LN1(x)^T)^T;  x = x + ChannelMLP(LN2(x)),
with MLP = Linear -> activation -> Linear (biases on), LayerNorm eps 1e-5 with
an affine part; no final LayerNorm.  The hidden state h of a target at
position p is x[p] after the last layer.

Padding.  Token mixing runs over the fixed length T = dims[D_T].  Rows
t >= length are padding: the token MLP reads and writes only the real rows
(as if LN1's output were zero on padded rows and their outputs discarded),
and the channel MLP skips padded rows, so they stay zero throughout.  A
length-L sequence therefore gives exactly what the same model truncated to
its first L token-mixing columns (tok_w1[:, :L], tok_w2[:L], tok_b2[:L])
gives, and padded tokens influence nothing.

Causal.  The token MLP must not look ahead: with token_ff == T, hidden unit f
reads inputs t' <= f and output t reads hidden units f <= t (tok_w1 and tok_w2
are used lower-triangular; entries above the diagonal are ignored and get zero
gradient).  Everything else acts on one position at a time.

Work.  Sequences go through in chunks small enough for their activations to
stay in cache (forward, head, backward per chunk); within a chunk, row b*T + t
holds position t of sequence b.  The last layer computes outputs only at the
target rows, the only ones the head reads.
"""
import numpy as np
from numba import njit

from .head_kernels import embed, embed_backward, group_targets, head_loss_grad
from .layers_kernels import act, act_grad, layernorm_bwd, layernorm_fwd
from . import params
from .params import D_ACT, D_CAUSAL, D_CFF, D_D, D_FF, D_LAYERS, D_T, MIXER_LAYER, N_COMMON
from tying.core import kernel_cache

LN_EPS = 1e-5
CHUNK_FLOATS = 1 << 15  # ~256 KB of cached activations per chunk of sequences
N_LAYER = len(MIXER_LAYER)


@njit(cache=True)
def layer_views(A, offs, dims, i):
    """The 12 blocks of layer i of P (or of G) in MIXER_LAYER order, shaped."""
    d, T, tf, cf = dims[D_D], dims[D_T], dims[D_FF], dims[D_CFF]
    o = N_COMMON + i * N_LAYER
    return (A[offs[o] : offs[o + 1]], A[offs[o + 1] : offs[o + 2]],
            A[offs[o + 2] : offs[o + 3]].reshape(tf, T), A[offs[o + 3] : offs[o + 4]],
            A[offs[o + 4] : offs[o + 5]].reshape(T, tf), A[offs[o + 5] : offs[o + 6]],
            A[offs[o + 6] : offs[o + 7]], A[offs[o + 7] : offs[o + 8]],
            A[offs[o + 8] : offs[o + 9]].reshape(cf, d), A[offs[o + 9] : offs[o + 10]],
            A[offs[o + 10] : offs[o + 11]].reshape(d, cf), A[offs[o + 11] : offs[o + 12]])


@njit(cache=True)
def layer_fwd(X, lengths, need, causal, kind, W, y1, xh1, rs1, a, ha, y2, xh2, rs2, c, hc):
    """One layer in place on X (B*T, d) (row b*T + t is position t of sequence b); keeps what the
    backward pass needs.  Only rows with need[r] get an output (the last layer: the targets' rows);
    the token MLP reads every real row.  Innermost loops run over the contiguous channel axis."""
    ln1_g, ln1_b, w1, b1, w2, b2, ln2_g, ln2_b, cw1, cb1, cw2, cb2 = W
    d, tf, T, cf = X.shape[1], w1.shape[0], w1.shape[1], cw1.shape[0]
    layernorm_fwd(X, ln1_g, ln1_b, LN_EPS, y1, xh1, rs1)  # padded rows too: cheap, and never read
    for b in range(lengths.shape[0]):
        L, r0, h0 = lengths[b], b * T, b * tf
        for f in range(tf):  # token MLP: a[f] = b1[f] + sum_t w1[f, t] y1[t], for every channel at once
            for k in range(d):
                a[h0 + f, k] = b1[f]
            for t in range(min(L, f + 1) if causal else L):
                w = w1[f, t]
                for k in range(d):
                    a[h0 + f, k] += w * y1[r0 + t, k]
            for k in range(d):
                ha[h0 + f, k] = act(a[h0 + f, k], kind)
        for t in range(L):
            if not need[r0 + t]:
                continue
            for k in range(d):
                X[r0 + t, k] += b2[t]
            for f in range(t + 1 if causal else tf):
                w = w2[t, f]
                for k in range(d):
                    X[r0 + t, k] += w * ha[h0 + f, k]
    layernorm_fwd(X, ln2_g, ln2_b, LN_EPS, y2, xh2, rs2)
    cw1T, cw2T = np.ascontiguousarray(cw1.T), np.ascontiguousarray(cw2.T)  # so inner loops are contiguous
    for b in range(lengths.shape[0]):
        for r in range(b * T, b * T + lengths[b]):  # channel MLP, one position at a time
            if not need[r]:
                continue
            for j in range(cf):
                c[r, j] = cb1[j]
            for k in range(d):
                v = y2[r, k]
                for j in range(cf):
                    c[r, j] += v * cw1T[k, j]
            for j in range(cf):
                hc[r, j] = act(c[r, j], kind)
            for k in range(d):
                X[r, k] += cb2[k]
            for j in range(cf):
                v = hc[r, j]
                for k in range(d):
                    X[r, k] += v * cw2T[j, k]


@njit(cache=True)
def layer_bwd(dX, lengths, need, causal, kind, W, GW, y1, xh1, rs1, a, ha, y2, xh2, rs2, c, hc, dy, dha, dhc,
              haT, y1T):
    """Backward through one layer: dX (B*T, d) holds dLoss/d(output) and becomes dLoss/d(input).
    Rows without need[r] (padding, and in the last layer the non-target rows) have zero dX and dy on
    entry and keep zero dy, so LayerNorm's backward adds nothing there."""
    ln1_g, ln1_b, w1, b1, w2, b2, ln2_g, ln2_b, cw1, cb1, cw2, cb2 = W
    g_ln1_g, g_ln1_b, g_w1, g_b1, g_w2, g_b2, g_ln2_g, g_ln2_b, g_cw1, g_cb1, g_cw2, g_cb2 = GW
    d, tf, T, cf = dX.shape[1], w1.shape[0], w1.shape[1], cw1.shape[0]
    # channel MLP: dX passes through the residual and into dy = dLoss/d LN2(x)
    for b in range(lengths.shape[0]):
        for r in range(b * T, b * T + lengths[b]):
            if not need[r]:
                continue
            for j in range(cf):
                dhc[r, j] = 0.0
            for k in range(d):
                g = dX[r, k]
                g_cb2[k] += g
                for j in range(cf):
                    dhc[r, j] += g * cw2[k, j]
                    g_cw2[k, j] += g * hc[r, j]
            for k in range(d):
                dy[r, k] = 0.0
            for j in range(cf):
                g = dhc[r, j] * act_grad(c[r, j], kind)
                g_cb1[j] += g
                for k in range(d):
                    dy[r, k] += g * cw1[j, k]
                    g_cw1[j, k] += g * y2[r, k]
    layernorm_bwd(dy, xh2, rs2, ln2_g, dy, g_ln2_g, g_ln2_b)
    dX += dy
    # token MLP; haT (d, tf) and y1T (d, T) hold this sequence's activations transposed, so that
    # the weight gradients, too, accumulate along contiguous rows
    for b in range(lengths.shape[0]):
        L, r0, h0 = lengths[b], b * T, b * tf
        for f in range(tf):
            for k in range(d):
                dha[h0 + f, k] = 0.0
                haT[k, f] = ha[h0 + f, k]
        for t in range(L):
            if not need[r0 + t]:
                continue
            n_hid = t + 1 if causal else tf
            for k in range(d):
                g = dX[r0 + t, k]
                g_b2[t] += g
                for f in range(n_hid):
                    g_w2[t, f] += g * haT[k, f]
            for f in range(n_hid):
                w = w2[t, f]
                for k in range(d):
                    dha[h0 + f, k] += w * dX[r0 + t, k]
        for t in range(L):
            for k in range(d):
                dy[r0 + t, k] = 0.0
                y1T[k, t] = y1[r0 + t, k]
        for f in range(tf):
            n_in = min(L, f + 1) if causal else L
            for k in range(d):  # dha becomes dLoss/da
                g = dha[h0 + f, k] * act_grad(a[h0 + f, k], kind)
                dha[h0 + f, k] = g
                g_b1[f] += g
                for t in range(n_in):
                    g_w1[f, t] += g * y1T[k, t]
            for t in range(n_in):
                w = w1[f, t]
                for k in range(d):
                    dy[r0 + t, k] += w * dha[h0 + f, k]
    layernorm_bwd(dy, xh1, rs1, ln1_g, dy, g_ln1_g, g_ln1_b)
    dX += dy


@njit(cache=True)
def chunk_rows(B, dims):
    """How many sequences go through the layers together: as many as keep their cached
    activations within CHUNK_FLOATS, so that the backward pass finds them in cache."""
    n, T, d, tf, cf = dims[D_LAYERS], dims[D_T], dims[D_D], dims[D_FF], dims[D_CFF]
    per_row = T * d + n * (T * (5 * d + 2 + 2 * cf) + 2 * tf * d)
    return max(1, min(B, CHUNK_FLOATS // per_row))


@njit(cache=True)
def buffers(nb, dims):
    """Activations of nb sequences: X (nb*T, d) and, per layer, what the backward pass needs;
    then the backward pass's scratch."""
    n, T, d, tf, cf = dims[D_LAYERS], dims[D_T], dims[D_D], dims[D_FF], dims[D_CFF]
    R, H = nb * T, nb * tf
    cache = (np.empty((R, d)), np.empty((n, R, d)), np.empty((n, R, d)), np.empty((n, R)),
             np.empty((n, H, d)), np.empty((n, H, d)), np.empty((n, R, d)), np.empty((n, R, d)),
             np.empty((n, R)), np.empty((n, R, cf)), np.empty((n, R, cf)))
    work = (np.empty((R, d)), np.empty((H, d)), np.empty((R, cf)), np.empty((d, tf)), np.empty((d, T)))
    return cache, work


@njit(cache=True)
def row_masks(lengths, T, seq, pos):
    """(real, tgt): which rows b*T + t are inside their sequence, and which hold a target."""
    real = np.zeros(lengths.shape[0] * T, np.bool_)
    tgt = np.zeros(lengths.shape[0] * T, np.bool_)
    for b in range(lengths.shape[0]):
        real[b * T : b * T + lengths[b]] = True
    for j in range(seq.shape[0]):
        tgt[seq[j] * T + pos[j]] = True
    return real, tgt


@njit(cache=True)
def forward(P, offs, dims, in_row, tokens, lengths, real, tgt, cache):
    """One chunk of sequences through every layer; returns X (rows*T, d), the last layer's output at the
    target rows.  Every array used is cut from the chunk buffers to this chunk's rows."""
    causal, kind, T, n = dims[D_CAUSAL] != 0, dims[D_ACT], dims[D_T], dims[D_LAYERS]
    X, Y1, XH1, RS1, A, HA, Y2, XH2, RS2, C, HC = cache
    R, H = tokens.shape[0] * T, tokens.shape[0] * dims[D_FF]
    X = X[:R]
    for b in range(tokens.shape[0]):
        embed(P, offs, dims, in_row, tokens[b], lengths[b], X[b * T : (b + 1) * T])
    for i in range(n):
        layer_fwd(X, lengths, tgt if i == n - 1 else real, causal, kind, layer_views(P, offs, dims, i),
                  Y1[i, :R], XH1[i, :R], RS1[i, :R], A[i, :H], HA[i, :H], Y2[i, :R], XH2[i, :R], RS2[i, :R],
                  C[i, :R], HC[i, :R])
    return X


@njit(cache=True)
def backward(P, G, offs, dims, in_row, tokens, lengths, real, tgt, cache, work, dX):
    """dX (rows*T, d): dLoss/d(last layer's output) of one chunk, back into G."""
    causal, kind, T, n = dims[D_CAUSAL] != 0, dims[D_ACT], dims[D_T], dims[D_LAYERS]
    _, Y1, XH1, RS1, A, HA, Y2, XH2, RS2, C, HC = cache
    dy, dha, dhc, haT, y1T = work
    R, H = tokens.shape[0] * T, tokens.shape[0] * dims[D_FF]
    dy = dy[:R]
    dy[:] = 0.0  # rows a layer does not need must hold zero (see layer_bwd)
    for i in range(n - 1, -1, -1):
        layer_bwd(dX, lengths, tgt if i == n - 1 else real, causal, kind, layer_views(P, offs, dims, i),
                  layer_views(G, offs, dims, i), Y1[i, :R], XH1[i, :R], RS1[i, :R], A[i, :H], HA[i, :H],
                  Y2[i, :R], XH2[i, :R], RS2[i, :R], C[i, :R], HC[i, :R], dy, dha[:H], dhc[:R], haT, y1T)
    for b in range(tokens.shape[0]):
        embed_backward(G, offs, dims, in_row, tokens[b], lengths[b], dX[b * T : (b + 1) * T])


@njit(cache=True)
def hidden(P, offs, dims, in_row, tokens, lengths, tgt_seq, tgt_pos):
    """h (N, d) at each target."""
    B, T = tokens.shape[0], dims[D_T]
    start, order = group_targets(B, tgt_seq)
    nb = chunk_rows(B, dims)
    cache, _ = buffers(nb, dims)
    Hs = np.empty((tgt_seq.shape[0], dims[D_D]))
    for b0 in range(0, B, nb):
        b1 = min(B, b0 + nb)
        idx = order[start[b0] : start[b1]]
        seq, pos = tgt_seq[idx] - b0, tgt_pos[idx]
        real, tgt = row_masks(lengths[b0:b1], T, seq, pos)
        X = forward(P, offs, dims, in_row, tokens[b0:b1], lengths[b0:b1], real, tgt, cache)
        for j in range(idx.shape[0]):
            Hs[idx[j]] = X[seq[j] * T + pos[j]]
    return Hs


@njit(cache=True)
def loss_grad(P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos, tgt_sym, tgt_w, want_grad):
    """The batch in chunks of rows (each chunk: forward, head on its targets, backward)."""
    B, T, d = tokens.shape[0], dims[D_T], dims[D_D]
    start, order = group_targets(B, tgt_seq)
    nb = chunk_rows(B, dims)
    cache, work = buffers(nb, dims)
    loss, acc = 0.0, 0.0
    for b0 in range(0, B, nb):
        b1 = min(B, b0 + nb)
        idx = order[start[b0] : start[b1]]
        if idx.shape[0] == 0:
            continue
        seq, pos, N = tgt_seq[idx] - b0, tgt_pos[idx], idx.shape[0]
        real, tgt = row_masks(lengths[b0:b1], T, seq, pos)
        X = forward(P, offs, dims, in_row, tokens[b0:b1], lengths[b0:b1], real, tgt, cache)
        Hs, dHs = np.empty((N, d)), np.zeros((N, d))
        for j in range(N):
            Hs[j] = X[seq[j] * T + pos[j]]
        l, a = head_loss_grad(Hs, P, G, offs, dims, out_row, tgt_sym[idx], tgt_w[idx], dHs, want_grad)
        loss += l
        acc += a
        if want_grad:
            dX = X  # the forward outputs are no longer needed; reuse them for dLoss/dx
            dX[:] = 0.0
            for j in range(N):
                dX[seq[j] * T + pos[j]] += dHs[j]
            backward(P, G, offs, dims, in_row, tokens[b0:b1], lengths[b0:b1], real, tgt, cache, work, dX)
    return loss, acc


kernel_cache.stamp(globals(), compiled_in=(params,))
