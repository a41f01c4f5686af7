"""The final distance per relation quadrant, tied vs untied, beside the theory's predicted sign.

A prediction is the sign of the change in the pair's distance over training:
"+" the pair is pushed apart, "-" it is pulled together, "0" its distance stays
put, "?" (or absent) the theory makes no claim.  "apart" and "close" are
accepted for "+" and "-".  The sign is printed above its bar; pass ``initial``
to also mark the distance at step 0, so the predicted sign can be read off
against the start.
"""
from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D

from tying.core.errors import InputError

from . import style
from .stats import as_seeds, final_ci

SIGNS = {"+": "+", "-": "\u2212", "0": "0", "?": "", "apart": "+", "close": "\u2212"}


def _series(values: dict) -> list:
    if not values or not all(isinstance(v, dict) and v for v in values.values()):
        raise InputError("values must map each quadrant to a non-empty {series: array over seeds} dict")
    return list(dict.fromkeys(s for per in values.values() for s in per))


def plot_quadrants(values: dict, predicted: dict, out=None, title: str | None = None, *,
                   initial: dict | None = None, force: bool = False):
    """Draw grouped bars (mean, 95% CI whiskers, one dot per seed); write ``out``.png/.pdf unless None.

    ``values`` = {quadrant: {series: array (n_seeds,)}} of final distances;
    ``predicted`` = {quadrant: {series: "+" | "-" | "0" | "?"}}; ``initial``
    mirrors ``values`` with distances at step 0.  Returns the Figure; each
    series is one ``BarContainer`` labelled with the series name.
    """
    quadrants = list(values)
    series = _series(values)
    for q, per in predicted.items():
        if q not in values:
            raise InputError(f"predicted names quadrant {q!r}, which has no values")
        for s, sign in per.items():
            if s not in values[q]:
                raise InputError(f"predicted names series {s!r} in quadrant {q!r}, which has no values")
            if sign not in SIGNS:
                raise InputError(f"predicted sign for {q!r}/{s!r} must be one of {', '.join(SIGNS)}, got {sign!r}")
    if initial is not None:
        for q, per in initial.items():
            for s in per:
                if q not in values or s not in values[q]:
                    raise InputError(f"initial names {q!r}/{s!r}, which has no values")

    width = 0.8 / len(series)
    with style.context():
        fig = style.figure(style.COLUMN, 2.6)
        ax = fig.subplots()
        top, low = 0.0, 0.0
        for j, s in enumerate(series):
            color = style.color_for(str(s), style.SERIES, j)
            xs, means, err = [], [], [[], []]
            for i, q in enumerate(quadrants):
                if s not in values[q]:
                    continue
                a, mean, lo, hi = final_ci(values[q][s], f"values[{q!r}][{s!r}]")
                x = i + (j - (len(series) - 1) / 2) * width
                xs.append(x)
                means.append(mean)
                err[0].append(mean - lo)
                err[1].append(hi - mean)
                ax.plot(np.full(len(a), x), a, linestyle="none", marker="o", markersize=1.8,
                        color="black", alpha=0.6, zorder=3, label="_seeds")
                peak = max(hi, a.max())
                if initial is not None and s in initial.get(q, {}):
                    a0 = as_seeds(initial[q][s], f"initial[{q!r}][{s!r}]")
                    peak = max(peak, a0.mean())
                    ax.hlines(a0.mean(), x - width / 2, x + width / 2, color="black", linewidth=1.0, zorder=4)
                sign = SIGNS[predicted.get(q, {}).get(s, "?")]
                if sign:
                    ax.annotate(sign, (x, peak), xytext=(0, 2), textcoords="offset points", ha="center",
                                va="bottom", fontsize=8, fontweight="bold", color=color)
                top, low = max(top, peak), min(low, lo, a.min())
            ax.bar(xs, means, width * 0.92, yerr=err, color=color, alpha=0.85, label=str(s),
                   error_kw=dict(elinewidth=0.8, capsize=1.5, capthick=0.8))
        ax.set_xticks(range(len(quadrants)), [str(q).replace(" ", "\n") for q in quadrants])
        ax.set_ylim(low, top + 0.15 * (top - low) if top > low else low + 1)  # room for the signs
        ax.set_ylabel("final distance")
        ax.grid(True, axis="y")
        handles, labels = ax.get_legend_handles_labels()
        if initial is not None:
            handles.append(Line2D([], [], color="black", linewidth=1.0))
            labels.append("at step 0")
        handles.append(Line2D([], [], linestyle="none"))
        labels.append("+ \u2212 0: predicted change")
        fig.legend(handles, labels, loc="outside lower center", ncol=3, handlelength=1.2, columnspacing=1.0)
        if title:
            ax.set_title(title)
        if out is not None:
            style.save(fig, out, force)
    return fig
