"""The transformer kernel against finite differences and an independent NumPy forward.

Gradient check criterion: float64 central differences with step 1e-5 over every
parameter; the norm-wise relative error ||g - fd|| / ||g + fd|| must be <= 1e-6,
and every entry must satisfy |g - fd| <= 1e-6 * max(|fd|, 1e-2 * max|fd|) (a
per-entry relative error floored at 1% of the largest entry, so entries that
are zero up to rounding do not dominate).
"""
import itertools
import math

import numpy as np
import pytest

from generators.corpus import Corpus, Realization
from generators.examples import Stream
from models import params
from models.config import ModelConfig
from models import transformer_kernels as tk

V, T = 6, 5  # symbol V - 1 is the mask
MASK = V - 1
ERF = np.vectorize(math.erf)


def make_cfg(objective="mlm", tied=False, bias=False, merge=False, layers=2, heads=2, act="gelu",
             positional=True, d=4, ff=3, dtype="float64"):
    return ModelConfig(arch="transformer", tied=tied, output_bias=bias, merge_out=[(1, 3)] if merge else [],
                       positional=positional, d=d, layers=layers, heads=heads, ff=ff, activation=act,
                       dtype=dtype).fit(V, T, objective)


def make_params(cfg, seed=0):
    """torch init, then every block (LayerNorm, biases, output bias) moved off its special value."""
    P = params.init_params(cfg, seed).astype(np.float64)
    P += 0.3 * np.random.default_rng(seed + 100).standard_normal(P.size)
    return P.astype(cfg.dtype)


def make_batch(objective, seed=0, B=6, padded=True):
    """Random rows with lengths 2..T, garbage beyond the length, several targets per row in shuffled order."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, V - 1, (B, T)).astype(np.int32)
    lengths = (rng.integers(2, T + 1, B) if padded else np.full(B, T)).astype(np.int32)
    seq, pos, sym = [], [], []
    for b in range(B - 1):  # the last row gets no target: it must not matter
        L = lengths[b]
        if objective == "causal":
            ts = range(L - 1)
        else:
            ts = rng.choice(L, size=rng.integers(1, L + 1), replace=False)
        for t in ts:
            seq.append(b)
            pos.append(t)
            sym.append(tokens[b, t + 1] if objective == "causal" else tokens[b, t])
    if objective == "mlm":
        tokens[seq, pos] = MASK
        seq.append(seq[0]), pos.append(pos[0]), sym.append((sym[0] + 1) % (V - 1))  # a duplicated position
    perm = rng.permutation(len(seq))
    w = rng.random(len(seq)) + 0.1
    arr = lambda x: np.asarray(x, np.int32)[perm]
    return tokens, lengths, arr(seq), arr(pos), arr(sym), (w / w.sum())[perm]


def kernel(cfg, P, batch, want_grad=True):
    in_row, out_row, _, offs, dims, _ = params.layout(cfg)
    G = np.zeros_like(P)
    loss, acc = tk.loss_grad(P, G, offs, dims, in_row, out_row, *batch, want_grad)
    return loss, acc, G


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
    W = params.views(cfg, P.astype(np.float64))
    _, out_row, _ = params.sharing_map(cfg)
    h = reference_hidden(cfg, P, tokens, lengths, tgt_seq, tgt_pos)
    z = h @ W["emb"][out_row].T
    if cfg.output_bias:
        z = z + W["out_bias"][out_row]
    m = z.max(-1, keepdims=True)
    lse = (m + np.log(np.exp(z - m).sum(-1, keepdims=True)))[:, 0]
    n = np.arange(len(tgt_sym))
    loss = np.sum(tgt_w * (lse - z[n, tgt_sym]))
    acc = np.sum(tgt_w * (z.argmax(-1) == tgt_sym))
    return loss, acc


# ---------------------------------------------------------------- finite differences
def check_gradient(cfg, P, batch):
    _, _, G = kernel(cfg, P, batch)
    fd = np.empty_like(P)
    h = 1e-5
    for i in range(P.size):
        old = P[i]
        P[i] = old + h
        lp = kernel(cfg, P, batch, False)[0]
        P[i] = old - h
        lm = kernel(cfg, P, batch, False)[0]
        P[i] = old
        fd[i] = (lp - lm) / (2 * h)
    assert np.linalg.norm(fd) > 1e-3  # the check is not vacuous
    rel = np.linalg.norm(G - fd) / np.linalg.norm(G + fd)
    assert rel <= 1e-6, rel
    floor = 1e-2 * np.abs(fd).max()
    worst = np.max(np.abs(G - fd) / np.maximum(np.abs(fd), floor))
    assert worst <= 1e-6, worst
    return G


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


def test_tied_gradient_is_input_plus_output_role():
    for objective, merge in itertools.product(["mlm", "causal"], [False, True]):
        tied, untied = make_cfg(objective, True, True, merge), make_cfg(objective, False, True, merge)
        Pt = make_params(tied, 5)
        # the untied model holding the same values: both roles' rows copy the tied rows
        Wt, Pu = params.views(tied, Pt), np.zeros(params.layout(untied)[-1])
        Wu = params.views(untied, Pu)
        for name, a in Wt.items():
            if name == "emb":
                Wu["emb"][:V], Wu["emb"][V:] = a, a
            elif name == "out_bias":
                Wu["out_bias"][V:] = a
            else:
                Wu[name][...] = a
        batch = make_batch(objective, 6)
        lt, _, Gt = kernel(tied, Pt, batch)
        lu, _, Gu = kernel(untied, Pu, batch)
        assert abs(lt - lu) <= 1e-13
        gt, gu = params.views(tied, Gt), params.views(untied, Gu)
        np.testing.assert_allclose(gt["emb"], gu["emb"][:V] + gu["emb"][V:], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(gt["out_bias"], gu["out_bias"][V:], rtol=1e-12, atol=1e-14)
        assert not np.any(gu["out_bias"][:V]) and np.any(gu["emb"][:V]) and np.any(gu["emb"][V:])
        for name in gt:
            if name not in ("emb", "out_bias"):
                np.testing.assert_allclose(gt[name], gu[name], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("objective", ["mlm", "causal"])
def test_padding_and_untargeted_rows_are_ignored(objective):
    cfg = make_cfg(objective, bias=True)
    P = make_params(cfg, 7)
    batch = make_batch(objective, 8)
    tokens, lengths = batch[0], batch[1]
    loss, acc, G = kernel(cfg, P, batch)
    other = np.random.default_rng(9).integers(0, V, tokens.shape).astype(np.int32)
    pad = np.arange(T)[None, :] >= lengths[:, None]
    pad[-1] = True  # the last row has no target
    changed = np.where(pad, other, tokens)
    assert np.any(changed != tokens)
    loss2, acc2, G2 = kernel(cfg, P, (changed,) + batch[1:])
    assert loss2 == loss and acc2 == acc and np.array_equal(G2, G)


def test_target_order_does_not_matter():
    cfg = make_cfg("mlm", bias=True)
    P = make_params(cfg, 11)
    batch = make_batch("mlm", 12)
    perm = np.random.default_rng(0).permutation(len(batch[2]))
    loss, acc, G = kernel(cfg, P, batch)
    loss2, acc2, G2 = kernel(cfg, P, batch[:2] + tuple(a[perm] for a in batch[2:]))
    assert abs(loss - loss2) <= 1e-14 and abs(acc - acc2) <= 1e-14
    np.testing.assert_allclose(G, G2, rtol=1e-12, atol=1e-15)


def test_float32_runs_and_agrees():
    for objective in ("mlm", "causal"):
        c64, c32 = make_cfg(objective, bias=True), make_cfg(objective, bias=True, dtype="float32")
        P = make_params(c64, 13)
        batch = make_batch(objective, 14)
        l64, a64, G64 = kernel(c64, P, batch)
        l32, a32, G32 = kernel(c32, P.astype(np.float32), batch)
        assert G32.dtype == np.float32 and np.all(np.isfinite(G32))
        assert abs(l32 - l64) <= 1e-5 * abs(l64) and a32 == a64
        assert np.linalg.norm(G32 - G64) <= 1e-5 * np.linalg.norm(G64)


def small_corpus(task):
    """Six symbols (the last is the mask), 24 sequences of lengths 2..T, identity realization."""
    rng = np.random.default_rng(0)
    lens = rng.integers(2, T + 1, 24)
    seqs = rng.integers(0, V - 1, lens.sum()).astype(np.int32)
    return Corpus(vocab=[f"s{i}" for i in range(V - 1)] + ["<mask>"], meanings=[f"s{i}" for i in range(V)],
                  seqs=seqs, offsets=np.concatenate([[0], np.cumsum(lens)]).astype(np.int64),
                  split=np.zeros(24, np.int8), maskable=np.ones(lens.sum(), bool),
                  real=Realization.identity(V, V), task=task, mask_rate=0.3 if task == "mlm" else 0.0,
                  specials={"mask": MASK if task == "mlm" else -1, "pad": -1, "labels": []}).validate()


@pytest.mark.parametrize("objective", ["mlm", "causal"])
def test_gradient_on_stream_batch(objective):
    ex = Stream(small_corpus(objective), batch_size=10, seed=3).next(2).batch(1)
    batch = (ex.tokens[0], ex.lengths[0], ex.tgt_seq, ex.tgt_pos, ex.tgt_sym, ex.tgt_w)
    cfg = make_cfg(objective, tied=True, layers=1, heads=1)
    P = make_params(cfg, 15)
    assert abs(kernel(cfg, P, batch, False)[0] - reference_loss(cfg, P, *batch)[0]) <= 1e-12
    check_gradient(cfg, P, batch)


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
