"""The fraction of runs that have learned by each step, one line per group (a data split).

A run's "first step" is the first step at which it counted as learned, ``inf``
if it never did.  Each line is the empirical distribution function of its
group's first steps, drawn as a step function from 0 to ``total_steps``.  One
group can be highlighted (thick black, drawn on top), and the other groups'
runs pooled into one dashed line to compare it against.
"""
from __future__ import annotations

import numpy as np
from matplotlib.lines import Line2D

from tying.core.errors import InputError

from . import style

_THIN, _THICK = 0.8, 2.2
_POOLED = "0.35"  # dark grey: not a palette colour, so it cannot be mistaken for one split
_MAX_COLOURED = 6  # more ordinary lines than this are drawn grey: too many hues stop telling apart


def _first_steps(label, values) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    if a.ndim != 1 or a.size == 0:
        raise InputError(f"first steps of {label!r} must be a non-empty 1-D array, got shape {a.shape}")
    if np.isnan(a).any() or (a < 0).any():
        raise InputError(f"first steps of {label!r} must be steps >= 0 (inf for a run that never learned)")
    return a


def learned_fraction(first: np.ndarray, total_steps: float) -> tuple[np.ndarray, np.ndarray]:
    """Breakpoints ``x`` (0 .. total_steps) and the fraction ``y`` of runs with first step <= x.

    ``y[i]`` holds from ``x[i]`` up to ``x[i + 1]``, as ``step(where="post")`` draws it.
    """
    jumps = np.unique(first[first <= total_steps])
    x = np.unique(np.concatenate([[0.0], jumps, [float(total_steps)]]))
    y = np.searchsorted(np.sort(first), x, side="right") / first.size
    return x, y


def plot_learned_fraction(first_steps: dict, total_steps: int, highlight=None, out=None,
                          title: str | None = None, *, force: bool = False):
    """Draw the learned-fraction figure; write ``out``.png/.pdf unless ``out`` is None; return the Figure.

    ``first_steps`` maps a group label ("split 3", "paper split") to the first
    step at which each of its runs learned (``np.inf``: never).  Each line's
    label is ``str(label)``; the pooled line's is "all other splits (pooled)"
    ("all splits (pooled)" when nothing is highlighted).
    """
    if not first_steps:
        raise InputError("first_steps is empty: give at least one group, e.g. {'split 0': [120, inf, 300]}")
    try:
        ok = float(total_steps) >= 1  # NaN fails too
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputError(f"total_steps must be a step count >= 1, got {total_steps!r}")
    if highlight is not None and highlight not in first_steps:
        raise InputError(f"highlight {highlight!r} is not a group of first_steps ({', '.join(map(repr, first_steps))})")
    groups = {label: _first_steps(label, v) for label, v in first_steps.items()}
    others = [label for label in groups if label != highlight]
    coloured = len(others) <= _MAX_COLOURED
    palette = [c for c in style.CYCLE if c != style.OKABE_ITO["black"]]  # black is the highlight's

    with style.context():
        fig = style.figure(style.COLUMN, 2.8)
        ax = fig.subplots()
        handles = []
        for i, label in enumerate(others):
            (line,) = ax.step(*learned_fraction(groups[label], total_steps), where="post", label=str(label),
                              color=palette[i % len(palette)] if coloured else "0.7", linewidth=_THIN)
            handles.append(line)
        if not coloured:  # one legend entry stands for all the grey lines
            handles = [Line2D([], [], color="0.7", linewidth=_THIN, label="one split each")]
        if others:
            pooled = np.concatenate([groups[label] for label in others])
            name = "all other splits (pooled)" if highlight is not None else "all splits (pooled)"
            handles.append(ax.step(*learned_fraction(pooled, total_steps), where="post", label=name,
                                   color=_POOLED, linestyle="--", linewidth=1.2)[0])
        if highlight is not None:
            handles.append(ax.step(*learned_fraction(groups[highlight], total_steps), where="post",
                                   label=str(highlight), color=style.OKABE_ITO["black"], linewidth=_THICK,
                                   zorder=3)[0])
        style.step_axis(ax, np.array([0.0, float(total_steps)]))
        # A little room at 0 and 1, so a thick line lying on either is not half clipped.
        ax.set_ylim(-0.03, 1.03)
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1])
        ax.set_ylabel("fraction of runs that learned")
        ax.grid(True, axis="y")
        # Below the axes: the lines rise from the lower left to the upper right, filling any corner.
        fig.legend(handles=handles, loc="outside lower center", ncol=2)
        if title:
            ax.set_title(title)
        if out is not None:
            style.save(fig, out, force)
    return fig
