"""The DH audit (generators/audit.py) and `tying audit`, checked where the truth is exact.

Parity corpora hold every string once, so their exact truth (truth.exact) is the population itself; a
tiny PCFG whose four sentences are known by hand carries the transforms' recorded SE/CE flags.  With k
at least the sentence length the n-gram contexts are the full contexts, so the audit must converge to
the exact D and recover every flag; each check has a control in which its premise is removed.
"""
import json
import math
import subprocess
import sys

import numpy as np
import pytest

from tying.experiments.audit import to_csv
from tying.generators import (audit, estimate, exact, parity_corpus, parse_grammar, pcfg_corpus, text_corpus,
                              transforms)
from tying.generators.audit import _Stats, exact_distances

from cli_run import run_cli as run

KL_01 = math.log(2) + 0.1 * math.log(0.1) + 0.9 * math.log(0.9)  # KL(Bern(0.1) || Bern(1/2))
TINY = """
S -> NP VP [1.0]
NP -> 'the' N [1.0]
N -> 'dog' [0.5] | 'cat' [0.5]
VP -> 'runs' [0.5] | 'sleeps' [0.5]
"""


def tiny(n=600, seed=0, task="mlm"):
    return pcfg_corpus(parse_grammar(TINY), n, seed, task=task, mask_rate=0.0, splits=(1, 0, 0))


def pair_rows(table):
    return {(r["a_name"], r["b_name"]): r for r in table.rows()}


# ------------------------------------------------------------------ the estimates themselves
def test_ce_dist_is_truths_D_of_the_same_estimate():
    """The numba pass (pair_sums) against truth.dh_violation on the same n-gram estimate: two implementations."""
    c = transforms.split(tiny(300), "dog", [0.3, 0.7])
    tab = audit(c, top_k=6, k=1, boot=2, seed=3)
    t = estimate(c, None, k=1, seed=3)
    assert len(tab) == 15
    for r in tab.rows():
        assert r["ce_plugin"] == pytest.approx(t.dh_violation(r["a"], r["b"]), rel=1e-12, abs=1e-15)


def test_unbiased_statistics_match_a_brute_force_over_pairs_of_targets():
    """ce_gap and se_dist from their definition, pairs i != j of counted targets, with arbitrary weights."""
    c = transforms.split(tiny(40, seed=1), "dog", [0.3, 0.7])
    t = estimate(c, None, k=1, seed=0, keep_samples=True)
    pairs = np.array([[0, 1], [2, 3], [1, 4]])
    w = np.random.default_rng(0).random(len(t.samples["w"])) + 0.1
    D, gap, se, swaps, used = _Stats(t, pairs)(w)
    ctx = np.repeat(np.arange(t.n_contexts), np.diff(t.indptr))[t.samples["entry"]]  # context of each sample
    y = t.sym[t.samples["entry"]]
    W = np.bincount(ctx, weights=w, minlength=t.n_contexts)
    p_ctx = W / W.sum()

    def pair_mean(cx, f):  # sum_{i != j in cx} w_i w_j f(y_i, y_j) / sum_{i != j} w_i w_j
        i = np.flatnonzero(ctx == cx)
        ww = np.outer(w[i], w[i])
        np.fill_diagonal(ww, 0)
        return np.sum(ww * f(y[i][:, None], y[i][None, :])) / ww.sum()

    valid = [x for x in range(t.n_contexts) if np.count_nonzero(ctx == x) >= 2]
    mass = p_ctx[valid].sum()
    for n, (a, b) in enumerate(pairs):
        ind = lambda u, v: ((u == a).astype(float) - (u == b)) * ((v == a).astype(float) - (v == b))
        assert gap[n] == pytest.approx(sum(p_ctx[x] * pair_mean(x, ind) for x in valid) / mass, rel=1e-10)
        c1, c2, _ = t.swaps(a, b)
        num = den = 0.0
        for x1, x2 in zip(c1, c2):
            if x1 in valid and x2 in valid:
                same = lambda u, v: (u == v).astype(float)
                cross = sum(w[i] * w[j] for i in np.flatnonzero(ctx == x1) for j in np.flatnonzero(ctx == x2)
                            if y[i] == y[j]) / (W[x1] * W[x2])
                num += p_ctx[x1] * (pair_mean(x1, same) + pair_mean(x2, same) - 2 * cross)
                den += p_ctx[x1]
        assert swaps[n] == sum(1 for x1, x2 in zip(c1, c2) if x1 in valid and x2 in valid)
        assert se[n] == pytest.approx(num / den, rel=1e-10, abs=1e-14) if den else np.isnan(se[n])


def test_the_jackknife_removes_most_of_the_plugin_bias_and_leaves_a_linear_D_alone():
    """Parity DH, full contexts: 1a/1b is CE (D = 0) and 0a/0b has D = 0.5 KL(0.1); the plug-in sits well above
    both and the jackknife much closer.  Control: for 0a/1a each context allows only one of the two, so the
    plug-in is ln 2 times a frequency, linear in the weights, and the jackknife must not move it."""
    c = parity_corpus(4, splits=(1, 0, 0))
    r = pair_rows(audit(c, k=4, boot=2, draws=100, seed=7, pairs=[(0, 1), (0, 2), (2, 3)]))
    for pair, d in ((("1a", "1b"), 0.0), (("0a", "0b"), 0.5 * KL_01)):
        assert r[pair]["ce_plugin"] - d > 0.01 and abs(r[pair]["ce_dist"] - d) < (r[pair]["ce_plugin"] - d) / 3
    assert r[("0a", "1a")]["ce_dist"] == pytest.approx(r[("0a", "1a")]["ce_plugin"], rel=1e-12)


def test_same_seed_same_bytes_and_the_seed_matters():
    c = tiny(300)
    one, two = (to_csv(audit(c, top_k=4, k=3, boot=20, seed=5)) for _ in range(2))
    assert one == two
    assert to_csv(audit(c, top_k=4, k=3, boot=20, seed=6)) != one


# ------------------------------------------------------------------ against the exact truth
def test_estimated_D_converges_to_the_exact_D():
    """Parity (DH: zero 0.1/0.9, one 0.5/0.5): exact D(0a, 0b) = 0.5 KL(Bern(0.1)||Bern(1/2)) by hand.
    The error shrinks as the samples grow; control: with k = 1 the contexts are not the full ones and
    the error of D(0a, 1a) stays large."""
    c = parity_corpus(4, splits=(1, 0, 0))
    ex = exact(c, "all")
    assert ex.dh_violation(0, 1) == pytest.approx(0.5 * KL_01, abs=1e-12)
    errors = []
    for draws in (2, 20, 200):
        tab = audit(c, k=4, boot=2, draws=draws, pairs=[(0, 1), (0, 2)])
        errors.append(np.abs(tab["ce_dist"] - [ex.dh_violation(0, 1), ex.dh_violation(0, 2)]).max())
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.01, errors
    coarse = audit(c, k=1, boot=2, draws=200, pairs=[(0, 2)])
    assert abs(coarse["ce_dist"][0] - ex.dh_violation(0, 2)) > 0.05


MERGES = [None, ("0a", "1a"), ("0b", "1b"), ("0a", "1b")]


@pytest.mark.parametrize("merge", MERGES, ids=["none", "0a|1a", "0b|1b", "0a|1b"])
def test_exact_distances_are_0_exactly_on_se_and_ce(merge):
    """On the exact population: se_dist is 0 iff the pair is SE and ce_gap 0 iff CE (the D of truth alongside);
    the merges make pairs that are neither and the labels a pair that is CE but not SE."""
    c = parity_corpus(4, splits=(1, 0, 0))
    c = transforms.merge(c, *merge) if merge else c
    t = exact(c, "all")
    seen = set()
    for a in range(c.vocab_size):
        for b in range(a + 1, c.vocab_size):
            se_dist, gap, D = exact_distances(t, a, b)
            se, ce = t.semantic_equivalent(a, b)[0], t.conditional_equivalent(a, b)
            assert np.isnan(se_dist) == (se is None)
            if se is not None:
                assert (se_dist < 1e-12) == se and se_dist > -1e-12
                seen.add((se, ce))
            assert (gap < 1e-24) == ce and D == t.dh_violation(a, b)
    quadrants = {(True, True), (True, False), (False, False), (False, True)}  # L0/L1: CE, not SE
    assert seen == (quadrants if merge is None else {(False, False), (False, True)})


def test_estimates_converge_to_the_exact_distances():
    """With full contexts the audit's se_dist and ce_gap close in on exact_distances as the draws grow."""
    c = transforms.merge(parity_corpus(4, splits=(1, 0, 0)), "0b", "1b")
    t = exact(c, "all")
    pairs = [(0, 1), (0, 2), (1, 2)]  # the audit's rows come sorted by (a, b)
    want = np.array([exact_distances(t, a, b)[:2] for a, b in pairs])
    err = []
    for draws in (10, 300):
        tab = audit(c, k=4, boot=2, draws=draws, pairs=pairs)
        err.append(np.abs(np.stack([tab["se_dist"], tab["ce_gap"]], axis=1) - want).max())
    assert err[1] < err[0] / 2 and err[1] < 0.02, (err, want)


@pytest.mark.parametrize("one", [(0.5, 0.5), (0.1, 0.9)], ids=["DH", "NDH"])
def test_parity_flags_are_the_exact_flags(one):
    """Every pair of parity symbols: SE and CE as the exact population says, from se_dist's and ce_gap's CIs;
    (0a, 0b) split 0.1/0.9 is the SE-not-CE control, (1a, 1b) under NDH too."""
    c = parity_corpus(4, zero=(0.1, 0.9), one=one, splits=(1, 0, 0))
    ex = exact(c, "all")
    tab = audit(c, top_k=4, k=4, boot=100, draws=300, seed=1)
    assert len(tab) == 6
    for r in tab.rows():
        se, ce = ex.semantic_equivalent(r["a"], r["b"])[0], ex.conditional_equivalent(r["a"], r["b"])
        assert (r["se"], r["ce"]) == (se, ce), r
        assert (r["se_lo"] <= 0 <= r["se_hi"]) == se  # SE pairs: the CI holds 0; the others: it does not
    assert sum(r["ce"] is True for r in tab.rows()) == (1 if one == (0.5, 0.5) else 0)
    rows = pair_rows(tab)
    assert rows[("0a", "0b")]["tie_cost"]  # SE, not CE: the one pair where tying costs D
    assert sum(r["tie_cost"] for r in tab.rows()) == 1 + (one != (0.5, 0.5))  # NDH: 1a/1b too
    if one == (0.5, 0.5):  # CE, yet rare contexts push D's estimate above ce_min: the CE flag keeps it off the list
        assert rows[("1a", "1b")]["ce_lo"] > tab.meta["ce_min"] and not rows[("1a", "1b")]["tie_cost"]


def test_too_little_data_leaves_se_undecided():
    """An SE pair on few samples: se_dist's CI reaches 0 but is wider than se_max, so the verdict is None,
    not True; more samples, or a looser se_max, settle it."""
    c = parity_corpus(4, splits=(1, 0, 0))
    few = pair_rows(audit(c, k=4, boot=100, draws=20, seed=1, pairs=[(0, 1)]))[("0a", "0b")]
    assert few["se_lo"] <= 0 < 0.05 < few["se_hi"] and few["se"] is None and not few["tie_cost"]
    assert audit(c, k=4, boot=100, draws=20, seed=1, pairs=[(0, 1)], se_max=10.0).rows()[0]["se"] is True
    assert audit(c, k=4, boot=100, draws=300, seed=1, pairs=[(0, 1)]).rows()[0]["se"] is True


def test_an_se_verdict_needs_min_targets_behind_the_swaps():
    """swap_targets counts the targets of both contexts of every swap (contexts of two or more targets); one
    fewer than min_targets leaves the verdict None, exactly min_targets gives it."""
    c = transforms.split(tiny(300, seed=2), "dog", [0.1, 0.9])
    pair = [(c.vocab.index("dog#1"), c.vocab.index("dog#2"))]
    r = audit(c, k=3, boot=50, seed=2, pairs=pair).rows()[0]
    t = estimate(c, None, k=3, seed=2)
    c1, c2, _ = t.swaps(*pair[0])
    ok = (t.counts[c1] >= 2) & (t.counts[c2] >= 2)
    assert r["swap_targets"] == int(np.sum((t.counts[c1] + t.counts[c2])[ok])) > 100 and r["se"] is True
    n = r["swap_targets"]
    assert audit(c, k=3, boot=50, seed=2, pairs=pair, min_targets=n).rows()[0]["se"] is True
    assert audit(c, k=3, boot=50, seed=2, pairs=pair, min_targets=n + 1).rows()[0]["se"] is None


def test_a_merge_is_neither_se_nor_ce():
    """merge(0a, 1a) in DH parity: the homonym 0a|1a against 0b, per the exact truth (neither), and the audit."""
    c = transforms.merge(parity_corpus(4, splits=(1, 0, 0)), "0a", "1a")
    ex = exact(c, "all")
    a, b = c.vocab.index("0b"), c.vocab.index("0a|1a")
    assert ex.semantic_equivalent(a, b)[0] is False and not ex.conditional_equivalent(a, b)  # the premise
    r = audit(c, k=4, boot=100, draws=60, pairs=[(a, b)]).rows()[0]
    assert r["se"] is False and r["ce"] is False and r["se_lo"] > 0 and r["ce_gap_lo"] > 0


def test_pcfg_transforms_recorded_flags_are_recovered():
    """Recorded by construction: dog split 0.1/0.9 (SE, not CE) and runs split 0.5/0.5 (SE and CE).
    By hand, over the grammar's four equally likely sentences: p(noun slot) = 1/3, p(dog | it) = 1/2,
    so D(dog#1, dog#2) = (1/3)(1/2) KL(Bern(0.1)||Bern(1/2)) and ce_gap = (1/3)(0.8 / 2)^2."""
    c = transforms.split(transforms.split(tiny(1500, seed=2), "dog", [0.1, 0.9]), "runs", [0.5, 0.5])
    tab = audit(c, k=3, boot=100, seed=2, pairs=[(r["a"], r["b"]) for r in c.relations])
    rows = pair_rows(tab)
    assert set(rows) == {("dog#1", "dog#2"), ("runs#1", "runs#2")}
    for r in rows.values():
        assert (r["se"], r["ce"]) == (r["se_recorded"], r["ce_recorded"]), r
    dog = rows[("dog#1", "dog#2")]
    assert dog["ce_gap_lo"] <= (1 / 3) * 0.4 ** 2 <= dog["ce_gap_hi"]
    assert dog["ce_dist"] == pytest.approx(KL_01 / 6, abs=0.01)
    assert rows[("runs#1", "runs#2")]["ce_dist"] < 0.01


def test_coin_is_ce_not_se_and_its_copies_untestable():
    """Causal coin: H/T recorded CE not SE (the converse control); =H/=T are never swappable (None)."""
    c = transforms.coin(tiny(1500, seed=4, task="causal"), seed=4)
    tab = audit(c, k=6, boot=100, seed=4, pairs=[(r["a"], r["b"]) for r in c.relations])
    rows = pair_rows(tab)
    ht, copies = rows[("H", "T")], rows[("=H", "=T")]
    assert (ht["se"], ht["ce"]) == (False, True) == (ht["se_recorded"], ht["ce_recorded"])
    assert ht["se_lo"] > 0 and ht["ce_gap_lo"] <= 0 <= ht["ce_gap_hi"]
    assert copies["se"] is None and copies["n_swaps"] == 0 and copies["ce"] is False
    assert copies["se_recorded"] is True  # vacuously, by construction: a swap gives an impossible sentence


def test_bootstrap_intervals_cover_about_as_often_as_they_say():
    """40 corpora of the tiny grammar: the 95% CI of ce_gap(dog#1, dog#2) holds its value by hand, (1/3)0.4^2,
    and that of se_dist holds 0, in most of them; control: 50% intervals miss far more often."""
    truth_gap = (1 / 3) * 0.4 ** 2
    hits = {95.0: [0, 0], 50.0: [0, 0]}
    for seed in range(40):
        c = transforms.split(tiny(300, seed=100 + seed), "dog", [0.1, 0.9])
        pair = (c.vocab.index("dog#1"), c.vocab.index("dog#2"))
        for ci in hits:
            r = audit(c, k=3, boot=100, seed=seed, ci=ci, pairs=[pair]).rows()[0]
            hits[ci][0] += r["ce_gap_lo"] <= truth_gap <= r["ce_gap_hi"]
            hits[ci][1] += r["se_lo"] <= 0 <= r["se_hi"]
    assert hits[95.0][0] >= 32 and hits[95.0][1] >= 32, hits  # 80% at least, of a nominal 95%
    assert hits[50.0][0] <= 28 and hits[50.0][1] <= 28, hits  # 70% at most, of a nominal 50%


# ------------------------------------------------------------------ the command


def test_cli_writes_loadable_files_and_lists_the_costly_pairs(tmp_path, capsys):
    path = tmp_path / "c.npz"
    transforms.split(transforms.split(tiny(1500, seed=2), "dog", [0.1, 0.9]), "runs", [0.5, 0.5]).save(path)
    rc, out, err = run(capsys, "audit", path, "--top-k", 7, "--k", 3, "--boot", 50, "--out", tmp_path / "a")
    assert rc == 0 and err == ""
    csv = np.genfromtxt(tmp_path / "a" / "audit.csv", delimiter=",", names=True, dtype=None, encoding="utf-8",
                        comments=None)
    doc = json.loads((tmp_path / "a" / "audit.json").read_text())
    assert len(csv) == len(doc["pairs"]) == 21 and doc["meta"]["k"] == 3 and "se_dist" in doc["definitions"]
    assert np.array_equal(csv["ce_dist"], [p["ce_dist"] for p in doc["pairs"]])  # repr round-trips exactly
    assert (tmp_path / "a" / "audit.png").read_bytes()[:4] == b"\x89PNG"
    row = {(a, b): i for i, (a, b) in enumerate(zip(csv["a_name"], csv["b_name"]))}
    dog, runs = csv[row[("dog#1", "dog#2")]], csv[row[("runs#1", "runs#2")]]
    assert (dog["tie_cost"], dog["se"], dog["ce"]) == (True, True, False)  # SE, not CE: tying it costs D
    listed = [line.split()[:2] for line in out.splitlines() if line.startswith("  ")]
    assert ["dog#1", "dog#2"] in listed and len(listed) == int(np.sum(csv["tie_cost"]))
    assert (runs["tie_cost"], runs["se"], runs["ce"]) == (False, True, True)  # the control: free to tie
    assert ["runs#1", "runs#2"] not in listed


BAD = [
    ("missing", ["{d}/none.npz", "--out", "{d}/o"], "not found"),
    ("binary-text", ["{d}/bin.txt", "--out", "{d}/o"], "NUL"),
    ("text-min-count-0", ["{d}/c.txt", "--min-count", "0", "--out", "{d}/o"], "--min-count"),
    ("truncated", ["{d}/bad.npz", "--out", "{d}/o"], "truncated"),
    ("out-exists", ["{d}/c.npz", "--out", "{d}/old"], "exists"),
    ("top-k-1", ["{d}/c.npz", "--top-k", "1", "--out", "{d}/o"], "--top-k"),
    ("boot-1", ["{d}/c.npz", "--boot", "1", "--out", "{d}/o"], "--boot"),
    ("ce-min-nan", ["{d}/c.npz", "--ce-min", "nan", "--out", "{d}/o"], "CE threshold"),
    ("se-max-negative", ["{d}/c.npz", "--se-max=-1", "--out", "{d}/o"], "SE threshold"),
    ("empty-split", ["{d}/c.npz", "--split", "test", "--out", "{d}/o"], "no targets"),
    ("no-out", ["{d}/c.npz"], "--out"),
    ("out-under-a-file", ["{d}/c.npz", "--out", "{d}/c.txt/o"], "does not exist"),
    ("out-is-a-file", ["{d}/c.npz", "--out", "{d}/c.txt", "--force"], "expected a folder"),
]


@pytest.mark.parametrize("args, words", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(args, words, tmp_path, capsys):
    tiny(30).save(tmp_path / "c.npz")
    (tmp_path / "c.txt").write_text("the dog runs\n")
    (tmp_path / "bin.txt").write_bytes(b"the dog\x00 runs\n")
    (tmp_path / "bad.npz").write_bytes((tmp_path / "c.npz").read_bytes()[:200])
    (tmp_path / "old").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    rc, out, err = run(capsys, "audit", *[a.format(d=tmp_path) for a in args])
    assert rc == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err and words in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no output folder, no temp folder


def test_a_text_file_is_audited_as_its_text_corpus(tmp_path, capsys):
    lines = [" ".join(tiny(400, seed=5).meanings[m] for m in seq) for seq in
             (tiny(400, seed=5).sequence(i) for i in range(400))]
    (tmp_path / "s.txt").write_text("\n".join(lines) + "\n")
    text_corpus(tmp_path / "s.txt", task="causal", min_count=2).save(tmp_path / "s.npz")
    opts = ["--top-k", 4, "--k", 2, "--boot", 20]
    assert run(capsys, "audit", tmp_path / "s.txt", "--task", "causal", "--min-count", 2, *opts, "--out",
               tmp_path / "t")[0] == 0
    assert run(capsys, "audit", tmp_path / "s.npz", *opts, "--out", tmp_path / "n")[0] == 0
    text, npz = ((tmp_path / d / "audit.csv").read_text() for d in "tn")
    assert text == npz and len(text.splitlines()) == 1 + 6
    # the control: the text's own options reach the reader (mlm here, so other targets and numbers)
    assert run(capsys, "audit", tmp_path / "s.txt", "--min-count", 2, *opts, "--out", tmp_path / "m")[0] == 0
    assert (tmp_path / "m" / "audit.csv").read_text() != npz


def test_the_real_command_in_a_subprocess(tmp_path):
    tiny(200).save(tmp_path / "c.npz")
    ok = subprocess.run([sys.executable, "-m", "tying", "audit", "c.npz", "--top-k", "3", "--k", "3", "--boot",
                         "10", "--out", "o"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0 and "audited 3 pairs" in ok.stdout, ok.stderr
    bad = subprocess.run([sys.executable, "-m", "tying", "audit", "c.npz", "--out", "o"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "exists" in bad.stderr
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["audit.csv", "audit.json", "audit.pdf",
                                                                 "audit.png"]
