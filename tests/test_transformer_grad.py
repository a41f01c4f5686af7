"""The transformer kernel against finite differences and an independent NumPy forward.

Gradient check criterion: kernel_contract.check_gradient.  The contract shared with the
other architectures (tying, padding, target order, float32, Stream batches) is in
test_kernel_contract.py.
"""
import itertools
import math

import numpy as np
import pytest

import kernel_contract as kc
from kernel_contract import check_gradient, kernel, make_params
from tying.models import params, transformer_kernels as tk

V, T = kc.V, kc.T
ERF = np.vectorize(math.erf)


def make_cfg(objective="mlm", tied=False, bias=False, merge=False, layers=2, heads=2, act="gelu",
             positional=True, d=4, ff=3, dtype="float64"):
    return kc.make_cfg("transformer", objective, tied, bias, [(1, 3)] if merge else [], positional, dtype, d=d,
                       layers=layers, heads=heads, ff=ff, activation=act)


def make_batch(objective, seed=0, B=6, padded=True):
    """Random rows with lengths 2..T (all T unless padded): see kernel_contract.make_batch."""
    return kc.make_batch(objective, seed, B, lengths=None if padded else np.full(B, T))


# ---------------------------------------------------------------- NumPy reference
def layernorm(x, g, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * g + b


def reference_hidden(cfg, P, tokens, lengths, tgt_seq, tgt_pos):
    """Every position of every row, torch-style: a boolean attention mask, -inf scores, full layers."""
    W = params.views(cfg, P.astype(np.float64))
    in_row, _, _ = params.sharing_map(cfg)
    B, d, H = tokens.shape[0], cfg.d, cfg.heads
    x = W["emb"][in_row[tokens]]
    if cfg.positional:
        x = x + W["pos"][None, :T]
    idx = np.arange(T)
    allowed = idx[None, None, :] < lengths[:, None, None]  # (B, query, key): key padding
    if cfg.objective == "causal":
        allowed = allowed & (idx[None, None, :] <= idx[None, :, None])
    for i in range(cfg.layers):
        p = lambda n: W[f"layer{i}.{n}"]
        q, k, v = np.split(x @ p("in_w").T + p("in_b"), 3, axis=-1)
        heads = lambda a: a.reshape(B, T, H, d // H).transpose(0, 2, 1, 3)
        s = heads(q) @ heads(k).transpose(0, 1, 3, 2) / np.sqrt(d // H)
        s = np.where(allowed[:, None], s, -np.inf)
        a = np.exp(s - s.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        o = (a @ heads(v)).transpose(0, 2, 1, 3).reshape(B, T, d)
        x = layernorm(x + o @ p("out_w").T + p("out_b"), p("ln1_g"), p("ln1_b"))
        u = x @ p("ff_w1").T + p("ff_b1")
        u = np.maximum(u, 0.0) if cfg.activation == "relu" else 0.5 * u * (1.0 + ERF(u / np.sqrt(2.0)))
        x = layernorm(x + u @ p("ff_w2").T + p("ff_b2"), p("ln2_g"), p("ln2_b"))
    return x[tgt_seq, tgt_pos]


def reference_loss(cfg, P, tokens, lengths, tgt_seq, tgt_pos, tgt_sym, tgt_w):
    H = reference_hidden(cfg, P, tokens, lengths, tgt_seq, tgt_pos)
    return kc.reference_loss_from_hidden(cfg, P, H, tgt_sym, tgt_w)


# ---------------------------------------------------------------- finite differences
SHARING = list(itertools.product(["mlm", "causal"], [False, True], [False, True], [False, True]))


@pytest.mark.parametrize("objective,tied,bias,merge", SHARING)
def test_gradient_sharing(objective, tied, bias, merge):
    cfg = make_cfg(objective, tied, bias, merge)
    check_gradient(cfg, make_params(cfg, 1), make_batch(objective, 2))


SHAPES = list(itertools.product([1, 2], [1, 2], ["gelu", "relu"], ["mlm", "causal"]))


@pytest.mark.parametrize("layers,heads,act,objective", SHAPES)
def test_gradient_shapes(layers, heads, act, objective):
    k = SHAPES.index((layers, heads, act, objective))
    cfg = make_cfg(objective, tied=k % 2 == 1, bias=k % 3 == 0, merge=k % 4 == 0, layers=layers, heads=heads,
                   act=act, positional=k % 2 == 0)
    check_gradient(cfg, make_params(cfg, k), make_batch(objective, k, padded=k % 3 != 1))


def test_gradient_wide():
    cfg = make_cfg("causal", layers=1, heads=4, d=8, ff=7)
    check_gradient(cfg, make_params(cfg, 3), make_batch(cfg.objective, 4))


@pytest.mark.parametrize("objective", ["mlm", "causal"])
@pytest.mark.parametrize("layers,heads,act", [(1, 1, "gelu"), (2, 2, "relu"), (3, 2, "gelu")])
def test_matches_numpy_reference(objective, layers, heads, act):
    cfg = make_cfg(objective, tied=layers % 2 == 1, bias=True, merge=True, layers=layers, heads=heads, act=act)
    P = make_params(cfg, layers)
    batch = make_batch(objective, layers + 10)
    loss, acc, _ = kernel(cfg, P, batch, False)
    ref_loss, ref_acc = reference_loss(cfg, P, *batch)
    assert abs(loss - ref_loss) <= 1e-12 * max(1.0, abs(ref_loss))
    assert abs(acc - ref_acc) <= 1e-12
    _, _, _, offs, dims, _ = params.layout(cfg)
    in_row, _, _ = params.sharing_map(cfg)
    H = tk.hidden(P, offs, dims, in_row, *batch[:4])
    assert np.abs(H - reference_hidden(cfg, P, *batch[:4])).max() <= 1e-12


def test_chunking_does_not_change_the_result():
    """One sequence per chunk (many head calls, buffers reused) against the default single chunk."""
    for objective in ("mlm", "causal"):
        cfg = make_cfg(objective, bias=True)
        in_row, out_row, _, offs, dims, _ = params.layout(cfg)
        P = make_params(cfg, 17)
        batch = make_batch(objective, 18, B=9)
        loss, acc, G = kernel(cfg, P, batch)
        G1 = np.zeros_like(P)
        loss1, acc1 = tk.run(P, G1, offs, dims, in_row, out_row, *batch, True, True, np.empty((0, cfg.d)), 1)
        assert abs(loss - loss1) <= 1e-14 and abs(acc - acc1) <= 1e-14
        np.testing.assert_allclose(G1, G, rtol=1e-12, atol=1e-15)


def test_key_bias_cancels_in_the_softmax():
    """q . (k_j + b) shifts every score of a query equally: the reference loss ignores b_k, and its gradient is 0."""
    cfg = make_cfg("causal", layers=2, heads=2)
    P = make_params(cfg, 19)
    batch = make_batch("causal", 20)
    W = params.views(cfg, P)
    _, _, G = kernel(cfg, P, batch)
    before = reference_loss(cfg, P, *batch)[0]
    for i in range(cfg.layers):
        W[f"layer{i}.in_b"][cfg.d : 2 * cfg.d] += 1.5
        assert not np.any(params.views(cfg, G)[f"layer{i}.in_b"][cfg.d : 2 * cfg.d])
    assert abs(reference_loss(cfg, P, *batch)[0] - before) <= 1e-12
