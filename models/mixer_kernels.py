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
"""
import numpy as np
from numba import njit

from .head_kernels import embed, embed_backward, head_loss_grad
from .layers_kernels import act, act_grad, layernorm_bwd, layernorm_fwd
from .params import D_ACT, D_CAUSAL, D_CFF, D_D, D_FF, D_LAYERS, D_T, MIXER_LAYER, N_COMMON

LN_EPS = 1e-5
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
def layer_fwd(X, lengths, causal, kind, W, y1, xh1, rs1, a, ha, y2, xh2, rs2, c, hc):
    """One layer in place on X (B*T, d) (row b*T + t is position t of sequence b); keeps what the
    backward pass needs.  Innermost loops run over the contiguous channel axis."""
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
            for k in range(d):
                X[r0 + t, k] += b2[t]
            for f in range(t + 1 if causal else tf):
                w = w2[t, f]
                for k in range(d):
                    X[r0 + t, k] += w * ha[h0 + f, k]
    layernorm_fwd(X, ln2_g, ln2_b, LN_EPS, y2, xh2, rs2)
    for b in range(lengths.shape[0]):
        for r in range(b * T, b * T + lengths[b]):  # channel MLP, one position at a time
            for j in range(cf):
                s = cb1[j]
                for k in range(d):
                    s += cw1[j, k] * y2[r, k]
                c[r, j] = s
                hc[r, j] = act(s, kind)
            for k in range(d):
                s = cb2[k]
                for j in range(cf):
                    s += cw2[k, j] * hc[r, j]
                X[r, k] += s


@njit(cache=True)
def layer_bwd(dX, lengths, causal, kind, W, GW, y1, xh1, rs1, a, ha, y2, xh2, rs2, c, hc, dy, dha, dhc):
    """Backward through one layer: dX (B*T, d) holds dLoss/d(output) and becomes dLoss/d(input).
    Padded rows of dX and dy are zero on entry and stay zero, so LayerNorm's backward adds nothing there."""
    ln1_g, ln1_b, w1, b1, w2, b2, ln2_g, ln2_b, cw1, cb1, cw2, cb2 = W
    g_ln1_g, g_ln1_b, g_w1, g_b1, g_w2, g_b2, g_ln2_g, g_ln2_b, g_cw1, g_cb1, g_cw2, g_cb2 = GW
    d, tf, T, cf = dX.shape[1], w1.shape[0], w1.shape[1], cw1.shape[0]
    # channel MLP: dX passes through the residual and into dy = dLoss/d LN2(x)
    for b in range(lengths.shape[0]):
        for r in range(b * T, b * T + lengths[b]):
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
    # token MLP
    for b in range(lengths.shape[0]):
        L, r0, h0 = lengths[b], b * T, b * tf
        for f in range(tf):
            for k in range(d):
                dha[h0 + f, k] = 0.0
        for t in range(L):
            for k in range(d):
                g_b2[t] += dX[r0 + t, k]
            for f in range(t + 1 if causal else tf):
                s = 0.0
                w = w2[t, f]
                for k in range(d):
                    s += dX[r0 + t, k] * ha[h0 + f, k]
                    dha[h0 + f, k] += w * dX[r0 + t, k]
                g_w2[t, f] += s
        for t in range(L):
            for k in range(d):
                dy[r0 + t, k] = 0.0
        for f in range(tf):
            for k in range(d):  # dha becomes dLoss/da
                dha[h0 + f, k] *= act_grad(a[h0 + f, k], kind)
                g_b1[f] += dha[h0 + f, k]
            for t in range(min(L, f + 1) if causal else L):
                s = 0.0
                w = w1[f, t]
                for k in range(d):
                    s += dha[h0 + f, k] * y1[r0 + t, k]
                    dy[r0 + t, k] += w * dha[h0 + f, k]
                g_w1[f, t] += s
    layernorm_bwd(dy, xh1, rs1, ln1_g, dy, g_ln1_g, g_ln1_b)
    dX += dy


@njit(cache=True)
def buffers(B, dims):
    """X (B*T, d) and, per layer, what the backward pass needs."""
    n, T, d, tf, cf = dims[D_LAYERS], dims[D_T], dims[D_D], dims[D_FF], dims[D_CFF]
    R = B * T
    return (np.empty((R, d)), np.empty((n, R, d)), np.empty((n, R, d)), np.empty((n, R)),
            np.empty((n, B * tf, d)), np.empty((n, B * tf, d)), np.empty((n, R, d)), np.empty((n, R, d)),
            np.empty((n, R)), np.empty((n, R, cf)), np.empty((n, R, cf)))


@njit(cache=True)
def forward(P, offs, dims, in_row, tokens, lengths, X, Y1, XH1, RS1, A, HA, Y2, XH2, RS2, C, HC):
    """All B sequences through every layer; X ends as the last layer's output."""
    causal, kind, T, d = dims[D_CAUSAL] != 0, dims[D_ACT], dims[D_T], dims[D_D]
    X3 = X.reshape(tokens.shape[0], T, d)
    for b in range(tokens.shape[0]):
        embed(P, offs, dims, in_row, tokens[b], lengths[b], X3[b])
    for i in range(dims[D_LAYERS]):
        layer_fwd(X, lengths, causal, kind, layer_views(P, offs, dims, i), Y1[i], XH1[i], RS1[i], A[i], HA[i],
                  Y2[i], XH2[i], RS2[i], C[i], HC[i])


@njit(cache=True)
def hidden(P, offs, dims, in_row, tokens, lengths, tgt_seq, tgt_pos):
    """h (N, d) at each target."""
    X, Y1, XH1, RS1, A, HA, Y2, XH2, RS2, C, HC = buffers(tokens.shape[0], dims)
    forward(P, offs, dims, in_row, tokens, lengths, X, Y1, XH1, RS1, A, HA, Y2, XH2, RS2, C, HC)
    Hs = np.empty((tgt_seq.shape[0], dims[D_D]))
    for n in range(tgt_seq.shape[0]):
        Hs[n] = X[tgt_seq[n] * dims[D_T] + tgt_pos[n]]
    return Hs


@njit(cache=True)
def loss_grad(P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos, tgt_sym, tgt_w, want_grad):
    B, N = tokens.shape[0], tgt_seq.shape[0]
    T, d, tf, cf = dims[D_T], dims[D_D], dims[D_FF], dims[D_CFF]
    causal, kind = dims[D_CAUSAL] != 0, dims[D_ACT]
    X, Y1, XH1, RS1, A, HA, Y2, XH2, RS2, C, HC = buffers(B, dims)
    forward(P, offs, dims, in_row, tokens, lengths, X, Y1, XH1, RS1, A, HA, Y2, XH2, RS2, C, HC)
    Hs = np.empty((N, d))
    for n in range(N):
        Hs[n] = X[tgt_seq[n] * T + tgt_pos[n]]
    dHs = np.zeros((N, d))
    loss, acc = head_loss_grad(Hs, P, G, offs, dims, out_row, tgt_sym, tgt_w, dHs, want_grad)
    if not want_grad:
        return loss, acc
    dX = X  # the forward outputs are no longer needed; reuse them for dLoss/dx
    dX[:] = 0.0
    for n in range(N):
        dX[tgt_seq[n] * T + tgt_pos[n]] += dHs[n]
    dy, dha, dhc = np.zeros((B * T, d)), np.empty((B * tf, d)), np.empty((B * T, cf))
    for i in range(dims[D_LAYERS] - 1, -1, -1):
        layer_bwd(dX, lengths, causal, kind, layer_views(P, offs, dims, i), layer_views(G, offs, dims, i),
                  Y1[i], XH1[i], RS1[i], A[i], HA[i], Y2[i], XH2[i], RS2[i], C[i], HC[i], dy, dha, dhc)
    dX3 = dX.reshape(B, T, d)
    for b in range(B):
        embed_backward(G, offs, dims, in_row, tokens[b], lengths[b], dX3[b])
    return loss, acc
