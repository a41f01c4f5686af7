import numpy as np
import pytest

from tying.figures import style
from tying.figures.accuracy import plot_accuracy
from tying.figures.learning import plot_learned_fraction
from tying.core.errors import InputError
from test_figures import STEPS, _lines, _refuses_then_forces, _written

inf = np.inf
FIRST = {
    "split 1": [100, 300, inf, inf],          # 1/4 by 100, 2/4 by 300
    "split 2": [50, 50, 400],                 # 2/3 by 50, 3/3 by 400
    "paper split": [200, inf, inf, inf, inf],  # 1/5 by 200
}


def _at(line, t):
    """The y a step(where="post") line shows at step t."""
    x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    return y[np.searchsorted(x, t, side="right") - 1]


def test_lines_are_the_hand_computed_fractions(tmp_path):
    fig = plot_learned_fraction(FIRST, 500, highlight="paper split", out=tmp_path / "l", title="YDH-3")
    _written(tmp_path / "l")
    ax = fig.axes[0]
    lines = _lines(ax)
    assert set(lines) == {"split 1", "split 2", "paper split", "all other splits (pooled)"}
    want = {  # step: fraction learned by then
        "split 1": {0: 0, 99: 0, 100: 1 / 4, 299: 1 / 4, 300: 2 / 4, 500: 2 / 4},
        "split 2": {0: 0, 50: 2 / 3, 399: 2 / 3, 400: 1, 500: 1},
        "paper split": {0: 0, 199: 0, 200: 1 / 5, 500: 1 / 5},
        # the 7 runs of splits 1 and 2 together
        "all other splits (pooled)": {0: 0, 50: 2 / 7, 100: 3 / 7, 300: 4 / 7, 400: 5 / 7, 500: 5 / 7},
    }
    for label, points in want.items():
        line = lines[label]
        assert line.get_drawstyle() == "steps-post"
        assert line.get_xdata()[0] == 0 and line.get_xdata()[-1] == 500
        for t, frac in points.items():
            assert _at(line, t) == pytest.approx(frac, abs=1e-15), (label, t)
    hl = lines["paper split"]
    assert hl.get_color() == style.OKABE_ITO["black"]
    assert hl.get_linewidth() > 2 * lines["split 1"].get_linewidth()
    assert ax.get_lines()[-1] is hl  # drawn last, on top
    assert lines["all other splits (pooled)"].get_linestyle() == "--"
    assert lines["split 1"].get_color() != lines["split 2"].get_color()
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "paper split" in legend and "all other splits (pooled)" in legend
    lo, hi = ax.get_ylim()
    assert lo <= 0 and hi >= 1 and ax.get_ylabel() == "fraction of runs that learned"
    assert ax.get_xlabel() == "step" and ax.get_xlim() == (0, 500) and ax.get_title() == "YDH-3"


def test_steps_past_the_end_and_many_groups():
    first = {f"split {i}": [i * 10, 10_000] for i in range(10)}
    fig = plot_learned_fraction(first, 1000)
    ax = fig.axes[0]
    lines = _lines(ax)
    # A run that learned after the last step counts as not learned within the plot.
    assert _at(lines["split 3"], 1000) == 0.5 and lines["split 3"].get_xdata()[-1] == 1000
    # No highlight: the pool is every group; many groups are drawn in one grey.
    assert _at(lines["all splits (pooled)"], 45) == pytest.approx(5 / 20)
    assert {lines[f"split {i}"].get_color() for i in range(10)} == {"0.7"}
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["one split each", "all splits (pooled)"]


def test_only_the_highlight():
    lines = _lines(plot_learned_fraction({"paper split": [0, inf]}, 1, highlight="paper split").axes[0])
    assert list(lines) == ["paper split"] and _at(lines["paper split"], 0) == 0.5


def test_writes_atomically(tmp_path):
    _refuses_then_forces(tmp_path, lambda out, force: plot_learned_fraction(FIRST, 500, "split 2", out,
                                                                            force=force))


@pytest.mark.parametrize("first, total, highlight, match", [
    ({}, 10, None, "empty"),
    ({"a": [1, -5]}, 10, None, ">= 0"),
    ({"a": [1, np.nan]}, 10, None, ">= 0"),
    ({"a": []}, 10, None, "non-empty"),
    ({"a": [[1, 2]]}, 10, None, "1-D"),
    ({"a": [1]}, 10, "b", "highlight"),
    ({"a": [1]}, 0, None, "total_steps"),
    ({"a": [1]}, float("nan"), None, "total_steps"),
    ({"a": [1]}, "long", None, "total_steps"),
])
def test_bad_input(first, total, highlight, match):
    with pytest.raises(InputError, match=match):
        plot_learned_fraction(first, total, highlight)


def test_accuracy_takes_a_ylabel():
    curves = {"tied": np.ones((2, len(STEPS)))}
    assert plot_accuracy(STEPS, curves, None).axes[0].get_ylabel() == "validation accuracy"
    fig = plot_accuracy(STEPS, curves, None, ylabel="accuracy on the training strings")
    assert fig.axes[0].get_ylabel() == "accuracy on the training strings"
