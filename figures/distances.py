"""Distances between embedding rows of chosen symbol pairs against the training step.

One panel per table (tied, untied input, untied output), one line per pair:
the mean over seeds with a 95% CI band.  Pairs are coloured by relation (one hue
per relation, e.g. "DH holds" / "DH broken") and told apart within a relation
by line style and shade, as in the paper's figures.
"""
from __future__ import annotations

from matplotlib.lines import Line2D

from tying.core.errors import InputError

from . import style

_SHADES = [0.0, -0.3, 0.35, -0.5, 0.55]


def _groups(pairs: list, relation: dict) -> dict:
    """relation -> its pairs, known relations first, then the others in order of appearance."""
    missing = [p for p in pairs if p not in relation]
    if missing:
        raise InputError(f"relation has no entry for pair(s) {', '.join(map(str, missing))}")
    names = [r for r in style.RELATIONS if any(relation[p] == r for p in pairs)]
    names += [relation[p] for p in pairs if relation[p] not in names]
    names = list(dict.fromkeys(names))
    return {r: [p for p in pairs if relation[p] == r] for r in names}


def plot_distances(steps, panels: dict, relation: dict, out=None, title: str | None = None, *,
                   logy: bool = False, sharey: bool = True, force: bool = False):
    """Draw the distance figure; write ``out``.png/.pdf unless ``out`` is None; return the Figure.

    ``panels`` maps a panel name ("tied", "untied input", "untied output") to
    {pair_label: array (n_seeds, n_steps)}; ``relation`` maps each pair label
    to its group name.  Each line's label is ``str(pair_label)``.
    """
    x = style.steps_array(steps)
    if not panels or not all(isinstance(v, dict) and v for v in panels.values()):
        raise InputError("panels must map each panel name to a non-empty {pair: array} dict")
    pairs = list(dict.fromkeys(p for series in panels.values() for p in series))
    groups = _groups(pairs, relation)
    look = {}
    for gi, (rel, members) in enumerate(groups.items()):
        base = style.color_for(rel, style.RELATIONS, gi)
        for k, p in enumerate(members):
            look[p] = dict(color=style.shade(base, _SHADES[k % len(_SHADES)]),
                           linestyle=style.LINESTYLES[k % len(style.LINESTYLES)])

    with style.context():
        fig = style.figure(style.TEXT, 2.3)
        axes = fig.subplots(1, len(panels), sharey=sharey, squeeze=False)[0]
        for ax, (name, series) in zip(axes, panels.items()):
            for p in pairs:
                if p in series:
                    style.mean_band(ax, x, series[p], str(p), **look[p])
            ax.set_title(name)
            style.step_axis(ax, x)
            if logy:
                ax.set_yscale("log")
            ax.grid(True, axis="y")
        axes[0].set_ylabel("distance between rows")
        if title:
            fig.suptitle(title)

        # One legend column per relation, headed by its name.
        rows = max(len(m) for m in groups.values()) + 1
        blank = Line2D([], [], linestyle="none")
        handles, labels, heads = [], [], []
        for rel, members in groups.items():
            heads.append(len(labels))
            handles += [blank] + [Line2D([], [], **look[p]) for p in members]
            labels += [rel] + [str(p) for p in members]
            handles += [blank] * (rows - 1 - len(members))
            labels += [""] * (rows - 1 - len(members))
        legend = fig.legend(handles, labels, loc="outside lower center", ncol=len(groups),
                            handlelength=2.6, columnspacing=2.0)
        for i in heads:
            legend.get_texts()[i].set_fontweight("bold")
        if out is not None:
            style.save(fig, out, force)
    return fig
