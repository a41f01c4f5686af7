"""Mean and 95% CI across seeds, as seaborn's lineplot draws them by default.

seaborn's default band is a percentile bootstrap of the mean (n_boot=1000,
95%).  Here the bootstrap is seeded, so a figure is the same every time, and
one resample of seeds is shared by every step: a resample picks whole runs,
which keeps the band as smooth as the curves.
"""
from __future__ import annotations

import numpy as np

from generators.errors import InputError

_CHUNK = 512  # steps per gather, to bound memory at n_boot * n_seeds * _CHUNK floats


def as_seeds(values, name: str = "values") -> np.ndarray:
    """``values`` as a finite float64 array whose first axis is the seed."""
    a = np.asarray(values, dtype=np.float64)
    if a.ndim not in (1, 2) or a.shape[0] == 0 or a.size == 0:
        raise InputError(f"{name} must be a non-empty array of shape (n_seeds,) or (n_seeds, n_steps), got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise InputError(f"{name} holds non-finite values (a diverged run?); drop those seeds first")
    return a


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
