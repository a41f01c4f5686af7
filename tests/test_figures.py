import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from matplotlib.container import BarContainer

from tying.figures import style
from tying.figures.accuracy import plot_accuracy
from tying.figures.distances import plot_distances
from tying.figures.maps import pca2, plot_maps
from tying.figures.quadrants import plot_quadrants
from tying.figures.stats import mean_ci
from tying.core.errors import InputError

# ---------------------------------------------------------------- stats


def test_mean_is_the_hand_computed_mean():
    mean, lo, hi = mean_ci([[1.0, 2.0, -4.0], [3.0, 6.0, 0.0]])
    np.testing.assert_allclose(mean, [2.0, 4.0, -2.0])
    assert np.all(lo <= mean) and np.all(mean <= hi)


def test_two_seeds_give_their_min_and_max():
    # Resampling {a, b} gives a, (a+b)/2, b with probability 1/4, 1/2, 1/4, so the
    # 2.5% and 97.5% points of 1000 bootstrap means are a and b themselves.
    mean, lo, hi = mean_ci([5.0, 1.0])
    assert (mean, lo, hi) == (3.0, 1.0, 5.0)


def test_matches_seaborns_loop():
    # seaborn's bootstrap, one resample per draw, percentile interval: a second implementation.
    a = np.random.default_rng(3).normal(size=(6, 1100))  # more steps than one gather chunk
    rng = np.random.default_rng(0)
    boots = np.stack([a[rng.integers(0, 6, 6)].mean(axis=0) for _ in range(1000)])
    mean, lo, hi = mean_ci(a, seed=0)
    np.testing.assert_allclose(lo, np.percentile(boots, 2.5, axis=0), rtol=1e-12)
    np.testing.assert_allclose(hi, np.percentile(boots, 97.5, axis=0), rtol=1e-12)
    np.testing.assert_allclose(mean, a.mean(axis=0), rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(1, 5)),
              elements=st.floats(-1e6, 1e6, allow_subnormal=False)))
def test_ci_contains_mean_and_is_deterministic(a):
    mean, lo, hi = mean_ci(a)
    assert np.all(lo <= mean) and np.all(mean <= hi)
    again = mean_ci(a.copy())
    for x, y in zip((mean, lo, hi), again):
        assert x.tobytes() == y.tobytes()


@given(st.floats(-1e9, 1e9, allow_subnormal=False), st.integers(1, 12))
def test_agreeing_seeds_give_a_band_equal_to_the_mean(v, n):
    mean, lo, hi = mean_ci(np.full((n, 3), v))
    assert np.array_equal(lo, mean) and np.array_equal(hi, mean)
    assert np.allclose(mean, v, rtol=1e-15, atol=0)


def test_ci_shrinks_with_more_seeds():
    widths = []
    for n in (4, 16, 64):
        a = np.tile([0.0, 1.0], n // 2)  # same spread, more seeds
        _, lo, hi = mean_ci(a)
        widths.append(hi - lo)
    assert widths[0] > widths[1] > widths[2] > 0
    # Standard error ~ 1/sqrt(n): quadrupling the seeds about halves the band.
    assert 0.35 < widths[2] / widths[1] < 0.65


def test_ci_other_seed_differs_but_stays_close():
    a = np.random.default_rng(1).normal(size=10)
    _, lo0, hi0 = mean_ci(a, seed=0)
    _, lo1, hi1 = mean_ci(a, seed=1)
    assert (lo0, hi0) != (lo1, hi1)
    assert abs(lo0 - lo1) < 0.2 and abs(hi0 - hi1) < 0.2


@pytest.mark.parametrize("bad", [[], [[np.nan, 1.0]], [1.0, np.inf], np.zeros((2, 2, 2))])
def test_bad_values_are_input_errors(bad):
    with pytest.raises(InputError):
        mean_ci(bad)


# ---------------------------------------------------------------- PCA


def test_pca_recovers_a_known_2d_embedding():
    rng = np.random.default_rng(0)
    # Centred 2-D points with uncorrelated axes of variance ~9 and ~1 ...
    P = rng.normal(size=(30, 2)) * [3.0, 1.0]
    P -= P.mean(axis=0)
    u, _, vt = np.linalg.svd(P, full_matrices=False)
    P = u @ vt * [3.0, 1.0] * np.sqrt(29)  # exactly uncorrelated, variances exactly 9 and 1
    # ... placed in 10-D by an orthonormal map plus an offset.
    Q, _ = np.linalg.qr(rng.normal(size=(10, 2)))
    X = P @ Q.T + rng.normal(size=10)
    coords, ratio = pca2(X)
    np.testing.assert_allclose(coords.var(axis=0, ddof=1), [9.0, 1.0], rtol=1e-10)
    np.testing.assert_allclose(ratio, [0.9, 0.1], rtol=1e-10)
    # Up to a sign per axis, the coordinates are the original points.
    np.testing.assert_allclose(np.abs(coords), np.abs(P), atol=1e-9)
    for j in range(2):
        assert coords[np.argmax(np.abs(coords[:, j])), j] > 0
    # The sign convention makes the result independent of the input's sign.
    np.testing.assert_allclose(pca2(-X)[0], coords, atol=1e-9)


def test_pca_of_a_line_has_a_zero_second_axis():
    X = np.outer(np.arange(5.0), [1.0, 2.0, 2.0])  # points on a line, spacing 3
    coords, ratio = pca2(X)
    np.testing.assert_allclose(np.abs(np.diff(coords[:, 0])), 3.0)
    np.testing.assert_allclose(coords[:, 1], 0.0, atol=1e-12)
    np.testing.assert_allclose(ratio, [1.0, 0.0], atol=1e-12)


# ---------------------------------------------------------------- plots


def _written(base):
    for ext in (".png", ".pdf"):
        p = base.with_name(base.name + ext)
        assert p.stat().st_size > 1000
    assert p.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert p.with_suffix(".pdf").read_bytes()[:5] == b"%PDF-"
    assert not [f for f in os.listdir(base.parent) if f.endswith(".tmp")]


def _refuses_then_forces(tmp_path, draw):
    base = tmp_path / "fig"
    draw(base, False)
    _written(base)
    before = (tmp_path / "fig.pdf").read_bytes()
    with pytest.raises(InputError, match="exists"):
        draw(base, False)
    draw(base, True)
    _written(base)
    assert (tmp_path / "fig.pdf").read_bytes() == before  # same figure, same bytes
    assert sorted(os.listdir(tmp_path)) == ["fig.pdf", "fig.png"]


def _lines(ax):
    return {l.get_label(): l for l in ax.get_lines() if not l.get_label().startswith("_")}


STEPS = np.arange(0, 2000, 100)
RNG = np.random.default_rng(7)


def _panels():
    return {name: {"(0,1)": RNG.random((5, len(STEPS))), "(2,3)": RNG.random((5, len(STEPS))) + 1,
                   "(0,2)": RNG.random((5, len(STEPS))) + 2}
            for name in ("tied", "untied input", "untied output")}


RELATION = {"(0,1)": "DH broken", "(2,3)": "DH holds", "(0,2)": "other"}


def test_distances_lines_are_the_means(tmp_path):
    panels = _panels()
    fig = plot_distances(STEPS, panels, RELATION, tmp_path / "d", title="t", logy=True)
    _written(tmp_path / "d")
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == list(panels)
    for ax, series in zip(axes, panels.values()):
        assert ax.get_yscale() == "log"
        lines = _lines(ax)
        assert set(lines) == set(series)
        for pair, values in series.items():
            np.testing.assert_array_equal(lines[pair].get_xdata(), STEPS)
            np.testing.assert_allclose(lines[pair].get_ydata(), values.mean(axis=0), rtol=1e-12)
    # Colours follow the relation: one hue per relation, fixed for DH holds / broken.
    tied = _lines(axes[0])
    assert tied["(2,3)"].get_color() == style.shade(style.RELATIONS["DH holds"], 0.0)
    assert tied["(0,1)"].get_color() == style.shade(style.RELATIONS["DH broken"], 0.0)
    # The shared legend is headed by the relations, known ones first.
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert texts[0] == "DH holds" and "DH broken" in texts and "other" in texts


def test_distances_pairs_of_one_relation_differ_in_style():
    rel = {"a": "DH holds", "b": "DH holds", "c": "DH holds"}
    panels = {"tied": {k: np.ones((2, len(STEPS))) for k in rel}}
    lines = _lines(plot_distances(STEPS, panels, rel).axes[0])
    looks = {(str(l.get_linestyle()), l.get_color()) for l in lines.values()}
    assert len(looks) == 3


def test_distances_writes_atomically(tmp_path):
    panels = _panels()
    _refuses_then_forces(tmp_path, lambda out, force: plot_distances(STEPS, panels, RELATION, out, force=force))


def test_distances_bad_input():
    panels = _panels()
    with pytest.raises(InputError, match="relation"):
        plot_distances(STEPS, panels, {"(0,1)": "DH broken"})
    with pytest.raises(InputError, match="shape"):
        plot_distances(STEPS[:-1], panels, RELATION)
    with pytest.raises(InputError):
        plot_distances(STEPS, {}, RELATION)


def test_accuracy_lines_and_bayes(tmp_path):
    curves = {"tied": RNG.random((5, len(STEPS))), "untied": RNG.random((3, len(STEPS)))}
    fig = plot_accuracy(STEPS, curves, 0.7, tmp_path / "a")
    _written(tmp_path / "a")
    ax = fig.axes[0]
    lines = _lines(ax)
    for name, values in curves.items():
        np.testing.assert_allclose(lines[name].get_ydata(), values.mean(axis=0), rtol=1e-12)
    bayes = [l for k, l in lines.items() if k.startswith("Bayes")]
    assert len(bayes) == 1 and "0.7" in bayes[0].get_label()
    assert bayes[0].get_linestyle() == "--"
    np.testing.assert_array_equal(bayes[0].get_ydata(), [0.7, 0.7])
    assert lines["tied"].get_color() != lines["untied"].get_color()


def test_accuracy_writes_atomically_and_checks_input(tmp_path):
    curves = {"tied": RNG.random((2, len(STEPS)))}
    _refuses_then_forces(tmp_path, lambda out, force: plot_accuracy(STEPS, curves, 0.95, out, force=force))
    for bad in (1.5, -0.1, float("nan"), "high"):
        with pytest.raises(InputError, match="bayes"):
            plot_accuracy(STEPS, curves, bad)
    with pytest.raises(InputError):
        plot_accuracy(STEPS, {}, 0.5)


def _tables():
    rng = np.random.default_rng(2)
    return rng.normal(size=(6, 8)), rng.normal(size=(6, 8))


def test_maps_points_are_the_pca_coordinates(tmp_path):
    E_in, E_out = _tables()
    meaning = ["zero", "zero", "one", "one", "x", "y"]
    symbols = list("012345")
    fig = plot_maps(E_in, E_out, meaning, symbols, tmp_path / "m")
    _written(tmp_path / "m")
    for ax, E in zip(fig.axes[:2], (E_in, E_out)):
        coords, _ = pca2(E)
        points = np.concatenate([c.get_offsets() for c in ax.collections])
        np.testing.assert_allclose(points[np.lexsort(points.T)], coords[np.lexsort(coords.T)], rtol=1e-12)
        # One colour per meaning; twins share the colour but not the marker.
        by_colour = {}
        for c in ax.collections:
            by_colour.setdefault(tuple(c.get_facecolor()[0]), []).append(len(c.get_offsets()))
        assert sorted(map(sum, by_colour.values())) == [1, 1, 2, 2]
        assert len(ax.collections) == 6
        labels = {t.get_text(): t.xy for t in ax.texts}
        for s, xy in zip(symbols, coords):
            np.testing.assert_allclose(labels[s], xy, rtol=1e-12)


def test_maps_writes_atomically_and_checks_input(tmp_path):
    E_in, E_out = _tables()
    _refuses_then_forces(tmp_path, lambda out, force: plot_maps(E_in, E_out, range(6), range(6), out, force=force))
    with pytest.raises(InputError, match="meaning_of"):
        plot_maps(E_in, E_out, range(5), range(6))
    with pytest.raises(InputError, match="output embeddings"):
        plot_maps(E_in, E_out[:5], range(6), range(6))


QUAD = {
    "skewed twins": {"tied": [1.0, 1.2, 0.8], "untied input": [0.1, 0.2, 0.3], "untied output": [2.0, 2.5, 3.0]},
    "plain": {"tied": [1.0, 1.0, 1.0], "untied input": [0.5, 0.7, 0.6], "untied output": [1.5, 1.4, 1.3]},
}
PRED = {"skewed twins": {"tied": "0", "untied input": "-", "untied output": "+"}, "plain": {"tied": "?"}}


def test_quadrant_bars_are_the_means(tmp_path):
    init = {q: {s: [1.0, 1.0, 1.0] for s in per} for q, per in QUAD.items()}
    fig = plot_quadrants(QUAD, PRED, tmp_path / "q", initial=init)
    _written(tmp_path / "q")
    ax = fig.axes[0]
    bars = {c.get_label(): c for c in ax.containers if isinstance(c, BarContainer)}
    assert list(bars) == ["tied", "untied input", "untied output"]
    for s, c in bars.items():
        heights = [p.get_height() for p in c.patches]
        np.testing.assert_allclose(heights, [np.mean(QUAD[q][s]) for q in QUAD], rtol=1e-12)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["skewed\ntwins", "plain"]
    # Predicted signs sit above their bars; "?" prints nothing.
    signs = sorted((t.xy[0], t.get_text()) for t in ax.texts)
    assert [s for _, s in signs] == ["0", "\u2212", "+"]
    x_of = {s: c.patches[0].get_x() + c.patches[0].get_width() / 2 for s, c in bars.items()}
    np.testing.assert_allclose([x for x, _ in signs], [x_of["tied"], x_of["untied input"], x_of["untied output"]])


def test_quadrants_writes_atomically_and_checks_input(tmp_path):
    _refuses_then_forces(tmp_path, lambda out, force: plot_quadrants(QUAD, PRED, out, force=force))
    with pytest.raises(InputError, match="sign"):
        plot_quadrants(QUAD, {"plain": {"tied": "up"}})
    with pytest.raises(InputError, match="quadrant"):
        plot_quadrants(QUAD, {"allomorphs": {"tied": "+"}})
    with pytest.raises(InputError, match="1-D"):
        plot_quadrants({"plain": {"tied": np.ones((3, 2))}}, {})


def test_save_refuses_an_extension_and_a_missing_folder(tmp_path):
    fig = plot_accuracy(STEPS, {"tied": np.ones((2, len(STEPS)))}, 0.5)
    with pytest.raises(InputError, match="extension"):
        style.save(fig, tmp_path / "f.png")
    with pytest.raises(InputError, match="folder"):
        style.save(fig, tmp_path / "missing" / "f")
    assert os.listdir(tmp_path) == []
    # Both targets are checked first: an existing PDF stops the PNG from being written too.
    (tmp_path / "f.pdf").write_bytes(b"old")
    with pytest.raises(InputError, match="exists"):
        style.save(fig, tmp_path / "f")
    assert os.listdir(tmp_path) == ["f.pdf"] and (tmp_path / "f.pdf").read_bytes() == b"old"
