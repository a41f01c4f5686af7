"""The bilinear (CBOW) model: h is the mean of the context's input embeddings.

For MLM the context of a target at position p is every position j < length
except p (other masked positions count, holding the mask symbol); for the
causal task it is the prefix 0..p, since position p predicts the token at p+1.
An empty context (an MLM sequence of length 1) gives h = 0.  With no layers,
logits are bilinear in E_in and E_out, which keeps the model analytically
tractable.
"""
import numpy as np
from numba import njit

from .head_kernels import embed, embed_backward, head_loss_grad
from . import params
from .params import D_CAUSAL, D_D, D_T
from tying.core import kernel_cache


@njit(cache=True)
def context(L, p, causal, j):
    """Whether position j is in the context of a target at position p of a length-L sequence."""
    if causal:
        return j <= p
    return j < L and j != p


@njit(cache=True)
def hidden_into(P, offs, dims, in_row, tokens, lengths, tgt_seq, tgt_pos, X, Hs):
    d, causal = dims[D_D], dims[D_CAUSAL] != 0
    for n in range(tgt_seq.shape[0]):
        b, p = tgt_seq[n], tgt_pos[n]
        L = lengths[b]
        embed(P, offs, dims, in_row, tokens[b], L, X)
        count = 0
        for k in range(d):
            Hs[n, k] = 0.0
        for j in range(L):
            if context(L, p, causal, j):
                count += 1
                for k in range(d):
                    Hs[n, k] += X[j, k]
        if count > 0:
            for k in range(d):
                Hs[n, k] /= count


@njit(cache=True)
def hidden(P, offs, dims, in_row, tokens, lengths, tgt_seq, tgt_pos):
    """h (N, d) at each target."""
    Hs = np.empty((tgt_seq.shape[0], dims[D_D]))
    X = np.empty((dims[D_T], dims[D_D]))
    hidden_into(P, offs, dims, in_row, tokens, lengths, tgt_seq, tgt_pos, X, Hs)
    return Hs


@njit(cache=True)
def loss_grad(P, G, offs, dims, in_row, out_row, tokens, lengths, tgt_seq, tgt_pos, tgt_sym, tgt_w, want_grad):
    """Weighted loss and accuracy of one batch; adds the gradient into G when want_grad."""
    N, d, T = tgt_seq.shape[0], dims[D_D], dims[D_T]
    causal = dims[D_CAUSAL] != 0
    Hs = np.empty((N, d))
    dHs = np.zeros((N, d))
    X = np.empty((T, d))
    hidden_into(P, offs, dims, in_row, tokens, lengths, tgt_seq, tgt_pos, X, Hs)
    loss, acc = head_loss_grad(Hs, P, G, offs, dims, out_row, tgt_sym, tgt_w, dHs, want_grad)
    if want_grad:
        # every context position receives dh / |context|
        dX = np.zeros((T, d))
        for n in range(N):
            b, p = tgt_seq[n], tgt_pos[n]
            L = lengths[b]
            count = 0
            for j in range(L):
                if context(L, p, causal, j):
                    count += 1
            for j in range(L):
                c = 1.0 / count if context(L, p, causal, j) else 0.0
                for k in range(d):
                    dX[j, k] = c * dHs[n, k]
            embed_backward(G, offs, dims, in_row, tokens[b], L, dX)
    return loss, acc


kernel_cache.stamp(globals(), compiled_in=(params,))
