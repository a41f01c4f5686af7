"""The paper's recurrent model: a multi-layer LSTM with torch ``nn.LSTM`` semantics, forward and BPTT by hand.

One cell (layer l, direction r) runs over the positions of one sequence with a
zero initial state; per step, with torch's gate order i, f, g, o stacked in
w_ih (4H, n_in) and w_hh (4H, H):

    a  = w_ih x_t + b_ih + w_hh h_prev + b_hh
    i, f, g, o = sigmoid(a_i), sigmoid(a_f), tanh(a_g), sigmoid(a_o)
    c_t = f * c_prev + i * g,    h_t = o * tanh(c_t)

Direction 0 runs positions 0 .. length-1, direction 1 (bidirectional models)
runs length-1 .. 0, so padding never enters either.  Layer l > 0 reads
[h_dir0, h_dir1] of layer l-1, as torch.  A Linear layer (proj_w, proj_b) maps
the last layer's output at a target position to the h that meets the shared
softmax head.

Sequences are processed one at a time (forward, head, backward), so the work
buffers are sized by T and stay in cache.  Only the steps that reach a target
run in the last layer: direction 0 up to the last target, direction 1 down to
the first one.  The forward pass reads the weights transposed (gate index
innermost) and the backward pass in torch's layout, so every inner loop is
contiguous and vectorizes; cell gradients accumulate in float64 and are added
into G once per call.
"""
import math

import numpy as np
from numba import njit

from .head_kernels import embed, embed_backward, group_targets, head_loss_grad
from . import params
from .params import D_D, D_DIRS, D_HIDDEN, D_LAYERS, N_COMMON
from tying.core import kernel_cache

W_IH, W_HH, B_IH, B_HH = range(4)


@njit(cache=True)
def sigmoid(x):
    # Branch-free and still safe: for x < -709 exp overflows to inf and 1 / inf = 0, never NaN.
    return 1.0 / (1.0 + math.exp(-x))


@njit(cache=True)
def tanh(x):
    # 2 sigmoid(2x) - 1: one exp, about three times cheaper than libm's tanh, which dominated the
    # forward pass; the absolute error stays at a few 1e-16 (saturates to +-1 without NaN).
    return 2.0 / (1.0 + math.exp(-2.0 * x)) - 1.0


@njit(cache=True)
def cell_block(offs, q, k):
    """Start of block k of cell q = layer * dirs + direction (params.blocks order)."""
    return offs[N_COMMON + 4 * q + k]


@njit(cache=True)
def n_inputs(dims, q):
    return dims[D_D] if q < dims[D_DIRS] else dims[D_HIDDEN] * dims[D_DIRS]


@njit(cache=True)
def load_cells(P, offs, dims, Wi, WiT, Wh, WhT, bias):
    """float64 copies of every cell's weights, in torch's layout and transposed; bias = b_ih + b_hh."""
    H = dims[D_HIDDEN]
    for q in range(dims[D_LAYERS] * dims[D_DIRS]):
        n = n_inputs(dims, q)
        wi, wh = cell_block(offs, q, W_IH), cell_block(offs, q, W_HH)
        bi, bh = cell_block(offs, q, B_IH), cell_block(offs, q, B_HH)
        for j in range(4 * H):
            bias[q, j] = P[bi + j] + P[bh + j]
            for c in range(n):
                Wi[q, j, c] = P[wi + j * n + c]
                WiT[q, c, j] = Wi[q, j, c]
            for k in range(H):
                Wh[q, j, k] = P[wh + j * H + k]
                WhT[q, k, j] = Wh[q, j, k]


@njit(cache=True)
def store_cell_grads(G, offs, dims, gWiT, gWhT, gb):
    H = dims[D_HIDDEN]
    for q in range(dims[D_LAYERS] * dims[D_DIRS]):
        n = n_inputs(dims, q)
        wi, wh = cell_block(offs, q, W_IH), cell_block(offs, q, W_HH)
        bi, bh = cell_block(offs, q, B_IH), cell_block(offs, q, B_HH)
        for j in range(4 * H):
            G[bi + j] += gb[q, j]
            G[bh + j] += gb[q, j]
            for c in range(n):
                G[wi + j * n + c] += gWiT[q, c, j]
            for k in range(H):
                G[wh + j * H + k] += gWhT[q, k, j]


@njit(cache=True)
def cell_fwd(X, n_in, WiT, WhT, bias, Y, col, A, C, TC, first, last, step):
    """Run the cell over positions first, first + step, ..., last; h_t goes to Y[t, col:col+H].

    Keeps the gate activations A (T, 4H), the cell states C and tanh(C) (T, H) for the backward pass."""
    H = C.shape[1]
    prev = -1
    t = first
    while True:
        for j in range(4 * H):
            A[t, j] = bias[j]
        for c in range(n_in):
            x = X[t, c]
            for j in range(4 * H):
                A[t, j] += WiT[c, j] * x
        if prev >= 0:
            for k in range(H):
                h = Y[prev, col + k]
                for j in range(4 * H):
                    A[t, j] += WhT[k, j] * h
        for k in range(H):
            i = sigmoid(A[t, k])
            f = sigmoid(A[t, H + k])
            g = tanh(A[t, 2 * H + k])
            o = sigmoid(A[t, 3 * H + k])
            A[t, k], A[t, H + k], A[t, 2 * H + k], A[t, 3 * H + k] = i, f, g, o
            c = i * g
            if prev >= 0:
                c += f * C[prev, k]
            C[t, k] = c
            TC[t, k] = tanh(c)
            Y[t, col + k] = o * TC[t, k]
        if t == last:
            return
        prev = t
        t += step


@njit(cache=True)
def cell_bwd(X, n_in, Wi, Wh, Y, col, A, C, TC, dY, dX, gWiT, gWhT, gb, first, last, step, dh, dc, da):
    """Backpropagation through time over the steps cell_fwd ran, latest first.

    dY[t, col:col+H] is the gradient reaching h_t from above; adds into dX[t, :n_in] and the cell's gradients."""
    H = C.shape[1]
    dh[:] = 0.0  # gradient reaching h_t through the next step's w_hh
    dc[:] = 0.0  # ... and c_t through the next step's f * c
    t = last
    while True:
        prev = t - step if t != first else -1
        for k in range(H):
            i, f, g, o = A[t, k], A[t, H + k], A[t, 2 * H + k], A[t, 3 * H + k]
            tc = TC[t, k]
            dht = dY[t, col + k] + dh[k]
            dct = dc[k] + dht * o * (1.0 - tc * tc)
            cp = C[prev, k] if prev >= 0 else 0.0
            da[k] = dct * g * i * (1.0 - i)
            da[H + k] = dct * cp * f * (1.0 - f)
            da[2 * H + k] = dct * i * (1.0 - g * g)
            da[3 * H + k] = dht * tc * o * (1.0 - o)
            dc[k] = dct * f
        for j in range(4 * H):
            gb[j] += da[j]
        for c in range(n_in):
            x = X[t, c]
            for j in range(4 * H):
                gWiT[c, j] += x * da[j]
        for j in range(4 * H):
            g = da[j]
            for c in range(n_in):
                dX[t, c] += Wi[j, c] * g
        if prev < 0:
            return
        for k in range(H):
            h = Y[prev, col + k]
            for j in range(4 * H):
                gWhT[k, j] += h * da[j]
        dh[:] = 0.0
        for j in range(4 * H):
            g = da[j]
            for k in range(H):
                dh[k] += Wh[j, k] * g
        t = prev


@njit(cache=True)
def span(L, lo, hi, r, last_layer):
    """(first, last, step) of the positions a cell runs over, for a row of length L whose targets lie in lo..hi.

    Direction 0 starts at 0, direction 1 at L - 1; in the last layer each stops at the farthest target,
    because later steps cannot reach the loss."""
    if r == 0:
        return 0, (hi if last_layer else L - 1), 1
    return L - 1, (lo if last_layer else 0), -1


@njit(cache=True)
def run(P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos, tgt_sym, tgt_w, want_grad,
        want_loss, Hout):
    """Shared driver of loss_grad and hidden: per sequence, forward, head at its targets, backward."""
    B, T = tokens.shape
    d, H, nl, dirs = dims[D_D], dims[D_HIDDEN], dims[D_LAYERS], dims[D_DIRS]
    if nl < 1:
        return np.nan, np.nan  # no recurrent layer: nothing to project; the config should refuse it
    nc, n = nl * dirs, H * dirs
    NI = max(d, n)
    Wi, Wh = np.empty((nc, 4 * H, NI)), np.empty((nc, 4 * H, H))
    WiT, WhT, bias = np.empty((nc, NI, 4 * H)), np.empty((nc, H, 4 * H)), np.empty((nc, 4 * H))
    load_cells(P, offs, dims, Wi, WiT, Wh, WhT, bias)
    gWiT, gWhT, gb = np.zeros((nc, NI, 4 * H)), np.zeros((nc, H, 4 * H)), np.zeros((nc, 4 * H))
    pw, pb = offs[N_COMMON + 4 * nc], offs[N_COMMON + 4 * nc + 1]  # proj_w (d, n), proj_b (d,)
    start, order = group_targets(B, tgt_seq)
    M = 1
    for b in range(B):
        M = max(M, start[b + 1] - start[b])
    Y = np.zeros((nl + 1, T, NI))  # Y[0]: embeddings; Y[l + 1]: output of layer l
    dY = np.zeros((nl + 1, T, NI))
    A, C, TC = np.empty((nc, T, 4 * H)), np.empty((nc, T, H)), np.empty((nc, T, H))
    Hs, dHs = np.empty((M, d)), np.zeros((M, d))
    sym, w = np.empty(M, np.int64), np.empty(M)
    dh, dc, da = np.empty(H), np.empty(H), np.empty(4 * H)
    loss = 0.0
    acc = 0.0
    for b in range(B):
        a, e = start[b], start[b + 1]
        if a == e:
            continue  # no targets: this sequence cannot affect the loss
        L = lengths[b]
        lo, hi = L, -1
        for m in range(a, e):
            p = tgt_pos[order[m]]
            if not 0 <= p < L:
                raise ValueError("target position outside its sequence")  # the runs below would leave the buffers
            lo, hi = min(lo, p), max(hi, p)
        embed(P, offs, dims, in_row, tokens[b], L, Y[0])
        for l in range(nl):
            last = l == nl - 1
            for r in range(dirs):
                q = l * dirs + r
                first, stop, step = span(L, lo, hi, r, last)
                cell_fwd(Y[l], n_inputs(dims, q), WiT[q], WhT[q], bias[q], Y[l + 1], r * H, A[q], C[q], TC[q],
                         first, stop, step)
        top = Y[nl]
        for m in range(e - a):
            p = tgt_pos[order[a + m]]
            for o in range(d):
                s = P[pb + o]
                for k in range(n):
                    s += P[pw + o * n + k] * top[p, k]
                Hs[m, o] = s
        if not want_loss:
            for m in range(e - a):
                Hout[order[a + m]] = Hs[m]
            continue
        for m in range(e - a):
            sym[m] = tgt_sym[order[a + m]]
            w[m] = tgt_w[order[a + m]]
        lb, ab = head_loss_grad(Hs[: e - a], P, G, offs, dims, out_row, sym[: e - a], w[: e - a], dHs, want_grad)
        loss += lb
        acc += ab
        if not want_grad:
            continue
        dtop = dY[nl]
        dtop[:L] = 0.0
        for m in range(e - a):
            p = tgt_pos[order[a + m]]
            for o in range(d):
                g = dHs[m, o]
                G[pb + o] += g
                for k in range(n):
                    G[pw + o * n + k] += g * top[p, k]
                    dtop[p, k] += g * P[pw + o * n + k]
        for l in range(nl - 1, -1, -1):
            last = l == nl - 1
            dY[l, :L] = 0.0
            for r in range(dirs):
                q = l * dirs + r
                first, stop, step = span(L, lo, hi, r, last)
                cell_bwd(Y[l], n_inputs(dims, q), Wi[q], Wh[q], Y[l + 1], r * H, A[q], C[q], TC[q], dY[l + 1],
                         dY[l], gWiT[q], gWhT[q], gb[q], first, stop, step, dh, dc, da)
        embed_backward(G, offs, dims, in_row, tokens[b], L, dY[0])
    if want_grad and want_loss:
        store_cell_grads(G, offs, dims, gWiT, gWhT, gb)
    return loss, acc


@njit(cache=True)
def loss_grad(P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos, tgt_sym, tgt_w, want_grad):
    """Weighted loss and accuracy of one batch; adds the gradient into G when want_grad (the arch contract)."""
    dummy = np.empty((0, dims[D_D]))
    return run(P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos, tgt_sym, tgt_w,
               want_grad, True, dummy)


@njit(cache=True)
def hidden(P, offs, dims, in_row, tokens, lengths, tgt_seq, tgt_pos):
    """The representation h (N, d) fed to the output head at each target, in target order."""
    Hout = np.zeros((tgt_seq.shape[0], dims[D_D]))
    sym = np.zeros(tgt_seq.shape[0], np.int32)
    w = np.zeros(tgt_seq.shape[0])
    run(P, P, offs, dims, in_row, in_row, tokens, lengths, tgt_seq, tgt_pos, sym, w, False, False, Hout)
    return Hout


kernel_cache.stamp(globals(), compiled_in=(params,))
