"""Bilinear and mixer kernels, the softmax head and the sharing map, checked independently.

* The head against numbers worked out by hand.
* Each kernel's loss and accuracy against a float64 NumPy forward written here
  from the equations (padding handled by truncation, the causal mixer by
  np.tril), to 1e-12.
* Gradients against float64 central differences (step 1e-5) over every
  parameter.  Criterion: per entry |g - fd| <= 1e-6 * max(|g|, |fd|, 1e-3),
  i.e. a relative error of 1e-6 with an absolute floor of 1e-9 for entries
  that are zero up to rounding (the finite-difference noise is ~1e-11 here);
  and the norm-wise ||g - fd|| / ||g + fd|| <= 1e-6.
* Merging: the gradient of a shared row is the sum of the gradients of the
  rows it replaces.
The contract shared with the other architectures (tying, padding, target order,
accumulation into G, float32, Stream batches) is in test_kernel_contract.py.
"""
import itertools
import math

import numpy as np
import pytest

import kernel_contract as kc
from tying.generators.corpus import Corpus, Realization
from tying.generators.examples import Examples, Stream
from kernel_contract import KERNELS, assert_grad_matches, finite_differences, kernel, make_params
from tying.models import archs, mixer_kernels, params
from tying.models.config import ModelConfig
from tying.models.dispatch_kernels import loss_grad_any
from tying.models.head_kernels import head_loss_grad
from tying.models.model import Model

V, T = kc.V, kc.T
MASK = kc.MASK
ERF = np.vectorize(math.erf)


def make_cfg(arch, objective="mlm", tied=False, bias=False, merge=(), positional=False, layers=1,
             act="gelu", dtype="float64"):
    kw = dict(layers=layers, activation=act) if arch == "mixer" else {}  # the others (dispatch): default sizes
    small = arch in ("bilinear", "mixer")
    return kc.make_cfg(arch, objective, tied, bias, merge, positional, dtype, small=small, **kw)


def make_batch(objective, seed=0, B=6):
    """Rows of lengths T, 1, 3, 2, T, 4: see kernel_contract.make_batch."""
    return kc.make_batch(objective, seed, B, lengths=[T, 1, 3, 2, T, 4][:B], duplicate=False)


# ------------------------------------------------------------------ NumPy reference
def layernorm(x, g, b):
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + 1e-5) * g + b


def activation(x, kind):
    return np.maximum(x, 0.0) if kind == "relu" else 0.5 * x * (1.0 + ERF(x / np.sqrt(2.0)))


def reference_hidden(cfg, P, tokens, lengths, tgt_seq, tgt_pos):
    """Each target on its own: the real rows only (a padded row is the same model truncated to length L)."""
    w = params.views(cfg, P.astype(np.float64))
    in_row, _, _ = params.sharing_map(cfg)
    causal = cfg.objective == "causal"
    H = []
    for b, p in zip(tgt_seq, tgt_pos):
        L = lengths[b]
        X = w["emb"][in_row[tokens[b, :L]]] + (w["pos"][:L] if cfg.positional else 0.0)
        if cfg.arch == "bilinear":
            ctx = np.arange(L) <= p if causal else np.arange(L) != p
            H.append(X[ctx].mean(0) if ctx.any() else np.zeros(cfg.d))
            continue
        for i in range(cfg.layers):
            lw = {k: w[f"layer{i}.{k}"] for k in params.MIXER_LAYER}
            w1, w2 = (np.tril(lw["tok_w1"]), np.tril(lw["tok_w2"])) if causal else (lw["tok_w1"], lw["tok_w2"])
            Y = layernorm(X, lw["ln1_g"], lw["ln1_b"])
            X = X + w2[:L] @ activation(w1[:, :L] @ Y + lw["tok_b1"][:, None], cfg.activation) + lw["tok_b2"][:L, None]
            Y = layernorm(X, lw["ln2_g"], lw["ln2_b"])
            X = X + activation(Y @ lw["ch_w1"].T + lw["ch_b1"], cfg.activation) @ lw["ch_w2"].T + lw["ch_b2"]
        H.append(X[p])
    return np.array(H).reshape(-1, cfg.d)


def reference_loss(cfg, P, tokens, lengths, tgt_seq, tgt_pos, tgt_sym, tgt_w):
    H = reference_hidden(cfg, P, tokens, lengths, tgt_seq, tgt_pos)
    return kc.reference_loss_from_hidden(cfg, P, H, tgt_sym, tgt_w)


# ------------------------------------------------------------------------- head
def head_setup(bias):
    cfg = ModelConfig(arch="bilinear", d=2, output_bias=bias).fit(3, 2, "mlm")
    in_row, out_row, _, offs, dims, size = params.layout(cfg)
    P = np.zeros(size)
    w = params.views(cfg, P)
    w["emb"][3:] = [[0.0, 0.0], [math.log(2.0), 5.0], [0.0, -3.0]]  # output rows: logits (0, ln 2, 0) at h = (1, 0)
    return cfg, P, offs, dims, out_row


def test_head_by_hand():
    cfg, P, offs, dims, out_row = head_setup(bias=False)
    Hs = np.array([[1.0, 0.0], [1.0, 0.0]])
    G, dHs = np.zeros_like(P), np.zeros((2, 2))
    # softmax = (1/4, 1/2, 1/4): target 0 costs ln 4 and is wrong, target 1 costs ln 2 and is right
    loss, acc = head_loss_grad(Hs, P, G, offs, dims, out_row, np.array([0, 1], np.int32), np.array([0.25, 0.75]),
                               dHs, True)
    assert loss == pytest.approx(0.25 * math.log(4) + 0.75 * math.log(2), abs=1e-15)
    assert acc == 0.75
    # dz = w (p - onehot): (-3/16, 1/8, 1/16) and (3/16, -3/8, 3/16); dh = dz @ E_out
    dz = np.array([[-3 / 16, 1 / 8, 1 / 16], [3 / 16, -3 / 8, 3 / 16]])
    E_out = params.views(cfg, P)["emb"][3:]
    np.testing.assert_allclose(dHs, dz @ E_out, atol=1e-15)
    np.testing.assert_allclose(params.views(cfg, G)["emb"][3:], dz.T @ Hs, atol=1e-15)
    assert not params.views(cfg, G)["emb"][:3].any()  # input rows take no gradient from the head


def test_head_bias_and_ties():
    cfg, P, offs, dims, out_row = head_setup(bias=True)
    params.views(cfg, P)["out_bias"][3:] = [math.log(2.0), -math.log(2.0), 0.0]  # logits (ln 2, 0, 0)
    G, dHs = np.zeros_like(P), np.zeros((1, 2))
    loss, acc = head_loss_grad(np.array([[1.0, 0.0]]), P, G, offs, dims, out_row, np.array([2], np.int32),
                               np.array([1.0]), dHs, True)
    assert loss == pytest.approx(math.log(4), abs=1e-15)  # softmax (1/2, 1/4, 1/4)
    assert acc == 0.0
    np.testing.assert_allclose(params.views(cfg, G)["out_bias"][3:], [0.5, 0.25, -0.75], atol=1e-15)
    # equal logits: the first maximum wins, so only target 0 counts as correct
    P[:] = 0.0
    accs = [head_loss_grad(np.zeros((1, 2)), P, G, offs, dims, out_row, np.array([y], np.int32), np.ones(1),
                           dHs, False)[1] for y in range(3)]
    assert accs == [1.0, 0.0, 0.0]


def test_head_log_sum_exp_with_huge_logits():
    cfg, P, offs, dims, out_row = head_setup(bias=False)
    params.views(cfg, P)["emb"][3:] = [[1000.0, 0.0], [999.0, 0.0], [0.0, 0.0]]
    G, dHs = np.zeros_like(P), np.zeros((1, 2))
    loss, _ = head_loss_grad(np.array([[1.0, 0.0]]), P, G, offs, dims, out_row, np.array([1], np.int32),
                             np.ones(1), dHs, True)
    assert loss == pytest.approx(1.0 + math.log1p(math.exp(-1.0)), rel=1e-14)
    assert np.isfinite(G).all()


# -------------------------------------------------------- kernels vs the reference
COMBOS = list(itertools.product(["mlm", "causal"], [False, True], [False, True], [(), ((0, 1), (1, 3))]))


@pytest.mark.parametrize("arch", ["bilinear", "mixer"])
@pytest.mark.parametrize("objective,tied,bias,merge", COMBOS)
def test_loss_matches_reference(arch, objective, tied, bias, merge):
    cfg = make_cfg(arch, objective, tied, bias, merge, positional=True, layers=2)
    P = make_params(cfg, seed=1)
    batch = make_batch(objective, seed=2)
    loss, acc, _ = kernel(cfg, P, batch)
    ref_loss, ref_acc = reference_loss(cfg, P, *batch)
    assert loss == pytest.approx(ref_loss, rel=1e-12, abs=1e-12)
    assert acc == pytest.approx(ref_acc, abs=1e-12)
    assert 0.5 < loss < 20  # a real loss, not a degenerate one


@pytest.mark.parametrize("arch,act", [("bilinear", "gelu"), ("mixer", "relu"), ("mixer", "gelu")])
@pytest.mark.parametrize("objective", ["mlm", "causal"])
def test_hidden_matches_reference(arch, act, objective):
    cfg = make_cfg(arch, objective, layers=2, act=act, positional=True)
    P = make_params(cfg, seed=3)
    tokens, lengths, seq, pos, _, _ = make_batch(objective, seed=4)
    in_row, _, _, offs, dims, _ = params.layout(cfg)
    H = KERNELS[arch].hidden(P, offs, dims, in_row, tokens, lengths, seq, pos)
    np.testing.assert_allclose(H, reference_hidden(cfg, P, tokens, lengths, seq, pos), rtol=1e-12, atol=1e-12)


def tiny_corpus(task):
    vocab = ["a", "b", "c", "d", "[MASK]"]
    seqs = [[0, 1, 2, 3], [1, 1, 0], [3, 2], [2, 0, 1, 3], [0, 3, 3]]
    return Corpus(vocab=vocab, meanings=vocab, seqs=np.concatenate(seqs).astype(np.int32),
                  offsets=np.cumsum([0] + [len(s) for s in seqs]).astype(np.int64),
                  split=np.zeros(len(seqs), np.int8), maskable=np.ones(sum(map(len, seqs)), bool),
                  real=Realization.identity(5, 5), task=task, mask_rate=0.3,
                  specials={"mask": 4, "pad": -1, "labels": []}).validate()


@pytest.mark.parametrize("arch", ["bilinear", "mixer"])
@pytest.mark.parametrize("task", ["mlm", "causal"])
def test_stream_batches_match_reference(arch, task):
    corpus = tiny_corpus(task)
    base = ModelConfig(arch=arch, positional=True)
    if arch == "mixer":
        base = ModelConfig(arch=arch, positional=True, token_ff=4)
    model = Model.from_corpus(corpus, base, seed=5)
    ex = Stream(corpus, "train", batch_size=3, seed=6).next(3)
    for s in range(ex.n_batches):
        b = ex.batch(s)
        batch = (b.tokens[0], b.lengths[0], b.tgt_seq, b.tgt_pos, b.tgt_sym, b.tgt_w)
        loss, acc = model.loss(ex, s)
        ref_loss, ref_acc = reference_loss(model.cfg, model.P, *batch)
        assert loss == pytest.approx(ref_loss, rel=1e-12)
        assert acc == pytest.approx(ref_acc, abs=1e-12)


# ------------------------------------------------------------ finite differences
@pytest.mark.parametrize("arch", ["bilinear", "mixer"])
@pytest.mark.parametrize("objective,tied,bias,merge", COMBOS)
def test_gradient_finite_differences(arch, objective, tied, bias, merge):
    cfg = make_cfg(arch, objective, tied, bias, merge)
    P = make_params(cfg, seed=7)
    batch = make_batch(objective, seed=8)
    _, _, G = kernel(cfg, P, batch)
    assert_grad_matches(G, finite_differences(cfg, P, batch))


@pytest.mark.parametrize("arch,layers,act", [("bilinear", 0, "gelu"), ("mixer", 2, "gelu"), ("mixer", 2, "relu")])
@pytest.mark.parametrize("objective", ["mlm", "causal"])
def test_gradient_finite_differences_positional_layers(arch, layers, act, objective):
    cfg = make_cfg(arch, objective, tied=True, bias=True, positional=True, layers=layers, act=act)
    P = make_params(cfg, seed=9)
    batch = make_batch(objective, seed=10)
    _, _, G = kernel(cfg, P, batch)
    assert_grad_matches(G, finite_differences(cfg, P, batch))
    # positions beyond every length (here none: one row has length T) and unused causal weights get exactly 0
    if arch == "mixer" and objective == "causal":
        w = params.views(cfg, G)
        for i in range(layers):
            assert not np.triu(w[f"layer{i}.tok_w1"], 1).any() and not np.triu(w[f"layer{i}.tok_w2"], 1).any()
            assert np.tril(w[f"layer{i}.tok_w1"]).any()


@pytest.mark.parametrize("objective", ["mlm", "causal"])
def test_mixer_batch_larger_than_one_chunk(objective):
    """The mixer runs a large batch in chunks of rows; a chunk with no targets is skipped."""
    cfg = make_cfg("mixer", objective, tied=True, bias=True, positional=True, layers=2)
    in_row, out_row, _, offs, dims, _ = params.layout(cfg)
    nb = mixer_kernels.chunk_rows(10_000, dims)
    parts = [make_batch(objective, seed=30 + i) for i in range(-(-2 * nb // 6) + 2)]  # 6 rows each
    tokens = np.concatenate([p[0] for p in parts])
    lengths = np.concatenate([p[1] for p in parts])
    seq, pos, sym, w = (np.concatenate([p[k] + (6 * i if k == 2 else 0) for i, p in enumerate(parts)])
                        for k in (2, 3, 4, 5))
    keep = (seq < nb) | (seq >= 2 * nb)  # no target in the second chunk of rows
    batch = (tokens, lengths, seq[keep], pos[keep], sym[keep], w[keep] / w[keep].sum())
    assert len(tokens) > 2 * nb and set(batch[2] // nb) == {0, 2}
    P = make_params(cfg, seed=31)
    loss, acc, G = kernel(cfg, P, batch)
    assert loss == pytest.approx(reference_loss(cfg, P, *batch)[0], rel=1e-12)
    H = mixer_kernels.hidden(P, offs, dims, in_row, tokens, lengths, batch[2], batch[3])
    np.testing.assert_allclose(H, reference_hidden(cfg, P, tokens, lengths, batch[2], batch[3]), rtol=1e-12)
    rng = np.random.default_rng(32)
    for _ in range(3):  # directional derivatives along random directions
        v = rng.standard_normal(P.size)
        fd = (kernel(cfg, P + 1e-5 * v, batch, False)[0] - kernel(cfg, P - 1e-5 * v, batch, False)[0]) / 2e-5
        assert G @ v == pytest.approx(fd, rel=1e-7)


# ------------------------------------------------------------------------ merging
@pytest.mark.parametrize("arch", ["bilinear", "mixer"])
@pytest.mark.parametrize("tied", [False, True])
def test_merged_output_rows_sum_their_gradients(arch, tied):
    merged = make_cfg(arch, "mlm", tied=tied, merge=[(2, 0)])
    plain = make_cfg(arch, "mlm", tied=tied)
    P_m = make_params(merged, seed=13)
    P_p = P_m.copy()
    _, out_row, _ = params.sharing_map(merged)
    assert out_row[2] == out_row[0]
    if not tied:  # the plain model's output row of symbol 2 holds the shared value
        w = params.views(plain, P_p)["emb"]
        w[V + 2] = w[V + 0]
    batch = make_batch("mlm", seed=14)
    loss_m, _, G_m = kernel(merged, P_m, batch)
    if tied:  # tying + merging: symbol 2 reads input row 2 but output row 0; no plain twin, check by FD
        assert_grad_matches(G_m, finite_differences(merged, P_m, batch))
        return
    loss_p, _, G_p = kernel(plain, P_p, batch)
    assert loss_m == pytest.approx(loss_p, rel=1e-14)
    gm, gp = params.views(merged, G_m)["emb"], params.views(plain, G_p)["emb"]
    np.testing.assert_allclose(gm[V + 0], gp[V + 0] + gp[V + 2], rtol=1e-13)
    assert not gm[V + 2].any()  # the row symbol 2 no longer uses
    mask = np.ones(2 * V, bool)
    mask[[V, V + 2]] = False
    np.testing.assert_allclose(gm[mask], gp[mask], rtol=1e-13, atol=1e-15)


# -------------------------------------------------------------------- causality
@pytest.mark.parametrize("arch", ["bilinear", "mixer"])
def test_causal_does_not_look_ahead(arch):
    def hidden(cfg, tokens):
        in_row, _, _, offs, dims, _ = params.layout(cfg)
        seq = np.zeros(T, np.int32)
        return KERNELS[arch].hidden(make_params(cfg, 17), offs, dims, in_row, tokens, np.array([T], np.int32),
                                    seq, np.arange(T, dtype=np.int32))

    tokens = np.array([[0, 1, 2, 3, 4]], np.int32)
    changed = tokens.copy()
    changed[0, 3] = 0  # change position 3 only
    for objective in ("causal", "mlm"):
        cfg = make_cfg(arch, objective, positional=True, layers=2)
        diff = np.abs(hidden(cfg, tokens) - hidden(cfg, changed)).max(1)
        if objective == "causal":
            assert not diff[:3].any() and diff[3:].all()
        else:  # the bidirectional model sees the change everywhere except, for CBOW, at position 3 itself
            assert diff[[0, 1, 2, 4]].all()


# --------------------------------------------------------------------- dispatch
@pytest.mark.parametrize("arch", archs.ARCHS)
def test_dispatch_matches_the_arch_kernels(arch):
    # every registered architecture's code reaches its own kernel module, named by the registry's convention
    code, module = archs.REGISTRY[arch].code, archs.kernels(arch)
    assert module.__name__ == f"tying.models.{arch}_kernels"
    cfg = make_cfg(arch, "mlm", bias=True, positional=True)
    P = make_params(cfg, seed=20)
    batch = make_batch("mlm", seed=21)
    in_row, out_row, _, offs, dims, _ = params.layout(cfg)
    G, G_ref = np.zeros_like(P), np.zeros_like(P)
    loss, acc = loss_grad_any(code, P, G, offs, dims, in_row, out_row, *batch, True)
    ref = module.loss_grad(P, G_ref, offs, dims, in_row, out_row, *batch, True)
    assert (loss, acc) == ref and G.tobytes() == G_ref.tobytes() and np.isfinite(loss)
    unknown = max(archs.ARCH_CODE.values()) + 1  # no such architecture
    loss, acc = loss_grad_any(unknown, P, G, offs, dims, in_row, out_row, *batch, True)
    assert math.isnan(loss) and math.isnan(acc)


def test_bilinear_hidden_by_hand():
    cfg = make_cfg("bilinear", "mlm")
    model = Model(cfg, make_params(cfg, 22))
    E = model.E_in()
    tokens = np.array([[[0, 1, MASK, 3, 3]]], np.int32)
    ex = Examples(tokens, np.array([[4]], np.int32), np.array([0, 2]), np.zeros(2, np.int32),
                  np.array([2, 0], np.int32), np.array([2, 0], np.int32), np.array([0.5, 0.5]))
    H = model.hidden(ex)
    np.testing.assert_allclose(H[0], (E[0] + E[1] + E[3]) / 3, rtol=1e-15)  # position 4 is padding
    np.testing.assert_allclose(H[1], (E[1] + E[MASK] + E[3]) / 3, rtol=1e-15)
    causal = Model(make_cfg("bilinear", "causal"), model.P)
    np.testing.assert_allclose(causal.hidden(ex)[0], (E[0] + E[1] + E[MASK]) / 3, rtol=1e-15)
    np.testing.assert_allclose(causal.hidden(ex)[1], E[0], rtol=1e-15)
