"""Mean and 95% CI across seeds, as seaborn's lineplot draws them by default.

seaborn's default band is a percentile bootstrap of the mean (n_boot=1000,
95%).  Here the bootstrap is seeded, so a figure is the same every time, and
one resample of seeds is shared by every step: a resample picks whole runs,
which keeps the band as smooth as the curves.

Two tests for an experiment report sit here as well: ``wilson_interval``, the
Wilson score interval of a binomial proportion (how often a seed learned), and
``group_permutation_test``, a permutation test of whether a per-run outcome
depends on the run's group (e.g. its data split).
"""
from __future__ import annotations

import math
import operator
import statistics

import numpy as np

from tying.core.errors import InputError

_CHUNK = 512  # steps per gather, to bound memory at n_boot * n_seeds * _CHUNK floats


def as_seeds(values, name: str = "values") -> np.ndarray:
    """``values`` as a finite float64 array whose first axis is the seed."""
    a = np.asarray(values, dtype=np.float64)
    if a.ndim not in (1, 2) or a.shape[0] == 0 or a.size == 0:
        raise InputError(f"{name} must be a non-empty array of shape (n_seeds,) or (n_seeds, n_steps), got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise InputError(f"{name} holds non-finite values (a diverged run?); drop those seeds first")
    return a


def final_ci(values, name: str = "values") -> tuple:
    """``(a, mean, lo, hi)``: one final value per seed as ``as_seeds`` checks it, 1-D, and its 95% CI."""
    a = as_seeds(values, name)
    if a.ndim != 1:
        raise InputError(f"{name} must be 1-D (one final value per seed), got {a.shape}")
    return (a, *mean_ci(a))


def _mean(a: np.ndarray) -> np.ndarray:
    # The one reduction for both the sample and its resamples, so that seeds
    # which all agree give a band that equals the mean to the last bit.
    return a.mean(axis=-2)


def mean_ci(values, ci: float = 95.0, n_boot: int = 1000, seed: int = 0):
    """Return ``(mean, lo, hi)`` over the seed axis (axis 0) of ``values``.

    ``values`` has shape (n_seeds,) or (n_seeds, n_steps); the outputs have the
    shape of one seed.  ``lo``/``hi`` are the (50 -/+ ci/2) percentiles of
    ``n_boot`` bootstrap means, with resamples drawn from ``default_rng(seed)``.
    """
    a = as_seeds(values)
    if not 0 < ci < 100:
        raise InputError(f"ci must be in (0, 100), got {ci}")
    if n_boot < 1:
        raise InputError(f"n_boot must be >= 1, got {n_boot}")
    one = a.ndim == 1
    a = np.ascontiguousarray(a[:, None] if one else a)
    n = a.shape[0]
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    mean = _mean(a)
    lo, hi = np.empty_like(mean), np.empty_like(mean)
    for c in range(0, a.shape[1], _CHUNK):
        boots = _mean(a[:, c : c + _CHUNK][idx])  # (n_boot, chunk)
        lo[c : c + _CHUNK], hi[c : c + _CHUNK] = np.percentile(boots, [50 - ci / 2, 50 + ci / 2], axis=0)
    if one:
        return mean[0], lo[0], hi[0]
    return mean, lo, hi


_Z95 = 1.959963984540054  # the 97.5% normal quantile, as the literature tabulates it


def wilson_interval(k, n, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval ``(lo, hi)`` of the proportion ``k / n``.

    Unlike the normal (Wald) interval it stays inside [0, 1] and does not
    collapse to a point when every seed or no seed learned.
    """
    try:
        k, n = operator.index(k), operator.index(n)
    except TypeError:
        raise InputError(f"k and n must be integers (successes, trials), got {k!r} and {n!r}") from None
    if n < 1:
        raise InputError(f"n must be at least 1 trial, got {n}")
    if not 0 <= k <= n:
        raise InputError(f"k must be a count of successes in 0..{n}, got {k}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be in (0, 1), got {confidence}")
    z = _Z95 if confidence == 0.95 else statistics.NormalDist().inv_cdf(0.5 + confidence / 2)
    p, z2 = k / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # At k = 0 (k = n) the lower (upper) end is exactly 0 (1); rounding would leave it a hair inside.
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return lo, hi


_PERM_CHUNK = 1024  # permutations per batch, to bound memory at _PERM_CHUNK * n_runs floats


def _between_group(y: np.ndarray, onehot: np.ndarray, sizes: np.ndarray, grand: float) -> np.ndarray:
    """sum_g n_g (mean_g - grand)^2 for each row of ``y`` (rows: runs in one order)."""
    means = (y @ onehot) / sizes
    return ((means - grand) ** 2 * sizes).sum(axis=-1)


def group_permutation_test(indicator, groups, n_perm: int = 10000, seed: int = 0) -> float:
    """p-value for "the outcome depends on the group", by permuting outcomes across runs.

    ``indicator`` holds one outcome per run (0/1, or real); ``groups`` the
    run's group label.  The statistic is the between-group variance of the
    group means; permutations keep every group's size.  p counts the observed
    arrangement as one of the permutations, so it is never 0.
    """
    y = np.asarray(indicator, dtype=np.float64)
    g = np.asarray(groups)
    if y.ndim != 1 or y.size == 0 or not np.all(np.isfinite(y)):
        raise InputError(f"indicator must be a non-empty finite 1-D array of outcomes, got shape {y.shape}")
    if g.shape != y.shape:
        raise InputError(f"groups must give one label per run: {g.shape} labels for {y.size} outcomes")
    try:
        n_perm = operator.index(n_perm)
    except TypeError:
        raise InputError(f"n_perm must be an integer, got {n_perm!r}") from None
    if n_perm < 1:
        raise InputError(f"n_perm must be at least 1, got {n_perm}")
    _, codes = np.unique(g, return_inverse=True)
    onehot = np.eye(codes.max() + 1)[codes.ravel()]
    sizes = onehot.sum(axis=0)
    grand = y.mean()
    observed = _between_group(y, onehot, sizes, grand)
    rng = np.random.default_rng(seed)
    hits = 0
    for c in range(0, n_perm, _PERM_CHUNK):
        perms = rng.permuted(np.tile(y, (min(_PERM_CHUNK, n_perm - c), 1)), axis=1)
        # The tolerance keeps ties that differ only by summation order counted as ties.
        hits += int(np.count_nonzero(_between_group(perms, onehot, sizes, grand) >= observed - 1e-12))
    return (1 + hits) / (1 + n_perm)
