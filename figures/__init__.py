"""Figures in the paper's style, with matplotlib alone, and the statistics they draw.

The face (what the layers above may import)::

    plot_accuracy            accuracy.py    accuracy over steps, mean ± CI over seeds, Bayes line
    plot_distances           distances.py   embedding distances of symbol pairs over steps
    plot_maps, pca2          maps.py        2-D maps of input and output rows
    plot_quadrants           quadrants.py   the four SE x CE quadrants against the theory's prediction
    plot_learned_fraction    learning.py    fraction of runs that learned by step t
    plot_price               variants.py    tying variants: the price of tying against the DH violation D
    plot_by_variant          variants.py    tying variants: per variant, a value per series (distances, prices)
    plot_audit               audit.py       a DH audit: distance from SE against distance from CE, per pair
    plot_convergence         audit.py       the audit's error in D against the sample size
    mean_ci, wilson_interval, group_permutation_test, as_seeds   stats.py

Names load on first use (PEP 562): the claims read its statistics without importing matplotlib.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from tying.core import lazy

if TYPE_CHECKING:  # the explicit imports, for readers and tools
    from .accuracy import plot_accuracy
    from .audit import plot_audit, plot_convergence
    from .distances import plot_distances
    from .learning import learned_fraction, plot_learned_fraction
    from .maps import pca2, plot_maps
    from .quadrants import plot_quadrants
    from .variants import plot_by_variant, plot_price
    from .stats import as_seeds, group_permutation_test, mean_ci, wilson_interval

_FACE = {
    "plot_accuracy": ".accuracy",
    "plot_audit": ".audit",
    "plot_convergence": ".audit",
    "plot_distances": ".distances",
    "learned_fraction": ".learning",
    "plot_learned_fraction": ".learning",
    "pca2": ".maps",
    "plot_maps": ".maps",
    "plot_quadrants": ".quadrants",
    "plot_price": ".variants",
    "plot_by_variant": ".variants",
    "as_seeds": ".stats",
    "group_permutation_test": ".stats",
    "mean_ci": ".stats",
    "wilson_interval": ".stats",
}
__all__ = ["plot_accuracy", "plot_distances", "learned_fraction", "plot_learned_fraction", "pca2",
           "plot_maps", "plot_quadrants", "as_seeds", "group_permutation_test", "mean_ci", "wilson_interval",
           "plot_audit", "plot_convergence", "plot_price", "plot_by_variant"]

__getattr__, __dir__ = lazy.face(globals(), _FACE)
