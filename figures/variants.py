"""Tying variants compared: the price of tying against the DH violation D, and the pair distances per variant."""
from __future__ import annotations

import numpy as np
from tying.core.errors import InputError

from . import style
from .stats import as_seeds, mean_ci

ROLES = {"in": "input rows", "out": "output rows"}


def plot_price(D, prices: dict, out=None, title: str | None = None, *, force: bool = False):
    """One line per variant: the mean price (excess loss over untied, nats) at each D, with its 95% CI band.

    ``D`` = the DH violation of each corpus (n_D,); ``prices`` = {variant: array (n_seeds, n_D)}.  Returns
    the Figure and writes ``out``.png/.pdf unless ``out`` is None.
    """
    x = style.steps_array(D)
    if not prices:
        raise InputError("prices must name at least one variant")
    order = np.argsort(x, kind="stable")
    with style.context():
        fig = style.figure(style.COLUMN, 2.6)
        ax = fig.subplots()
        ax.axhline(0.0, color="0.6", linewidth=0.6, zorder=0)
        for j, (name, values) in enumerate(prices.items()):
            a = as_seeds(values, f"prices[{name!r}]")
            if a.ndim != 2 or a.shape[1] != len(x):
                raise InputError(f"prices[{name!r}] must have shape (n_seeds, {len(x)}), got {a.shape}")
            color = style.color_for(name, style.SERIES, j)
            style.mean_band(ax, x[order], a[:, order], name, color=color, marker=style.MARKERS[j % 8],
                            markersize=3, linestyle=style.LINESTYLES[j % len(style.LINESTYLES)])
        ax.set_xlabel("DH violation D of the SE pair (nats)")
        ax.set_ylabel("price of tying (nats over untied)")
        ax.legend(fontsize="x-small", ncol=2, frameon=False)
        if title:
            ax.set_title(title)
    if out is not None:
        style.save(fig, out, force=force)
    return fig


def plot_pair_distances(values: dict, out=None, title: str | None = None, *, reference: float = 1.0,
                        force: bool = False):
    """Per variant (rows), the pair's final distance over the reference pairs' median, in each role:
    the mean with 95% CI whiskers and one dot per seed; a vertical line at ``reference``.

    ``values`` = {variant: {"in": array (n_seeds,), "out": array (n_seeds,)}}.
    """
    if not values:
        raise InputError("values must name at least one variant")
    names = list(values)
    with style.context():
        fig = style.figure(style.COLUMN, 0.5 + 0.28 * len(names))
        ax = fig.subplots()
        ax.axvline(reference, color="0.6", linewidth=0.6, zorder=0)
        for k, (role, label) in enumerate(ROLES.items()):
            color = style.CYCLE[k]
            for i, name in enumerate(names):
                if role not in values[name]:
                    continue
                a = as_seeds(values[name][role], f"values[{name!r}][{role!r}]")
                if a.ndim != 1:
                    raise InputError(f"values[{name!r}][{role!r}] must be 1-D (one value per seed), got {a.shape}")
                mean, lo, hi = mean_ci(a)
                y = i + (k - 0.5) * 0.3
                ax.errorbar([mean], [y], xerr=[[mean - lo], [hi - mean]], color=color, marker="o", markersize=3,
                            linestyle="none", label=label if i == 0 else f"_{label}")
                ax.plot(a, np.full(a.size, y), linestyle="none", marker=".", markersize=2, color="black",
                        alpha=0.6, label="_seeds")
        ax.set_yticks(range(len(names)), names)
        ax.invert_yaxis()
        ax.set_xlabel("final distance / median distance of reference pairs")
        ax.legend(fontsize="x-small", frameon=False)
        if title:
            ax.set_title(title)
    if out is not None:
        style.save(fig, out, force=force)
    return fig
