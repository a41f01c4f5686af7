"""The contract every model kernel keeps, checked once per architecture.

* Tying: the gradient of a tied row is the sum of its input-role and output-role gradients.
* Padding tokens and rows without targets change nothing, bit for bit; positions beyond every length
  get exactly zero gradient.
* The order of the targets does not matter; the gradient adds into G, and want_grad=False leaves G alone.
* float32 runs and agrees with float64.
* On a real Stream batch the loss matches the architecture's NumPy reference and the gradient matches
  finite differences (criteria in kernel_contract).
"""
import itertools

import numpy as np
import pytest

import kernel_contract as kc
import test_lstm_grad
import test_models_grad
import test_transformer_grad
from tying.generators.examples import Stream
from tying.models import params

V, T = kc.V, kc.T
REFERENCE_HIDDEN = {"bilinear": test_models_grad.reference_hidden, "mixer": test_models_grad.reference_hidden,
                    "transformer": test_transformer_grad.reference_hidden, "lstm": test_lstm_grad.reference_hidden}
DEPTH = {"mixer": dict(layers=2)}  # the other architectures' defaults already stack two layers (bilinear has none)
OBJECTIVES = ["mlm", "causal"]
# how large each role's embedding gradient must be: the deep models' input role only sees gradient
# through several layers, so for them any nonzero entry counts
ROLE_FLOOR = {"bilinear": 1e-3, "mixer": 1e-3}


def cfg_for(arch, objective, **kw):
    return kc.make_cfg(arch, objective, **{**DEPTH.get(arch, {}), **kw})


def batch_for(objective, seed):
    """A one-token row, a duplicated mlm target, padding garbage and an untargeted last row."""
    return kc.make_batch(objective, seed, min_len=1, shortest_first=True)


@pytest.mark.parametrize("arch", kc.ARCHS)
@pytest.mark.parametrize("objective,bias,merge", list(itertools.product(OBJECTIVES, [False, True], [False, True])))
def test_tied_gradient_is_input_plus_output_role(arch, objective, bias, merge):
    cfg_t = cfg_for(arch, objective, tied=True, bias=bias, merge=[(1, 3)] if merge else [])
    P_t = kc.make_params(cfg_t, seed=5)
    cfg_u, P_u = kc.untied_twin(cfg_t, P_t)
    batch = batch_for(objective, 6)
    loss_t, acc_t, G_t = kc.kernel(cfg_t, P_t, batch)
    loss_u, acc_u, G_u = kc.kernel(cfg_u, P_u, batch)
    assert loss_t == pytest.approx(loss_u, rel=1e-14, abs=0) and abs(loss_t - loss_u) <= 1e-13 and acc_t == acc_u
    wt, wu = params.views(cfg_t, G_t), params.views(cfg_u, G_u)
    np.testing.assert_allclose(wt["emb"], wu["emb"][:V] + wu["emb"][V:], rtol=1e-13, atol=1e-15)
    floor = ROLE_FLOOR.get(arch, 0.0)  # both roles contribute
    assert np.abs(wu["emb"][:V]).max() > floor and np.abs(wu["emb"][V:]).max() > floor
    for name in wt:
        if name == "out_bias":
            np.testing.assert_allclose(wt[name], wu[name][V:], rtol=1e-13, atol=1e-15)
            assert not np.any(wu[name][:V])
        elif name != "emb":
            np.testing.assert_allclose(wt[name], wu[name], rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("arch", kc.ARCHS)
@pytest.mark.parametrize("objective,bias", list(itertools.product(OBJECTIVES, [False, True])))
def test_padding_and_untargeted_rows_are_ignored(arch, objective, bias):
    cfg = cfg_for(arch, objective, bias=bias)
    P = kc.make_params(cfg, 7)
    batch = batch_for(objective, 8)
    tokens, lengths, seq, pos, sym, w = batch
    loss, acc, G = kc.kernel(cfg, P, batch)
    other = (tokens + np.random.default_rng(9).integers(1, V, tokens.shape)) % V  # differs everywhere
    pad = np.arange(T)[None, :] >= lengths[:, None]
    pad[-1] = True  # the last row has no target
    changed = np.where(pad, other, tokens).astype(np.int32)
    assert np.array_equal(changed != tokens, pad) and pad[:-1].any()
    loss2, acc2, G2 = kc.kernel(cfg, P, (changed,) + batch[1:])
    assert loss2 == loss and acc2 == acc and G2.tobytes() == G.tobytes()
    # cut every row to length 3: positional rows 3.. must get exactly zero gradient
    keep = pos < 3
    G3 = kc.kernel(cfg, P, (tokens, np.minimum(lengths, 3), seq[keep], pos[keep], sym[keep], w[keep]))[2]
    assert not params.views(cfg, G3)["pos"][3:].any() and params.views(cfg, G3)["pos"][:3].any()


@pytest.mark.parametrize("arch", kc.ARCHS)
@pytest.mark.parametrize("objective", OBJECTIVES)
def test_target_order_and_accumulation_into_G(arch, objective):
    """Shuffled targets give the same result; the gradient adds into G; want_grad=False leaves G alone."""
    cfg = cfg_for(arch, objective, bias=True)
    P = kc.make_params(cfg, 11)
    batch = batch_for(objective, 12)
    loss, acc, G = kc.kernel(cfg, P, batch)
    perm = np.random.default_rng(0).permutation(len(batch[2]))
    loss2, acc2, G2 = kc.kernel(cfg, P, batch[:2] + tuple(a[perm] for a in batch[2:]))
    assert abs(loss - loss2) <= 1e-14 and abs(acc - acc2) <= 1e-14
    np.testing.assert_allclose(G, G2, rtol=1e-12, atol=1e-15)
    loss3, acc3, G3 = kc.kernel(cfg, P, batch, G=np.ones_like(P))
    # accumulating into 1.0 rounds differently from adding 1.0 at the end: a few ulps of |G + 1| (up to ~3)
    np.testing.assert_allclose(G3, G + 1.0, rtol=1e-15, atol=1e-15)
    loss4, acc4, G4 = kc.kernel(cfg, P, batch, want_grad=False, G=np.ones_like(P))
    assert np.all(G4 == 1.0) and (loss3, acc3) == (loss, acc) == (loss4, acc4)


@pytest.mark.parametrize("arch", kc.ARCHS)
@pytest.mark.parametrize("objective,tied", list(itertools.product(OBJECTIVES, [False, True])))
def test_float32_runs_and_agrees(arch, objective, tied):
    c64 = cfg_for(arch, objective, tied=tied, bias=True)
    c32 = cfg_for(arch, objective, tied=tied, bias=True, dtype="float32")
    P = kc.make_params(c64, 13)
    P32 = P.astype(np.float32)
    batch = batch_for(objective, 14)
    l32, a32, G32 = kc.kernel(c32, P32, batch)
    assert G32.dtype == np.float32 and np.all(np.isfinite(G32))
    # against float64 on the rounded parameters (arithmetic error only) and on the exact ones (plus rounding)
    for P64 in (P32.astype(np.float64), P):
        l64, a64, G64 = kc.kernel(c64, P64, batch)
        assert abs(l32 - l64) <= 1e-5 * abs(l64) and a32 == a64
        assert np.linalg.norm(G32 - G64) <= 1e-5 * np.linalg.norm(G64)


STREAM_SHAPE = {"transformer": dict(layers=1, heads=1)}


@pytest.mark.parametrize("arch", kc.ARCHS)
@pytest.mark.parametrize("objective", OBJECTIVES)
def test_gradient_on_stream_batch(arch, objective):
    ex = Stream(kc.small_corpus(objective), batch_size=10, seed=3).next(2).batch(1)
    batch = (ex.tokens[0], ex.lengths[0], ex.tgt_seq, ex.tgt_pos, ex.tgt_sym, ex.tgt_w)
    cfg = cfg_for(arch, objective, tied=True, **STREAM_SHAPE.get(arch, {}))
    P = kc.make_params(cfg, 15)
    H = REFERENCE_HIDDEN[arch](cfg, P, *batch[:4])
    ref_loss, ref_acc = kc.reference_loss_from_hidden(cfg, P, H, *batch[4:])
    loss, acc, _ = kc.kernel(cfg, P, batch, False)
    assert abs(loss - ref_loss) <= 1e-12 and abs(acc - ref_acc) <= 1e-12
    G = kc.check_gradient(cfg, P, batch, strict=True)
    for name, g in params.views(cfg, G).items():  # no block is skipped by the backward pass
        if name.startswith(("layer", "proj")):
            assert np.any(g != 0.0), name
