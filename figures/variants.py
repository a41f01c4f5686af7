"""Tying variants compared: the price of tying against the DH violation D, and the pair distances per variant."""
from __future__ import annotations

import numpy as np
from tying.core.errors import InputError

from . import style
from .stats import as_seeds, final_ci, mean_ci


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
        fig = style.figure(style.TEXT * 0.62, 2.6)
        ax = fig.subplots()
        ax.axhline(0.0, color="0.6", linewidth=0.6, zorder=0)
        for j, (name, values) in enumerate(prices.items()):
            a = as_seeds(values, f"prices[{name!r}]")
            if a.ndim != 2 or a.shape[1] != len(x):
                raise InputError(f"prices[{name!r}] must have shape (n_seeds, {len(x)}), got {a.shape}")
            mean, lo, hi = mean_ci(a[:, order])
            color = style.CYCLE[j % len(style.CYCLE)]
            ax.plot(x[order], mean, color=color, marker=style.MARKERS[j % len(style.MARKERS)], markersize=3,
                    linestyle=style.LINESTYLES[j % len(style.LINESTYLES)], label=name)
            ax.fill_between(x[order], lo, hi, color=color, alpha=0.08, linewidth=0, label=f"_{name} 95% CI")
        ax.set_xlabel("DH violation D of the SE pair (nats)")
        ax.set_ylabel("price of tying (nats over untied)")
        ax.legend(fontsize="x-small", frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
        if title:
            ax.set_title(title)
    if out is not None:
        style.save(fig, out, force=force)
    return fig


def plot_by_variant(values: dict, xlabel: str, out=None, title: str | None = None, *, reference: float | None = None,
                    force: bool = False):
    """Per variant (rows), one marker per series: the mean with 95% CI whiskers and one dot per seed, and a
    vertical line at ``reference``.  ``values`` = {variant: {series: array (n_seeds,)}}, e.g. the DH-broken
    pair's distance in the input and the output role, or the price of tying on each corpus."""
    if not values:
        raise InputError("values must name at least one variant")
    names = list(values)
    series = list(dict.fromkeys(k for per in values.values() for k in per))
    with style.context():
        fig = style.figure(style.COLUMN, 0.7 + 0.28 * len(names))
        ax = fig.subplots()
        if reference is not None:
            ax.axvline(reference, color="0.6", linewidth=0.6, zorder=0)
        width = 0.6 / max(len(series), 1)
        for k, label in enumerate(series):
            color = style.CYCLE[k % len(style.CYCLE)]
            for i, name in enumerate(names):
                if label not in values[name]:
                    continue
                a, mean, lo, hi = final_ci(values[name][label], f"values[{name!r}][{label!r}]")
                y = i + (k - (len(series) - 1) / 2) * width
                ax.errorbar([mean], [y], xerr=[[mean - lo], [hi - mean]], color=color, marker="o", markersize=3,
                            linestyle="none", label=label if i == 0 else f"_{label}")
                ax.plot(a, np.full(a.size, y), linestyle="none", marker=".", markersize=2, color="black",
                        alpha=0.6, label="_seeds")
        ax.set_yticks(range(len(names)), names)
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        ax.legend(fontsize="x-small", frameon=False)
        if title:
            ax.set_title(title)
    if out is not None:
        style.save(fig, out, force=force)
    return fig
