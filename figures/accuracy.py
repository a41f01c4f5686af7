"""Validation accuracy against the step, tied vs untied, with the exact Bayes-optimal ceiling.

The paper hand-wrote its 0.7 and 0.95; here the dashed line is the generator's
exact value, labelled with it.
"""
from __future__ import annotations

from tying.core.errors import InputError

from . import style


def plot_accuracy(steps, curves: dict, bayes: float | None, out=None, title: str | None = None, *,
                  force: bool = False, ylabel: str = "validation accuracy"):
    """Draw the accuracy figure; write ``out``.png/.pdf unless ``out`` is None; return the Figure.

    ``curves`` maps a series name ("tied", "untied", ...) to an array
    (n_seeds, n_steps) of accuracies in [0, 1]; ``bayes`` is the exact optimum
    (None draws no ceiling).  Each line's label is its series name.  ``ylabel``
    names the strings the accuracy is measured on, e.g. "accuracy on the
    training strings".
    """
    x = style.steps_array(steps)
    if not curves:
        raise InputError("curves is empty: give at least one series, e.g. {'tied': ..., 'untied': ...}")
    if bayes is not None:
        try:
            ok = 0 <= float(bayes) <= 1  # NaN fails too
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise InputError(f"bayes must be an accuracy in [0, 1], got {bayes!r}")
        bayes = float(bayes)
    with style.context():
        fig = style.figure(style.COLUMN, 2.2)
        ax = fig.subplots()
        for i, (name, values) in enumerate(curves.items()):
            style.mean_band(ax, x, values, str(name), color=style.color_for(str(name), style.SERIES, i))
        if bayes is not None:
            ax.axhline(bayes, color="black", linestyle="--", linewidth=0.9,
                       label=f"Bayes optimal ({bayes:.3g})")
        style.step_axis(ax, x)
        ax.set_ylabel(ylabel)
        ax.grid(True, axis="y")
        ax.legend(loc="lower right")
        if title:
            ax.set_title(title)
        if out is not None:
            style.save(fig, out, force)
    return fig
