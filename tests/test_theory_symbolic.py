"""The symbolic halves of P1-P6: each proof goes through and each negative control fails as it should.

Beside the proofs, the helpers they rest on are checked against values worked
out by hand or computed independently in floating point.
"""
import math

import numpy as np
import pytest
import sympy as sp

from tying.theory import p1_gradients, p2_contraction, p3_separation, p4_merge_price, p5_semantic, p6_quadrants, sym
from tying.theory.result import FAIL, PASS, Result


@pytest.mark.parametrize("module", [p1_gradients, p2_contraction, p3_separation, p4_merge_price, p5_semantic,
                                    p6_quadrants], ids=lambda m: m.ID)
def test_symbolic_proof_and_controls(module):
    res = module.symbolic()
    assert res.status == PASS, res.failures()
    assert res.checks and all(c["ok"] for c in res.checks)
    # every symbolic half has at least one control, and each control's check fails
    assert res.negative_control["status"] == PASS, res.failures()
    assert res.negative_control["controls"]


def test_result_control_semantics():
    r = Result("PX", "numeric", "s")
    assert r.negative_control["status"] == "n/a"
    r.control("premise removed, check fails", check_holds=False)
    assert r.negative_control["status"] == PASS and r.ok
    r.control("premise removed, check still holds", check_holds=True)
    assert r.negative_control["status"] == FAIL and not r.ok
    r.check("a failing check", False, 1.0)
    assert r.status == FAIL and "a failing check" in r.failures()
    assert r.to_dict()["checks"][0]["value"] == 1.0


def test_result_json_clean():
    r = Result("PX", "numeric", "s")
    r.number(a=np.float64(0.5), b=np.int64(3), c=float("inf"), d=[np.float32(1.5)])
    assert r.numbers == {"a": 0.5, "b": 3, "c": "inf", "d": [1.5]}
    assert type(r.numbers["a"]) is float and type(r.numbers["b"]) is int


def test_nonzero_somewhere_is_a_proof_and_zero_is_not_flagged():
    x, y = sp.symbols("x y", real=True)
    assert sym.nonzero_somewhere(x - y)
    assert not sym.nonzero_somewhere((x + y) ** 2 - x**2 - 2 * x * y - y**2)
    assert sym.is_zero(sp.log(sp.exp(x)) - x)


def test_softmax_helpers_against_floats():
    z = [sp.Rational(1, 3), sp.Rational(-2, 5), sp.Rational(7, 4)]
    q = [float(v) for v in sym.softmax(z)]
    zf = np.array([float(v) for v in z])
    ref = np.exp(zf - zf.max()) / np.exp(zf - zf.max()).sum()
    assert np.allclose(q, ref, rtol=0, atol=1e-15)
    assert math.isclose(float(sym.ce(z, 1)), -math.log(ref[1]), rel_tol=1e-14)


def test_sign_lemma_on_random_logits():
    # (q_a - q_b)(z_a - z_b) >= 0, checked in floating point, independently of the sympy proof
    rng = np.random.default_rng(0)
    z = rng.normal(scale=5, size=(10000, 4))
    q = np.exp(z - z.max(1, keepdims=True))
    q /= q.sum(1, keepdims=True)
    assert np.all((q[:, 0] - q[:, 1]) * (z[:, 0] - z[:, 1]) >= 0)


def test_kl_half_by_hand():
    # KL(Bern(0.1) || Bern(0.5)) = 0.1 ln 0.2 + 0.9 ln 1.8, and the parity DH number D(0,1) ~= 0.1840
    by_hand = 0.1 * math.log(0.2) + 0.9 * math.log(1.8)
    assert math.isclose(p4_merge_price.kl_half(0.1), by_hand, rel_tol=1e-15)
    assert abs(0.5 * by_hand - 0.1840) < 5e-5
    assert p4_merge_price.kl_half(0.5) == 0.0
    assert math.isclose(p4_merge_price.kl_half(1.0), math.log(2), rel_tol=1e-15)
    assert math.isclose(float(p4_merge_price.kl_half(sp.Rational(1, 10))), by_hand, rel_tol=1e-15)


def test_merge_price_matches_brute_force_minimisation():
    # P4 for one context, by brute force over the shared logit: CE(s) - H(p) on a fine grid
    p = np.array([0.08, 0.32, 0.6])  # (a, b, rest): rho = 0.2, p_a + p_b = 0.4
    s = np.linspace(-6, 6, 200001)
    q_pair = np.exp(s) / (2 * np.exp(s) + 1)
    ce = -(p[0] + p[1]) * np.log(q_pair) - p[2] * np.log(1 - 2 * q_pair)
    excess = ce.min() + np.sum(p * np.log(p))
    assert math.isclose(excess, 0.4 * p4_merge_price.kl_half(0.2), rel_tol=1e-8)
