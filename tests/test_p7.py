"""P7: the SE-not-CE pair under the tying variants.

The minimal model's fixed point is recomputed here by a second method (running the
alpha-scaled field itself to rest), the numeric half's claims are checked on its
own numbers, and reversing the alpha grid (alpha's role flipped) must fail it.
"""
import json
import math

import numpy as np
import pytest

from tying.experiments.cli import main
from tying.theory import p7_variants
from tying.theory.result import FAIL, PASS


def _rest_by_iteration(p, pi, alpha, beta=1.0, gamma=1.0, eta=0.2, steps=200_000):
    """u where alpha g_in + g_out = 0, by following -(alpha g_in + g_out) from e_a = e_b = 0 (the field is the
    gradient of alpha L_in + L_out in the minimal model, which is strictly convex, so this converges)."""
    sig = lambda x: 1.0 / (1.0 + math.exp(-x))  # noqa: E731
    ea = eb = 0.0
    for _ in range(steps):
        out = beta * (sig(ea - eb) - p)
        fa = alpha * gamma * p * (sig(ea) - pi) + out
        fb = alpha * gamma * (1 - p) * (sig(eb) - pi) - out
        ea, eb = ea - eta * fa, eb - eta * fb
        if abs(fa) + abs(fb) < 1e-14:
            break
    return ea - eb


@pytest.mark.parametrize("alpha", p7_variants.ALPHAS)
def test_fixed_distance_matches_the_field_run_to_rest(alpha):
    u = p7_variants._fixed_distance(0.9, 1 / 3, alpha)
    assert abs(u - _rest_by_iteration(0.9, 1 / 3, alpha)) < 1e-9
    assert 0 < u < math.log(9)  # strictly inside P3's bound log r / |h|, |h| = 1


def test_fixed_distance_limits():
    # alpha -> 0: the output role alone fits the ratio, u -> log r; alpha -> oo: the input role merges the rows
    assert abs(p7_variants._fixed_distance(0.9, 1 / 3, 1e-9) - math.log(9)) < 1e-6
    assert p7_variants._fixed_distance(0.9, 1 / 3, 1e9) < 1e-6
    assert p7_variants._fixed_distance(0.5, 1 / 3, 1.0) == 0.0  # CE: nothing to separate


def test_symbolic_proof_and_controls():
    res = p7_variants.symbolic()
    assert res.status == PASS, res.failures()
    assert res.negative_control["status"] == PASS, res.failures()
    names = [c["name"] for c in res.negative_control["controls"]]
    assert any("p = 1/2" in n for n in names) and any("untied" in n for n in names)
    assert res.numbers["control p=0.5: u by alpha"] == [0.0] * len(p7_variants.ALPHAS)


@pytest.fixture(scope="module")
def quick():
    return p7_variants.numeric(quick=True)


def test_numeric_quick_passes_and_controls_fail(quick):
    assert quick.status == PASS, quick.failures()
    assert quick.negative_control["status"] == PASS, quick.failures()
    controls = [c["name"] for c in quick.negative_control["controls"]]
    assert sum("SE&CE control" in n for n in controls) == 3  # (2) bound, (3) compromise, (3) alpha order
    assert any("untied (k = 0)" in n for n in controls) and any("output role pulls" in n for n in controls)


def test_numeric_numbers_say_what_the_checks_say(quick):
    d = quick.numbers["distance by alpha"]
    assert all(b < a for a, b in zip(d, d[1:]))
    # untied, alpha only scales the input rows' gradient and Adam's step is scale invariant up to eps = 1e-12:
    # the output rows' trajectory is the same
    u = quick.numbers["bilinear seed 0: untied output distance at alpha 0.25, 16"]
    assert abs(u[0] - u[1]) < 1e-6
    assert quick.numbers["D_pair"] == pytest.approx(0.5 * (0.1 * math.log(0.2) + 0.9 * math.log(1.8)), abs=1e-12)
    assert quick.numbers["D_control"] == 0.0


def test_reversed_alpha_grid_fails(monkeypatch):
    """Flip alpha's role: the same runs listed from large to small alpha must fail the ordering check."""
    monkeypatch.setattr(p7_variants, "ALPHAS", tuple(reversed(p7_variants.ALPHAS)))
    res = p7_variants.numeric(quick=True)
    assert res.status == FAIL
    assert any("falls by" in f and "control" not in f for f in res.failures())


def test_falls_needs_the_margin():
    assert p7_variants._falls([1.0, 0.9, 0.8])
    assert not p7_variants._falls([1.0, 0.97, 0.5])  # a 3% step is below STEP
    assert not p7_variants._falls([1.0, 1.1])


def test_verify_cli_runs_p7(capsys):
    code = main(["verify", "--quick", "--json", "--only", "P7"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out[0]["failures"]
    assert out[0]["symbolic"] == out[0]["numeric"] == out[0]["negative_control"] == PASS
    assert set(out[0]["key_numbers"]) == set(p7_variants.KEY_NUMBERS)
