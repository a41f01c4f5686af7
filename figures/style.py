"""The one figure style: Okabe-Ito colours, fonts sized for a printed paper column,
and an atomic PNG + PDF writer.

Figures are built with ``matplotlib.figure.Figure`` directly, never pyplot, so
nothing is left in a global figure registry and no GUI backend is ever touched.
"""
from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from tying.core import atomic
from tying.core.errors import InputError

from .stats import as_seeds, mean_ci

# ICML widths in inches: one column and the full text width.
COLUMN = 3.25
TEXT = 6.75

# Okabe & Ito (2008): distinguishable under the common colour-vision deficiencies.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
}
# Yellow is last: it nearly vanishes on white.
CYCLE = [OKABE_ITO[k] for k in ("blue", "orange", "bluish green", "vermillion",
                                "reddish purple", "sky blue", "black", "yellow")]

# Fixed meanings, so the same thing has the same colour in every figure.
SERIES = {"tied": OKABE_ITO["blue"], "untied": OKABE_ITO["orange"],
          "untied input": OKABE_ITO["orange"], "untied output": OKABE_ITO["reddish purple"]}
RELATIONS = {"DH holds": OKABE_ITO["bluish green"], "DH broken": OKABE_ITO["vermillion"]}
LINESTYLES = ["-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 2))]
MARKERS = ["o", "^", "s", "D", "v", "P", "X", "*"]

RC = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.title_fontsize": 7,
    "legend.frameon": False,
    "axes.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=CYCLE),
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "lines.linewidth": 1.2,
    "lines.markersize": 4,
    "grid.linewidth": 0.4,
    "grid.alpha": 0.4,
    "figure.dpi": 100,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
    "pdf.fonttype": 42,  # embed TrueType so the text stays editable in the PDF
    "ps.fonttype": 42,
    "svg.hashsalt": "tying",
    "axes.formatter.use_mathtext": True,
    "axes.formatter.limits": (-3, 4),
}


@contextlib.contextmanager
def context():
    """The paper rcParams, for building and for saving (some are read at draw time)."""
    with mpl.rc_context(RC):
        yield


def figure(width: float = COLUMN, height: float = 2.2, **kwargs) -> Figure:
    return Figure(figsize=(width, height), layout="constrained", **kwargs)


def color_for(name: str, table: dict, fallback_index: int) -> str:
    """A fixed colour for a known name, else the next unused palette colour."""
    if name in table:
        return table[name]
    free = [c for c in CYCLE if c not in table.values()]
    return free[fallback_index % len(free)]


def shade(color: str, t: float) -> tuple:
    """Blend ``color`` toward black (t < 0) or white (t > 0): one hue family, several lines."""
    rgb = np.array(mpl.colors.to_rgb(color))
    target = np.ones(3) if t > 0 else np.zeros(3)
    return tuple(rgb + abs(t) * (target - rgb))


def save(fig: Figure, path_without_ext: str | os.PathLike, force: bool = False) -> tuple[Path, Path]:
    """Write ``<path>.png`` and ``<path>.pdf`` atomically; refuse existing files unless ``force``.

    Both targets are checked before either is written, so a refusal writes nothing.
    The PDF carries no creation date, so the same figure gives the same bytes.
    """
    base = Path(path_without_ext)
    if base.suffix.lower() in (".png", ".pdf"):
        raise InputError(f"give the figure path without an extension, got {base}")
    targets = [atomic.check_target(base.with_name(base.name + ext), force) for ext in (".png", ".pdf")]
    metadata = {".png": {"Software": None}, ".pdf": {"CreationDate": None, "Producer": None}}
    blobs = []
    with context():  # render both before writing either, so a failed render leaves no half pair
        for target in targets:
            buf = io.BytesIO()
            fig.savefig(buf, format=target.suffix[1:], metadata=metadata[target.suffix])
            blobs.append(buf.getvalue())
    for target, blob in zip(targets, blobs):
        atomic.write_bytes(target, blob)
    return targets[0], targets[1]


def steps_array(steps) -> np.ndarray:
    x = np.asarray(steps, dtype=np.float64)
    if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
        raise InputError(f"steps must be a non-empty finite 1-D array, got shape {x.shape}")
    return x


def step_axis(ax, x: np.ndarray) -> None:
    """Label training steps as 0, 50k, 100k: shorter than a x10^5 offset at column width."""
    if x[-1] > x[0]:
        ax.set_xlim(x[0], x[-1])
    ax.set_xlabel("step")
    if x[-1] >= 10_000:
        ax.xaxis.set_major_locator(mpl.ticker.MaxNLocator(nbins=4))
        ax.xaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v / 1000:g}k" if v else "0"))


def mean_band(ax, x: np.ndarray, values, name: str, **line_kw):
    """Plot the mean over seeds as a line and its bootstrap 95% CI as a band; return the line."""
    a = as_seeds(values, name)
    if a.ndim != 2 or a.shape[1] != len(x):
        raise InputError(f"{name} must have shape (n_seeds, {len(x)}) to match steps, got {a.shape}")
    mean, lo, hi = mean_ci(a)
    (line,) = ax.plot(x, mean, label=name, **line_kw)
    ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0, label=f"_{name} 95% CI")
    return line
