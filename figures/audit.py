"""The DH audit's scatter: each pair's distance from SE against its distance from CE, with their CIs.

Tying a pair pays most where the data cannot tell it from SE (the DH says: tie)
but it is far from CE (merging its output rows costs D nats per prediction).
The band of se_dist up to ``se_max`` is shaded (a flagged pair's whole CI ends
there), the line marks ``ce_min``, and the pairs the audit flags there (``tie_cost``) are
drawn in the "DH broken" colour and named.
"""
from __future__ import annotations

import numpy as np

from tying.core.errors import InputError

from . import style
from .stats import mean_ci

NEEDED = ("a_name", "b_name", "se_dist", "se_lo", "se_hi", "ce_dist", "ce_lo", "ce_hi", "tie_cost")
MAX_NAMED = 5  # more labels than this overlap at column width


def plot_audit(columns: dict, ce_min: float, se_max: float, out=None, title: str | None = None, *, force: bool = False):
    """Draw the audit table ``columns`` (``generators.audit``'s); write ``out``.png/.pdf unless None.

    ``ce_min``: the D (nats) above which a pair counts as far from CE; ``se_max``: the
    largest upper CI end of se_dist for close to SE.  Pairs without
    an SE estimate (no swap observed) are left out.  Returns the Figure.
    """
    missing = [c for c in NEEDED if c not in columns]
    if missing:
        raise InputError(f"the audit table lacks column {missing[0]!r}")
    c = {k: np.asarray(columns[k], dtype=np.float64) for k in NEEDED if not k.endswith("name") and k != "tie_cost"}
    flag = np.asarray(columns["tie_cost"], bool)
    shown = np.isfinite(c["se_dist"]) & np.isfinite(c["ce_dist"])
    with style.context():
        fig = style.figure(style.COLUMN, 2.6)
        ax = fig.subplots()
        left = min(0.0, float(np.nanmin(c["se_lo"][shown]))) if shown.any() else 0.0
        ax.axvspan(left, se_max, color=style.OKABE_ITO["yellow"], alpha=0.25, linewidth=0,
                   label=f"close to SE: CI reaches 0, ends below {se_max:g}")
        ax.axhline(ce_min, color="black", linewidth=0.6, linestyle=":", label=f"far from CE: D > {ce_min:g} nats")
        for sel, name, color in ((shown & ~flag, "other pairs", style.OKABE_ITO["sky blue"]),
                                 (shown & flag, "close to SE, far from CE", style.RELATIONS["DH broken"])):
            if not sel.any():
                continue
            x, y = c["se_dist"][sel], c["ce_dist"][sel]
            xerr = np.abs(np.stack([x - c["se_lo"][sel], c["se_hi"][sel] - x]))
            yerr = np.abs(np.stack([y - c["ce_lo"][sel], c["ce_hi"][sel] - y]))
            ax.errorbar(x, y, xerr=np.nan_to_num(xerr), yerr=np.nan_to_num(yerr), fmt="o", markersize=2.5,
                        color=color, elinewidth=0.5, capsize=0, alpha=0.8, label=name)
        named = np.flatnonzero(shown & flag)
        for i in named[np.argsort(-c["ce_dist"][named], kind="stable")][:MAX_NAMED]:
            ax.annotate(f"{columns['a_name'][i]}/{columns['b_name'][i]}", (c["se_dist"][i], c["ce_dist"][i]),
                        xytext=(3, 2), textcoords="offset points", fontsize=5)
        ax.set_xlabel("distance from SE (mean squared L2 over swaps)")
        ax.set_ylabel("distance from CE: D (nats)")
        ax.set_ylim(bottom=min(0.0, float(np.nanmin(c["ce_lo"][shown]))) if shown.any() else 0.0)
        ax.grid(True)
        fig.legend(loc="outside lower center", ncol=2, handlelength=1.2, columnspacing=1.0)
        if title:
            ax.set_title(title)
        if out is not None:
            style.save(fig, out, force)
    return fig


def plot_convergence(rows: list, out=None, *, force: bool = False):
    """|D_hat - D_exact| against the number of counted targets, mean over seeds with its 95% CI, one line per
    (corpus, pair) of ``rows`` (dicts with corpus, pair, size, seed, n_samples, D_exact, D_hat, and optionally
    D_plugin, drawn dotted); log-log."""
    groups = {}
    for r in rows:
        groups.setdefault((r["corpus"], r["pair"]), {}).setdefault(r["size"], []).append(r)
    if not groups:
        raise InputError("no convergence rows to plot")
    with style.context():
        fig = style.figure(style.COLUMN, 2.6)
        ax = fig.subplots()
        for j, ((corpus, pair), by_size) in enumerate(groups.items()):
            sizes = sorted(by_size)
            n = [np.mean([r["n_samples"] for r in by_size[s]]) for s in sizes]
            err = [[abs(r["D_hat"] - r["D_exact"]) for r in by_size[s]] for s in sizes]
            mean, lo, hi = zip(*(mean_ci(np.array(e)) for e in err))
            color = style.CYCLE[j % len(style.CYCLE)]
            ax.plot(n, mean, marker=style.MARKERS[j % len(style.MARKERS)], color=color,
                    label=f"{corpus} {pair} (D = {by_size[sizes[0]][0]['D_exact']:.3f})")
            ax.fill_between(n, lo, hi, color=color, alpha=0.2, linewidth=0)
            if "D_plugin" in by_size[sizes[0]][0]:
                plug = [np.mean([abs(r["D_plugin"] - r["D_exact"]) for r in by_size[s]]) for s in sizes]
                ax.plot(n, plug, linestyle=":", color=color, label="_plug-in")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("counted targets")
        ax.set_ylabel("|estimated D - exact D| (nats)")
        ax.plot([], [], linestyle=":", color="black", label="plug-in D (dotted)")
        ax.grid(True)
        fig.legend(loc="outside lower center", ncol=1, handlelength=1.5)
        if out is not None:
            style.save(fig, out, force)
    return fig
