"""The LSTM kernel against finite differences, an independent NumPy forward and hand-worked values.

Gradient check criterion (as the transformer's): float64 central differences
with step 1e-5 over every parameter; the norm-wise relative error
||g - fd|| / ||g + fd|| must be <= 1e-6, and every entry must satisfy
|g - fd| <= 1e-6 * max(|fd|, 1e-2 * max|fd|) (a per-entry relative error
floored at 1% of the largest entry, so entries that are zero up to rounding do
not dominate).
"""
import itertools
import math

import numpy as np
import pytest

from generators.corpus import Corpus, Realization
from generators.examples import Stream
from models import lstm_kernels as lk
from models import params
from models.config import ModelConfig

V, T = 6, 5  # symbol V - 1 is the mask
MASK = V - 1


def make_cfg(objective="mlm", tied=False, bias=False, merge=False, layers=2, bi=True, positional=True, d=3,
             hidden=3, dtype="float64"):
    return ModelConfig(arch="lstm", tied=tied, output_bias=bias, merge_out=[(1, 3)] if merge else [],
                       positional=positional, d=d, layers=layers, hidden=hidden, bidirectional=bi,
                       dtype=dtype).fit(V, T, objective)


def make_params(cfg, seed=0):
    """torch init, then every block (the output bias too) moved off its special value."""
    P = params.init_params(cfg, seed).astype(np.float64)
    P += 0.3 * np.random.default_rng(seed + 100).standard_normal(P.size)
    return P.astype(cfg.dtype)


def make_batch(objective, seed=0, B=6, padded=True, min_len=2):
    """Random rows with lengths min_len..T, garbage beyond the length, several targets per row in shuffled order."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, V - 1, (B, T)).astype(np.int32)
    lengths = (rng.integers(min_len, T + 1, B) if padded else np.full(B, T)).astype(np.int32)
    lengths[0] = min_len if padded else T  # the shortest row always occurs
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
    loss, acc = lk.loss_grad(P, G, offs, dims, in_row, out_row, *batch, want_grad)
    return loss, acc, G


def kernel_hidden(cfg, P, batch):
    in_row, _, _, offs, dims, _ = params.layout(cfg)
    return lk.hidden(P, offs, dims, in_row, *batch[:4])


# ---------------------------------------------------------------- NumPy reference
def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # a different formula from the kernel's


def reference_hidden(cfg, P, tokens, lengths, tgt_seq, tgt_pos):
    """torch nn.LSTM on each row cut to its length (as a packed sequence), then the projection."""
    W = params.views(cfg, P.astype(np.float64))
    in_row, _, _ = params.sharing_map(cfg)
    H, dirs = cfg.hidden, 2 if cfg.bidirectional else 1
    out = []
    for b in range(tokens.shape[0]):
        L = lengths[b]
        x = W["emb"][in_row[tokens[b, :L]]]
        if cfg.positional:
            x = x + W["pos"][:L]
        for i in range(cfg.layers):
            ys = []
            for r in range(dirs):
                p = lambda n: W[f"layer{i}.dir{r}.{n}"]
                xs = x if r == 0 else x[::-1]
                h, c, hs = np.zeros(H), np.zeros(H), []
                for xt in xs:
                    gi, gf, gg, go = np.split(p("w_ih") @ xt + p("b_ih") + p("w_hh") @ h + p("b_hh"), 4)
                    c = sigmoid(gf) * c + sigmoid(gi) * np.tanh(gg)
                    h = sigmoid(go) * np.tanh(c)
                    hs.append(h)
                hs = np.array(hs)
                ys.append(hs if r == 0 else hs[::-1])
            x = np.concatenate(ys, axis=1)
        out.append(x @ W["proj_w"].T + W["proj_b"])
    return np.array([out[b][p] for b, p in zip(tgt_seq, tgt_pos)]).reshape(len(tgt_seq), cfg.d)


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
    # every cell block receives gradient (none is skipped by the backward pass)
    for name, g in params.views(cfg, G).items():
        if name.startswith("layer") or name.startswith("proj"):
            assert np.any(g != 0.0), name
    return G


SHARING = list(itertools.product(["mlm", "causal"], [False, True], [False, True], [False, True]))


@pytest.mark.parametrize("objective,tied,bias,merge", SHARING)
def test_gradient_sharing(objective, tied, bias, merge):
    cfg = make_cfg(objective, tied, bias, merge)  # bidirectional for mlm; the config makes causal one-way
    assert cfg.bidirectional == (objective == "mlm")
    check_gradient(cfg, make_params(cfg, 1), make_batch(objective, 2))


SHAPES = [(1, False, "mlm"), (1, True, "mlm"), (2, False, "mlm"), (2, True, "mlm"), (1, False, "causal"),
          (2, False, "causal"), (3, True, "mlm"), (3, False, "causal")]


@pytest.mark.parametrize("layers,bi,objective", SHAPES)
def test_gradient_shapes(layers, bi, objective):
    k = SHAPES.index((layers, bi, objective))
    cfg = make_cfg(objective, tied=k % 2 == 1, bias=k % 3 == 0, merge=k % 4 == 0, layers=layers, bi=bi,
                   positional=k % 2 == 0, d=2 + k % 3, hidden=2 + k % 2)
    check_gradient(cfg, make_params(cfg, k), make_batch(objective, k, padded=k % 3 != 1))


def test_gradient_with_one_token_rows():
    cfg = make_cfg("mlm", bias=True)
    batch = make_batch("mlm", 21, min_len=1)
    assert 1 in batch[1][:-1]
    check_gradient(cfg, make_params(cfg, 21), batch)


def test_target_outside_its_row_is_refused():
    cfg = make_cfg("mlm")
    tokens, lengths, seq, pos, sym, w = make_batch("mlm", 22)
    pos = pos.copy()
    pos[0] = lengths[seq[0]]
    with pytest.raises(ValueError, match="outside its sequence"):
        kernel(cfg, make_params(cfg), (tokens, lengths, seq, pos, sym, w))


def test_gradient_paper_small_shape():
    cfg = ModelConfig(arch="lstm", tied=True).fit(V, T, "mlm")
    assert (cfg.layers, cfg.d, cfg.hidden, cfg.bidirectional) == (2, 4, 8, True)
    check_gradient(cfg, make_params(cfg, 3), make_batch("mlm", 4, B=3))


@pytest.mark.parametrize("objective", ["mlm", "causal"])
@pytest.mark.parametrize("layers,bi", [(1, False), (1, True), (2, True), (3, False)])
def test_matches_numpy_reference(objective, layers, bi):
    cfg = make_cfg(objective, tied=layers % 2 == 1, bias=True, merge=True, layers=layers, bi=bi, d=4, hidden=5)
    P = make_params(cfg, layers)
    batch = make_batch(objective, layers + 10, B=9, min_len=1)
    assert 1 in batch[1][:-1]  # a one-token row with targets (mlm) or without any (causal)
    loss, acc, _ = kernel(cfg, P, batch, False)
    ref_loss, ref_acc = reference_loss(cfg, P, *batch)
    assert abs(loss - ref_loss) <= 1e-12 * max(1.0, abs(ref_loss))
    assert abs(acc - ref_acc) <= 1e-12
    assert np.abs(kernel_hidden(cfg, P, batch) - reference_hidden(cfg, P, *batch[:4])).max() <= 1e-12


def test_hand_worked_gate_order_and_directions():
    """With zero weight matrices each gate is a constant; torch's order i, f, g, o gives, after k steps
    from the zero state, c_k = i g (1 - f^k) / (1 - f) and h_k = o tanh(c_k).  With H = 1, two directions
    and proj = identity, h at position t of a length-L row is [h_{t+1} (forward), h_{L-t} (backward)]."""
    cfg = make_cfg("mlm", layers=1, bi=True, positional=False, d=2, hidden=1)
    P = np.zeros(params.layout(cfg)[-1])
    W = params.views(cfg, P)
    W["emb"][:] = np.random.default_rng(0).standard_normal(W["emb"].shape)  # must not matter
    gates = {0: (0.3, 1.2, -0.7, 0.5), 1: (-0.4, 0.8, 1.5, -1.1)}  # pre-activations of i, f, g, o per direction
    for r, pre in gates.items():
        W[f"layer0.dir{r}.b_ih"][:] = 0.25 * np.array(pre)
        W[f"layer0.dir{r}.b_hh"][:] = 0.75 * np.array(pre)  # torch adds both biases
    W["proj_w"][:] = np.eye(2)
    L = 4
    tokens = np.array([[0, 1, 2, 3, 4]], np.int32)
    batch = (tokens, np.array([L], np.int32), np.zeros(L, np.int32), np.arange(L, dtype=np.int32))
    h = kernel_hidden(cfg, P, batch)
    sig = lambda x: 1.0 / (1.0 + math.exp(-x))

    def h_after(k, pre):
        i, f, g, o = sig(pre[0]), sig(pre[1]), math.tanh(pre[2]), sig(pre[3])
        return o * math.tanh(i * g * (1.0 - f**k) / (1.0 - f))

    for t in range(L):
        assert abs(h[t, 0] - h_after(t + 1, gates[0])) <= 1e-15
        assert abs(h[t, 1] - h_after(L - t, gates[1])) <= 1e-15


def test_directions_see_the_right_context():
    """A one-way LSTM's h at p ignores every later token; a bidirectional one sees both sides."""
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, V - 1, (1, T)).astype(np.int32)
    p = 2
    later, earlier = tokens.copy(), tokens.copy()
    later[0, p + 1] = (later[0, p + 1] + 1) % (V - 1)
    earlier[0, p - 1] = (earlier[0, p - 1] + 1) % (V - 1)
    rest = (np.array([T], np.int32), np.zeros(1, np.int32), np.array([p], np.int32))
    one_way, two_way = make_cfg("causal", layers=2), make_cfg("mlm", layers=2, bi=True)
    for cfg in (one_way, two_way):
        P = make_params(cfg, 2)
        h0, h_later, h_earlier = (kernel_hidden(cfg, P, (x,) + rest) for x in (tokens, later, earlier))
        assert np.abs(h_earlier - h0).max() > 1e-6
        if cfg is one_way:
            assert np.array_equal(h_later, h0)
        else:
            assert np.abs(h_later - h0).max() > 1e-6


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


def test_gradient_adds_into_G_and_no_grad_leaves_it():
    cfg = make_cfg("mlm", bias=True)
    P = make_params(cfg, 12)
    batch = make_batch("mlm", 13)
    in_row, out_row, _, offs, dims, _ = params.layout(cfg)
    _, _, G = kernel(cfg, P, batch)
    G2 = np.ones_like(P)
    lk.loss_grad(P, G2, offs, dims, in_row, out_row, *batch, True)
    np.testing.assert_allclose(G2, G + 1.0, rtol=0, atol=1e-15)
    G3 = np.ones_like(P)
    lk.loss_grad(P, G3, offs, dims, in_row, out_row, *batch, False)
    assert np.all(G3 == 1.0)


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
    cfg = make_cfg(objective, tied=True, layers=2)
    P = make_params(cfg, 15)
    assert abs(kernel(cfg, P, batch, False)[0] - reference_loss(cfg, P, *batch)[0]) <= 1e-12
    check_gradient(cfg, P, batch)
