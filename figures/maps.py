"""2-D PCA maps of E_in and E_out at the end of training.

Points are coloured by meaning and marked by surface form: symbols that share
a meaning (twins, allomorphs, the XOR renderings of one bit) share a colour and
differ in marker, and each point is annotated with its symbol when there are few.
"""
from __future__ import annotations

import numpy as np

from tying.core.errors import InputError

from . import style

ANNOTATE_MAX = 40  # above this many symbols the labels would cover the points


def pca2(X) -> tuple[np.ndarray, np.ndarray]:
    """Project the rows of ``X`` (n, d) on their top two principal axes.

    Returns ``(coords, ratio)``: coords (n, 2) and the fraction of the total
    variance each axis explains.  Signs are fixed deterministically: in each
    column of coords the entry of largest magnitude is positive.  With rank < 2
    the missing axis is all zeros.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2 or not np.all(np.isfinite(X)):
        raise InputError(f"an embedding table must be a finite 2-D array with >= 2 rows, got shape {X.shape}")
    Xc = X - X.mean(axis=0)
    U, S, _ = np.linalg.svd(Xc, full_matrices=False)
    k = min(2, len(S))
    coords = np.zeros((X.shape[0], 2))
    coords[:, :k] = U[:, :k] * S[:k]
    big = np.argmax(np.abs(coords), axis=0)
    coords *= np.where(coords[big, [0, 1]] < 0, -1.0, 1.0)
    total = float(np.sum(S**2))
    ratio = np.zeros(2)
    if total > 0:
        ratio[:k] = S[:k] ** 2 / total
    return coords, ratio


def plot_maps(E_in, E_out, meaning_of, symbols, out=None, title: str | None = None, *,
              annotate: bool | None = None, force: bool = False):
    """Draw PCA maps of the input and output tables; write ``out``.png/.pdf unless None; return the Figure.

    ``E_in`` and ``E_out`` are (V, d) tables (pass the same table twice for a
    tied model); row i is ``symbols[i]`` with meaning ``meaning_of[i]``.
    ``annotate`` defaults to labelling points when V <= 40.
    """
    symbols = [str(s) for s in symbols]
    meaning_of = list(meaning_of)
    V = len(symbols)
    if len(meaning_of) != V:
        raise InputError(f"meaning_of has {len(meaning_of)} entries but there are {V} symbols")
    tables = {"input embeddings": np.asarray(E_in), "output embeddings": np.asarray(E_out)}
    for name, E in tables.items():
        if E.ndim != 2 or E.shape[0] != V:
            raise InputError(f"{name} must have one row per symbol ({V}), got shape {E.shape}")
    if annotate is None:
        annotate = V <= ANNOTATE_MAX

    meanings = list(dict.fromkeys(meaning_of))
    form = np.zeros(V, dtype=int)  # k-th symbol of its meaning gets the k-th marker
    seen: dict = {}
    for i, m in enumerate(meaning_of):
        form[i] = seen.get(m, 0)
        seen[m] = form[i] + 1
    m_index = np.array([meanings.index(m) for m in meaning_of])

    with style.context():
        fig = style.figure(style.TEXT, 2.7)
        axes = fig.subplots(1, 2)
        for ax, (name, E) in zip(axes, tables.items()):
            coords, ratio = pca2(E)
            for mi, m in enumerate(meanings):
                for k in np.unique(form[m_index == mi]):
                    sel = (m_index == mi) & (form == k)
                    ax.scatter(coords[sel, 0], coords[sel, 1], s=22, color=style.CYCLE[mi % len(style.CYCLE)],
                               marker=style.MARKERS[k % len(style.MARKERS)], edgecolors="white",
                               linewidths=0.4, label=str(m) if k == 0 else "_", zorder=3)
            if annotate:
                for (px, py), s in zip(coords, symbols):
                    ax.annotate(s, (px, py), xytext=(3, 3), textcoords="offset points", fontsize=6)
            ax.set_title(name)
            ax.set_xlabel(f"PC1 ({100 * ratio[0]:.0f}% var.)")
            ax.set_ylabel(f"PC2 ({100 * ratio[1]:.0f}% var.)")
            ax.set_aspect("equal", adjustable="datalim")  # PCA keeps distances; so should the axes
            ax.grid(True)
        if len(meanings) <= 12:
            handles, labels = axes[0].get_legend_handles_labels()
            fig.legend(handles, labels, title="meaning", loc="outside right center")
        if title:
            fig.suptitle(title)
        if out is not None:
            style.save(fig, out, force)
    return fig
