import itertools
import statistics

import numpy as np
import pytest

from tying.figures.stats import group_permutation_test, wilson_interval
from tying.core.errors import InputError

Z = 1.959963984540054

# ---------------------------------------------------------------- Wilson interval


def test_wilson_hand_values():
    # k = 0: lo = 0 and hi = (z^2/n) / (1 + z^2/n); z^2 = 3.841459, n = 5 -> 0.768292 / 1.768292.
    lo, hi = wilson_interval(0, 5)
    assert lo == 0.0 and hi == pytest.approx(0.434482, abs=1e-6)
    # k = n mirrors k = 0.
    lo, hi = wilson_interval(5, 5)
    assert lo == pytest.approx(0.565518, abs=1e-6) and hi == 1.0
    # k = 3, n = 10: centre (0.3 + 0.192073) / 1.384146 = 0.355507,
    # half 1.959964 / 1.384146 * sqrt(0.021 + 0.009604) = 1.416009 * 0.174939 = 0.247715.
    lo, hi = wilson_interval(3, 10)
    assert lo == pytest.approx(0.107791, abs=1e-6) and hi == pytest.approx(0.603222, abs=1e-6)


def _score_inverted(k, n, z):
    """The interval as the p0 the score test does not reject: (k - n p0)^2 <= z^2 n p0 (1 - p0), by bisection."""
    def f(p0):
        return (k - n * p0) ** 2 - z * z * n * p0 * (1 - p0)

    def root(a, b):  # f(a) and f(b) have opposite signs (or one is 0)
        for _ in range(200):
            m = (a + b) / 2
            if (f(m) > 0) == (f(a) > 0):
                a = m
            else:
                b = m
        return (a + b) / 2

    phat = k / n
    lo = 0.0 if k == 0 else root(0.0, phat)
    hi = 1.0 if k == n else root(phat, 1.0)
    return lo, hi


@pytest.mark.parametrize("confidence", [0.95, 0.8, 0.99])
def test_wilson_matches_the_inverted_score_test(confidence):
    z = Z if confidence == 0.95 else statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    for n in (1, 2, 3, 5, 8, 13, 40, 101):
        for k in range(n + 1):
            got = wilson_interval(k, n, confidence)
            want = _score_inverted(k, n, z)
            np.testing.assert_allclose(got, want, atol=1e-12)
            assert 0 <= got[0] <= k / n <= got[1] <= 1


def test_wilson_narrows_with_level_and_trials():
    w = lambda k, n, c=0.95: np.subtract(*wilson_interval(k, n, c)[::-1])
    assert w(3, 10, 0.8) < w(3, 10) < w(3, 10, 0.99)
    assert w(30, 100) < w(3, 10)
    assert wilson_interval(np.int64(2), np.int64(4)) == wilson_interval(2, 4)


@pytest.mark.parametrize("k, n, match", [(0, 0, "n must"), (-1, 5, "k must"), (6, 5, "k must"),
                                         (1.5, 5, "integers"), (1, "5", "integers")])
def test_wilson_bad_counts(k, n, match):
    with pytest.raises(InputError, match=match):
        wilson_interval(k, n)


@pytest.mark.parametrize("c", [0, 1, 1.5, -0.1])
def test_wilson_bad_confidence(c):
    with pytest.raises(InputError, match="confidence"):
        wilson_interval(1, 2, c)


# ---------------------------------------------------------------- permutation test


def _statistic(y, groups):
    grand = sum(y) / len(y)
    by = {}
    for v, g in zip(y, groups):
        by.setdefault(g, []).append(v)
    return sum(len(vs) * (sum(vs) / len(vs) - grand) ** 2 for vs in by.values())


@pytest.mark.parametrize("y", [[1, 1, 0, 1, 0, 0], [1, 0, 1, 0, 0, 0], [0.5, 2.0, -1.0, 3.0, 0.0, 0.25]])
def test_permutation_p_approaches_the_exact_p(y):
    groups = ["a", "a", "b", "b", "c", "c"]
    observed = _statistic(y, groups)
    # All 6! orderings are equally likely under the null, so the exact p is a plain fraction.
    stats = [_statistic(perm, groups) for perm in itertools.permutations(y)]
    exact = np.mean([s >= observed - 1e-12 for s in stats])
    p = group_permutation_test(y, groups, n_perm=40000, seed=1)
    # Monte Carlo standard error at 40000 permutations is at most 0.0025.
    assert abs(p - exact) < 0.01, (p, exact)


def test_permutation_strong_dependence_gives_a_small_p():
    groups = np.repeat(np.arange(4), 8)
    y = (groups < 2).astype(float)  # groups 0 and 1 always learn, 2 and 3 never
    # Only the 1 / C(32, 16) arrangements that split exactly by group reach the observed value.
    p = group_permutation_test(y, groups, n_perm=2000)
    assert p == 1 / 2001


def test_permutation_same_outcomes_in_every_group_gives_one():
    groups = np.repeat(["s1", "s2", "s3"], 4)
    y = np.tile([1, 0, 0, 1], 3)  # every group: two learned, two did not
    assert group_permutation_test(y, groups, n_perm=500) == 1.0
    assert group_permutation_test(np.ones(12), groups, n_perm=500) == 1.0


def test_permutation_independent_outcomes_are_not_significant():
    # Negative control: outcomes drawn without regard to the group.
    rng = np.random.default_rng(11)
    groups = np.repeat(np.arange(5), 6)
    ps = np.array([group_permutation_test(rng.permutation((rng.random(30) < 0.4).astype(float)), groups,
                                          n_perm=499, seed=s) for s in range(40)])
    # Under the null p is about uniform: mean near 1/2, few below 0.05.
    assert 0.35 < ps.mean() < 0.7
    assert np.mean(ps < 0.05) <= 0.15


def test_permutation_is_deterministic_for_a_seed():
    rng = np.random.default_rng(0)
    y, g = rng.random(20), np.repeat(np.arange(4), 5)
    a = group_permutation_test(y, g, n_perm=3000, seed=5)
    assert a == group_permutation_test(y.copy(), g.copy(), n_perm=3000, seed=5)
    assert a != group_permutation_test(y, g, n_perm=3000, seed=6)
    # Batching is an implementation detail: a count not a multiple of the batch works.
    assert 0 < group_permutation_test(y, g, n_perm=1, seed=0) <= 1


@pytest.mark.parametrize("y, g, kw, match", [
    ([], [], {}, "indicator"),
    ([1, np.nan], [0, 1], {}, "indicator"),
    ([1, 0, 1], [0, 1], {}, "one label per run"),
    ([1, 0], [0, 1], {"n_perm": 0}, "n_perm"),
    ([1, 0], [0, 1], {"n_perm": 2.5}, "n_perm"),
])
def test_permutation_bad_input(y, g, kw, match):
    with pytest.raises(InputError, match=match):
        group_permutation_test(y, g, **kw)
