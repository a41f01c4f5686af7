"""The tying variants (input_grad_scale, input_multiplier, tied_dims, tie_map) against finite differences.

Every variant's gradient is checked on every architecture over every parameter (kernel_contract's
criteria), each with a negative control: the same check run on a gradient that ignores the
variant fails.  The input-gradient scale is not a gradient, so it is checked against its
definition: alpha times the input role's and once the output role's finite-difference gradient,
both taken on the untied twin that holds the tied values in both row sets.
"""
import dataclasses
import re

import numpy as np
import pytest

import kernel_contract as kc
from tying.core.errors import InputError
from tying.generators import Examples
from tying.models import ModelConfig, params
from tying.models.model import Model
from tying.core.kernel_cache import call_literal
from tying.models.variant_kernels import V_K, V_ON, loss_grad_model

ARCHS = kc.ARCHS
OBJ = {"bilinear": "mlm", "mixer": "causal", "transformer": "mlm", "lstm": "causal"}  # both objectives covered


def loss_grad(cfg, P, batch, want_grad=True, var=None):
    m = Model(cfg, P=P)
    G = np.zeros_like(P)
    loss, _ = call_literal(loss_grad_model, m.arch_code, P, G, m.offs, m.dims, m.in_row, m.out_row,
                           m.var if var is None else var, *batch, want_grad)
    return loss, G


def fd(cfg, P, batch, h=1e-5, var=None):
    """Central differences of the loss over every entry of P."""
    out = np.empty_like(P)
    for i in range(P.size):
        old = P[i]
        P[i] = old + h
        lp = loss_grad(cfg, P, batch, False, var)[0]
        P[i] = old - h
        lm = loss_grad(cfg, P, batch, False, var)[0]
        P[i] = old
        out[i] = (lp - lm) / (2 * h)
    return out


def matches(g, f) -> bool:
    """kernel_contract.check_gradient's criteria, as a yes or no (so a control can assert no)."""
    rel = np.linalg.norm(g - f) / np.linalg.norm(g + f)
    worst = np.max(np.abs(g - f) / np.maximum(np.abs(f), 1e-2 * np.abs(f).max()))
    return rel <= 1e-6 and worst <= 1e-6


def setup(arch, bias=False, merge=(), **variant):
    cfg = kc.make_cfg(arch, OBJ[arch], tied=variant.pop("tied", True), bias=bias, merge=merge, **variant)
    return cfg, kc.make_params(cfg, seed=1), kc.make_batch(OBJ[arch], seed=2)


def plain_gradient(cfg, P, batch):
    """The gradient of the same parameters with the variant switched off in the kernels."""
    var = Model(cfg, P=P).var
    off = (np.array([0, *var[0][1:]]),) + var[1:]
    return loss_grad(cfg, P, batch, var=off)[1]


# ------------------------------------------------------------------------------- true gradients
@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("tied,c", [(True, 1.7), (False, "sqrt(d)")])
def test_input_multiplier_gradient(arch, tied, c):
    cfg, P, batch = setup(arch, bias=tied, tied=tied, input_multiplier=c)
    assert cfg.variant and cfg.multiplier == (1.7 if tied else np.sqrt(cfg.d))
    f = fd(cfg, P, batch)
    assert np.linalg.norm(f) > 1e-3 and matches(loss_grad(cfg, P, batch)[1], f)
    assert not matches(plain_gradient(cfg, P, batch), f)  # control: the gradient of c = 1


@pytest.mark.parametrize("arch", ARCHS)
def test_partial_tying_gradient(arch):
    d = kc.make_cfg(arch).d
    cfg, P, batch = setup(arch, bias=True, merge=[(0, 2)], tied_dims=d // 2)
    assert params.layout(cfg)[2][0][1] == (2 * kc.V, d)  # separate rows; the shared columns read at tie_row
    f = fd(cfg, P, batch)
    emb = params.views(cfg, f)["emb"]
    assert np.all(emb[kc.V:, : d // 2] == 0.0) and np.abs(emb[kc.V:, d // 2:]).max() > 1e-3  # unread / read
    assert matches(loss_grad(cfg, P, batch)[1], f)
    # control: the kernels told a wrong k
    var = Model(cfg, P=P).var
    wrong = (var[0].copy(),) + var[1:]
    wrong[0][V_K] += 1
    assert not matches(loss_grad(cfg, P, batch, var=wrong)[1], f)


@pytest.mark.parametrize("arch", ARCHS)
def test_tie_map_gradient(arch):
    cfg, P, batch = setup(arch, bias=True, tie_map=True)
    names = [b[0] for b in params.layout(cfg)[2]]
    assert names[-1] == "tie_w"
    f = fd(cfg, P, batch)
    assert np.abs(params.views(cfg, f)["tie_w"]).max() > 1e-3  # dW is checked, not only dE
    assert matches(loss_grad(cfg, P, batch)[1], f)
    assert not matches(plain_gradient(cfg, P, batch), f)  # control: W read as the identity


# ------------------------------------------------------------------------ the input-gradient scale
def twin_fd(cfg, P, batch):
    """(input-role fd, output-role fd, fd of the rest) of the tied model, on its untied twin."""
    plain = dataclasses.replace(cfg, input_grad_scale=1.0)
    ucfg, PU = kc.untied_twin(plain, P)
    f = params.views(ucfg, fd(ucfg, PU, batch))
    return f["emb"][: kc.V], f["emb"][kc.V:], f


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("alpha", [0.25, 4.0])
def test_input_grad_scale_is_alpha_input_plus_output(arch, alpha):
    cfg, P, batch = setup(arch, bias=True, input_grad_scale=alpha)
    g_in, g_out, rest = twin_fd(cfg, P, batch)
    assert np.abs(g_in).max() > 1e-3 and np.abs(g_out).max() > 1e-3
    G = params.views(cfg, loss_grad(cfg, P, batch)[1])
    np.testing.assert_allclose(G["emb"], alpha * g_in + g_out, rtol=1e-6, atol=1e-8)
    for name in G:
        if name != "emb":  # every other block gets its true gradient
            np.testing.assert_allclose(G[name], rest[name][kc.V:] if name == "out_bias" else rest[name],
                                       rtol=1e-6, atol=1e-8)
    # control: alpha != 1 is not the gradient of the loss, which is the sum of the two roles'
    assert not np.allclose(G["emb"], g_in + g_out, rtol=1e-6, atol=1e-8)
    assert np.allclose(params.views(cfg, plain_gradient(cfg, P, batch))["emb"], g_in + g_out, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("arch", ["bilinear", "lstm"])
def test_input_grad_scale_untied_scales_the_input_rows(arch):
    cfg, P, batch = setup(arch, tied=False, input_grad_scale=3.0)
    true = plain_gradient(cfg, P, batch)
    assert matches(true, fd(cfg, P, batch))
    G, T = params.views(cfg, loss_grad(cfg, P, batch)[1]), params.views(cfg, true)
    assert np.array_equal(G["emb"][kc.V:], T["emb"][kc.V:])
    np.testing.assert_allclose(G["emb"][: kc.V], 3.0 * T["emb"][: kc.V], rtol=1e-14)
    assert np.abs(T["emb"][: kc.V]).max() > 1e-3


# --------------------------------------------------------------------------------- the end points
@pytest.mark.parametrize("arch", ARCHS)
def test_partial_tying_end_points_are_untied_and_tied(arch):
    tied, P_t, batch = setup(arch, bias=True)
    untied = dataclasses.replace(tied, tied=False)
    d = tied.d
    # k = d and k = 0 are the plain configs: same layout, same init draws, no variant in the kernels
    for k, same in ((d, tied), (0, untied)):
        cfg = dataclasses.replace(tied, tied_dims=k)
        assert not cfg.variant and params.layout(cfg)[-1] == params.layout(same)[-1]
        assert params.init_params(cfg, 7).tobytes() == params.init_params(same, 7).tobytes()
    # the general path forced on at the end points: k = 0 is untied bit for bit (disjoint rows, the same
    # sums); k = d is tied up to rounding (the two roles' sums into a row are added in another order)
    P_u = kc.make_params(untied, seed=1)
    for cfg, P, ref in ((dataclasses.replace(tied, tied_dims=1), P_u, untied),
                        (dataclasses.replace(tied, tied_dims=d - 1), P_u, untied)):
        var = Model(cfg, P=P).var
        for k in (0, d):
            forced = (var[0].copy(),) + var[1:]
            forced[0][[V_ON, V_K]] = 1, k
            loss, G = loss_grad(cfg, P, batch, var=forced)
            if k == 0:
                l0, G0 = loss_grad(ref, P, batch)
                assert loss == l0 and G.tobytes() == G0.tobytes()
            else:  # the tied model whose table is the input rows
                n = kc.V * d
                Pt = np.concatenate([P[:n], params.views(ref, P)["out_bias"][kc.V:] if ref.output_bias else [],
                                     P[2 * n + 2 * kc.V * ref.output_bias:]])
                lt, Gt = loss_grad(tied, Pt, batch)
                g = params.views(cfg, G)
                assert loss == lt  # the forward pass reads the same values
                np.testing.assert_allclose(g["emb"][: kc.V], params.views(tied, Gt)["emb"], rtol=1e-10, atol=1e-14)
                assert np.all(g["emb"][kc.V:] == 0.0)  # every output column read from the input rows


@pytest.mark.parametrize("arch", ARCHS)
def test_tie_map_starts_as_plain_tying(arch):
    cfg, P, batch = setup(arch, bias=True, tie_map=True)
    tied = dataclasses.replace(cfg, tie_map=False)
    P0, T0 = params.init_params(cfg, 5), params.init_params(tied, 5)
    assert P0[: T0.size].tobytes() == T0.tobytes()  # the new block draws nothing and moves nothing
    assert np.array_equal(params.views(cfg, P0)["tie_w"], np.eye(cfg.d))
    loss, G = loss_grad(cfg, P0, batch)
    lt, Gt = loss_grad(tied, T0, batch)
    assert loss == lt  # E I is E exactly
    np.testing.assert_allclose(G[: T0.size], Gt, rtol=1e-10, atol=1e-14)
    assert np.abs(params.views(cfg, G)["tie_w"]).max() > 1e-3


def test_model_reads_what_the_roles_read():
    cfg, P, batch = setup("bilinear", bias=True, input_multiplier=2.5, tie_map=True)
    m, w = Model(cfg, P=P), params.views(cfg, P)
    np.testing.assert_array_equal(m.E_in(), 2.5 * w["emb"])
    np.testing.assert_allclose(m.E_out(), w["emb"] @ w["tie_w"], rtol=1e-14)
    np.testing.assert_array_equal(m.b_out(), w["out_bias"])
    # the bilinear h of a length-2 MLM row is the other position's input: c E[1] + pos[0]
    ex = Examples(np.array([[[1, kc.MASK, 0, 0, 0]]], np.int32), np.array([[2]], np.int32),
                  np.array([0, 1], np.int64), np.zeros(1, np.int32), np.ones(1, np.int32), np.zeros(1, np.int32),
                  np.ones(1))
    np.testing.assert_array_equal(m.hidden(ex)[0], 2.5 * w["emb"][1] + w["pos"][0])  # c scales E, not pos
    assert m.loss(ex)[0] != Model(dataclasses.replace(cfg, input_multiplier=1.0), P=P).loss(ex)[0]


# ------------------------------------------------------------------------------------- bad values
@pytest.mark.parametrize("kw,message", [
    (dict(input_grad_scale=-1.0), "input_grad_scale must be a finite number in [0, inf)"),
    (dict(input_grad_scale=float("nan")), "input_grad_scale must be a finite number"),
    (dict(input_multiplier=0.0), "input_multiplier must be a finite number in (0, inf)"),
    (dict(input_multiplier="sqrt(k)"), "input_multiplier must be a positive number or 'sqrt(d)'"),
    (dict(tied=True, tied_dims=5), "tied_dims must be at most d = 4, got 5"),
    (dict(tied=True, tied_dims=-1), "tied_dims must be an integer >= 0"),
    (dict(tied=True, tied_dims=1.5), "tied_dims must be an integer"),
    (dict(tied_dims=2), "tied_dims needs tied embeddings"),
    (dict(tie_map=True), "tie_map needs tied embeddings"),
    (dict(tie_map="yes", tied=True), "tie_map must be true or false"),
    (dict(tied=True, tie_map=True, tied_dims=2), "tie_map maps the whole tied row"),
])
def test_bad_variant_values(kw, message):
    with pytest.raises(InputError, match=re.escape(message)):
        ModelConfig(arch="bilinear", **kw)


def test_config_round_trip_records_the_variant():
    cfg = ModelConfig(arch="mixer", tied=True, input_grad_scale=4.0, input_multiplier="sqrt(d)", tied_dims=2)
    d = cfg.to_dict()
    assert (d["input_grad_scale"], d["input_multiplier"], d["tied_dims"], d["tie_map"]) == (4.0, "sqrt(d)", 2, False)
    assert ModelConfig(**d) == cfg
    assert dataclasses.replace(cfg, d=16).multiplier == 4.0  # sqrt(d) follows d
