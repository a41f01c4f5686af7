"""Fast versions of the numeric halves: each check holds where its premise holds, and fails without it.

Quantities are recomputed here independently where possible (the population
loss from h by hand, D by enumerating the truth, gradient ratios from the
data's own input frequencies).
"""
import json
import math

import numpy as np
import pytest

from tying.experiments.cli import main
from tying.models import ARCHS
from tying.models.params import D_R
from tying.theory import lab, p1_gradients, p2_contraction, p3_separation, p4_merge_price, p5_semantic, p6_quadrants, registry
from tying.theory.result import PASS


@pytest.fixture(scope="module")
def dh():
    return lab.parity(3)


# ------------------------------------------------------------------ lab
def test_parity_population_and_truth(dh):
    assert math.isclose(dh.pop.tgt_w.sum(), 1.0, rel_tol=1e-12)
    # the paper's DH numbers: Bayes accuracy 0.7, CE 0.5 H(0.1) + 0.5 ln 2, D(0,1) = 0.5 KL(0.1 || 0.5)
    h01 = -(0.1 * math.log(0.1) + 0.9 * math.log(0.9))
    assert math.isclose(dh.truth.accuracy(), 0.7, rel_tol=1e-12)
    assert math.isclose(dh.truth.cross_entropy(), 0.5 * h01 + 0.5 * math.log(2), rel_tol=1e-12)
    assert math.isclose(dh.truth.dh_violation(0, 1), 0.5 * (0.1 * math.log(0.2) + 0.9 * math.log(1.8)), rel_tol=1e-12)


def test_pair_conditionals_match_truth(dh):
    ctx, pa, pb, px = lab.pair_conditionals(dh, 0, 1)
    first = np.unique(ctx, return_index=True)[1]
    assert math.isclose(px[first].sum(), 1.0, rel_tol=1e-12)
    assert len(first) == dh.truth.n_contexts
    # parity DH: the bit-0 variants are 0.1 / 0.9 wherever bit 0 is possible, else both 0
    k = pa + pb > 0
    assert np.allclose(pa[k], 0.1) and np.allclose(pb[k], 0.9) and np.all(pa[~k] == 0)


def test_allomorph_corpus_relations():
    s = lab.parity_allomorph(3)
    se, _ = s.truth.semantic_equivalent(0, 1)
    assert se is True and not s.truth.conditional_equivalent(0, 1)
    ctx, pa, pb, _ = lab.pair_conditionals(s, 0, 1)
    k = pa + pb > 0
    ratios = np.unique(np.round(np.log(pa[k] / pb[k]), 9))
    assert np.allclose(ratios, [-math.log(9), 0.0, math.log(9)])


def test_head_recomputation_matches_kernel_loss(dh):
    for arch in ("bilinear", "mixer", "transformer"):
        m = lab.model(dh, arch, seed=5, output_bias=True)
        m.views()["out_bias"][...] = np.linspace(-1, 1, m.dims[D_R])
        assert abs(m.loss(dh.pop)[0] - lab.fit_loss(m, dh.pop)) < 1e-12


def test_optimizer_step_returns_the_pre_update_gradient(dh):
    m = lab.model(dh, "bilinear", seed=0)
    P0 = m.P.copy()
    _, _, G = m.loss_grad(dh.pop)
    g = lab.Descent(m, dh.pop, "sgd", lr=0.1, wd=0.01).step()
    assert np.array_equal(g, G)
    assert np.allclose(m.P, P0 - 0.1 * (G + 0.01 * P0), rtol=0, atol=1e-15)


# ------------------------------------------------------------------ P1
def test_p1_numeric():
    res = p1_gradients.numeric(quick=True)
    assert res.status == PASS, res.failures()
    assert res.negative_control["status"] == PASS
    assert res.numbers["max_rel_err_fd"] <= 1e-6
    assert res.numbers["checked"] == {arch: 16 for arch in ARCHS}


def test_p1_finite_differences_catch_a_wrong_gradient(dh):
    # the gradient check itself can fail: a perturbed gradient is far from finite differences
    ex = p1_gradients._batch(6, 5, 3, False, np.random.default_rng(0))
    cfg = p1_gradients.ModelConfig(arch="transformer").fit(6, 5, "mlm")
    m = p1_gradients.Model(cfg, seed=0)
    _, _, G = m.loss_grad(ex)
    fd = p1_gradients._fd(m, ex)
    assert p1_gradients._rel(G, fd) < 1e-6
    G[0] += 1e-3 * np.linalg.norm(G)
    assert p1_gradients._rel(G, fd) > 1e-5


# ------------------------------------------------------------------ P2
def test_p2_step_bound_ce_pair_holds_and_non_ce_pair_breaks_it(dh):
    out = p2_contraction._descent(dh, "bilinear", False, {"ce": (2, 3), "non_ce": (0, 1)}, 300, 0.5, 0.01, seed=1)
    assert out["ce"]["excess"] <= p2_contraction.STEP_TOL
    assert out["non_ce"]["excess"] > 1e-4
    # weight decay alone would leave (1 - 0.005)^300 of the start: the CE pair ends below it, the non-CE pair above
    decay = (1 - 0.5 * 0.01) ** 300
    assert out["ce"]["end"] <= decay * out["ce"]["start"]
    assert out["non_ce"]["end"] > 1.5 * decay * out["non_ce"]["start"]


def test_p2_swap_and_equal_rows(dh):
    swap, gap = p2_contraction._symmetry(dh, "mixer", (2, 3), seed=0)
    assert swap < 1e-12 and gap < 1e-12
    swap, gap = p2_contraction._symmetry(dh, "mixer", (0, 1), seed=0)
    assert swap > 1e-6 and gap > 1e-6


# ------------------------------------------------------------------ P3
def test_p3_numeric():
    res = p3_separation.numeric(quick=True)
    assert res.status == PASS, res.failures()
    assert res.negative_control["status"] == PASS
    n = res.numbers
    # the data bound uses log 9 and the model's |h|: never more than log 9 / min |h|, and the paper's form is smaller
    assert n["skewed no bias: paper_bound"] <= n["skewed no bias: bound"]
    assert n["skewed no bias: distance"] >= 0.9 * n["skewed no bias: bound"]
    # the control's merged biased model: rows exactly equal; merging the rows leaves h, so its no-bias bound, unchanged
    assert n["skewed merged bias: distance"] == 0.0
    assert math.isclose(n["skewed merged bias: bound_no_bias"], n["skewed no bias: bound_no_bias"], rel_tol=1e-12)
    assert n["skewed merged bias: bound_no_bias"] >= n["skewed no bias: paper_bound"] > 0


def test_p3_merged_model_fits_with_equal_rows():
    # o_a := o_b with b_a - b_b = log(1/9) on a no-bias model: equal rows, and the loss changes by the
    # rows' fit alone (checked against the head recomputed from h)
    s = lab.parity(3)
    m, _ = lab.fitted(3, "mixer", steps=300, corpus="dh")
    loss, db, u = p3_separation._merge_rows(m, s, 0, 1, math.log(1 / 9))
    assert u.cfg.output_bias and db == math.log(1 / 9)
    E = u.E_out()
    assert np.array_equal(E[0], E[1]) and math.isclose(u.b_out()[0] - u.b_out()[1], db, rel_tol=1e-12)
    assert math.isclose(loss, lab.fit_loss(u, s.pop), rel_tol=1e-12)
    assert not np.array_equal(m.E_out()[0], m.E_out()[1])  # the trained model itself is left as it was


def test_p3_best_bias_ratio_closed_form():
    # the best shared-row ratio is the mass-weighted mean of rho: for the allomorph 1/2, for parity DH 0.1
    s = lab.parity_allomorph(3)
    m = lab.model(s, "bilinear", seed=0, output_bias=True)
    g = p3_separation._geometry(m, s, 0, 1)
    assert math.isclose(g["best_bias_ratio"], 0.5, rel_tol=1e-12)
    # symmetric ratios 1/9, 1, 9 with equal masses: the bias cannot help, D_bias = D
    assert math.isclose(g["D_bias"], g["D_half"], rel_tol=1e-12)
    assert math.isclose(g["D_half"], s.truth.dh_violation(0, 1), rel_tol=1e-12)


def test_p3_two_context_bound_by_hand():
    # the bias-free two-context bound max |log r(x) - log r(x')| / |h(x) - h(x')|, recomputed pair by pair
    allo, skew = lab.parity_allomorph(3), lab.parity(3)
    for seed in range(3):
        m = lab.model(allo, "mixer", seed=seed, output_bias=True)
        ctx, pa, pb, _ = lab.pair_conditionals(allo, 0, 1)
        _, first = np.unique(ctx, return_index=True)
        h, _, _ = lab.head(m, allo.pop)
        k = (pa + pb)[first] > 0
        h, logr = h[first][k], np.log(pa[first][k] / pb[first][k])
        want = max(abs(logr[i] - logr[j]) / np.linalg.norm(h[i] - h[j])
                   for i in range(len(h)) for j in range(i) if abs(logr[i] - logr[j]) > 1e-6)
        assert p3_separation._geometry(m, allo, 0, 1)["pair_bound"] == pytest.approx(want, rel=1e-12)
        # a constant ratio gives the bound nothing, not rounding over nearly equal h
        assert p3_separation._geometry(lab.model(skew, "mixer", seed=seed), skew, 0, 1)["pair_bound"] == 0.0


# ------------------------------------------------------------------ P4
def test_p4_numeric():
    res = p4_merge_price.numeric(quick=True)
    assert res.status == PASS, res.failures()
    assert res.negative_control["status"] == PASS
    assert abs(res.numbers["D_01"] - 0.1840) < 5e-5


# ------------------------------------------------------------------ P5
def test_p5_gradient_ratio_uses_data_frequencies(dh):
    # parity DH, 3 bits: each visible bit is 0 w.p. 1/2, and 0a w.p. 0.1 of those; 2 visible bits per context
    assert math.isclose(lab.input_freq(dh, 0), 2 * 0.5 * 0.1, rel_tol=1e-12)
    assert math.isclose(lab.input_freq(dh, 1), 2 * 0.5 * 0.9, rel_tol=1e-12)
    gap, _ = p5_semantic._grad_at_equal(dh, "transformer", 0, 1, seed=2)
    assert gap < 1e-10
    gap, cos = p5_semantic._grad_at_equal(dh, "transformer", 0, 2, seed=2)
    assert gap > 1e-6 and cos > 1e-8


def test_p5_sgd_keeps_equal_weights_equal_and_splits_unequal(dh):
    assert p5_semantic._keeps_equal(dh, "bilinear", 2, 3, "sgd", 200, seed=3) <= 1e-10
    assert p5_semantic._keeps_equal(dh, "bilinear", 0, 1, "sgd", 200, seed=3) > 1e-4
    # Adam's per-coordinate scale invariance keeps even the 0.1 / 0.9 pair together (up to eps)
    assert p5_semantic._keeps_equal(dh, "bilinear", 0, 1, "adamw", 200, seed=3) <= 1e-6


# ------------------------------------------------------------------ P6
def test_p6_quadrant_corpus_relations():
    s = p6_quadrants.quadrant_corpus()
    V = s.corpus.vocab
    for (a, b), (se, ce) in p6_quadrants.QUADRANTS.values():
        assert s.truth.semantic_equivalent(V.index(a), V.index(b))[0] is se
        assert s.truth.conditional_equivalent(V.index(a), V.index(b)) == ce
    # the coin's copy targets are exactly the =H / =T targets, and each is certain given its prefix
    copy = p6_quadrants._targets(s, V.index("H"), V.index("T"), copy=True)
    assert copy.any() and set(np.array(V)[s.pop.tgt_sym[copy]]) == {"=H", "=T"}


def test_p6_holds_by_hand():
    m = {"untied in": (1.0, 0.4), "untied out": (1.0, 0.6), "tied": (0.5, 0.05), "excess": -0.2}
    assert p6_quadrants.holds({"untied in": "shrinks", "untied out": "shrinks"}, m) == \
        {"untied in": True, "untied out": False}
    either = {"untied out": "apart", "tied": "apart or loses the copy"}
    assert p6_quadrants.holds(either, m) == {"untied out": True, "tied": False}
    assert p6_quadrants.holds(either, {**m, "excess": 0.3}) == {"untied out": True, "tied": True}
    assert p6_quadrants.holds(either, {**m, "tied": (0.5, 0.2)}) == {"untied out": True, "tied": True}


@pytest.mark.parametrize("n, k", [(5, 5), (10, 9), (20, 15)])  # P(X >= k) by hand: 1/32, 11/1024, 0.0207
def test_p6_sign_test_threshold(n, k):
    assert p6_quadrants.needed(n) == k
    tail = lambda j: sum(math.comb(n, i) for i in range(j, n + 1)) / 2 ** n  # noqa: E731
    assert tail(k) <= 0.05 < tail(k - 1)


def test_p6_scores_agree_with_the_numba_head():
    s = p6_quadrants.quadrant_corpus()
    m = lab.model(s, "transformer", seed=1)
    ce, hit = p6_quadrants._scores(m, s)
    everything = np.ones(len(ce), bool)
    loss, acc = m.loss(s.pop)  # the training kernel's own forward: loss and weighted accuracy
    assert p6_quadrants._mean(s, ce, everything) == pytest.approx(loss, rel=1e-10)
    assert p6_quadrants._mean(s, hit, everything) == pytest.approx(acc, abs=1e-12)


def test_p6_bilinear_one_seed_matches_and_opposite_fails():
    s = p6_quadrants.quadrant_corpus()
    m = p6_quadrants.measure(s, "bilinear", 0, p6_quadrants.STEPS)
    for q, pred in p6_quadrants.PREDICTIONS.items():
        assert all(p6_quadrants.holds(pred, m[q]).values()), (q, m[q])
        assert not all(p6_quadrants.holds(p6_quadrants.PREDICTIONS[p6_quadrants.OPPOSITE[q]], m[q]).values())


# ------------------------------------------------------------------ CLI
def test_verify_cli_json(capsys):
    code = main(["verify", "--quick", "--json", "--only", "P4"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [e["id"] for e in out] == ["P4"]
    e = out[0]
    assert {"id", "statement", "symbolic", "numeric", "negative_control", "numbers"} <= set(e)
    assert e["symbolic"] == e["numeric"] == e["negative_control"] == PASS
    assert abs(e["numbers"]["D_01"] - 0.1840) < 5e-5


def test_verify_cli_table(capsys):
    code = main(["verify", "--quick", "--only", "p4"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0].split()[:3] == ["proposition", "symbolic", "numeric"]
    assert "P4" in out and "D_01=" in out


def test_verify_cli_unknown_proposition(capsys):
    assert main(["verify", "--only", "P9"]) == 2
    err = capsys.readouterr().err
    assert "unknown proposition 'P9'" in err and len(err.strip().splitlines()) == 1


def test_verify_exit_code_on_failure(monkeypatch, capsys):
    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(p4_merge_price, "symbolic", broken)
    assert main(["verify", "--quick", "--json", "--only", "P4"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out[0]["symbolic"] == "error" and "RuntimeError: boom" in out[0]["failures"][0]
    assert registry.passed(out) is False
