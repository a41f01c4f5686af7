"""`tying reproduce paper` end to end on a tiny plan: report, claims recomputed from the run files, resume."""
import json
import re
from pathlib import Path

import numpy as np
import pytest
from tying.experiments import plan as P
from tying.experiments import reproduce as R
from tying.experiments import split_claims as S
from tying.experiments import xor_claims as X
from tying.experiments.results import Group, load_groups
from tying.experiments.spec import load_spec, run_id
from tying.generators.population import enumerate_population

TINY = P.Plan(seeds=(0, 1), xor_settings=("DH", "NDH", "YDH"), xor_archs=("bilinear",), xor_steps=60,
              xor_record=20, xor_eval=20, long_archs=("bilinear",), long_steps=120, split_seeds=(0, 1),
              split_archs=("bilinear",), split_run_seeds=(0, 1), contrast_archs=("bilinear",),
              contrast_split_seeds=(0, 1), contrast_long_split_seeds=(0,), contrast_run_seeds=(0,), twins_steps=20, twins_sequences=300,
              twins_batch=16, quadrant_archs=("bilinear",), quadrant_steps=20, quadrant_sequences=300,
              quadrant_batch=16, extra_seeds=(2,))


def _final_rows(run_dir: Path):
    with np.load(run_dir / "embeddings.npz") as z:
        return z["E_in"][-1], z["E_out"][-1]


def test_reproduce_writes_a_report_whose_claims_match_the_run_files(tmp_path):
    report = R.reproduce_paper(tmp_path, quick=True, workers=1, progress=False, plan=TINY)
    text = report.read_text()
    claims = json.loads((tmp_path / "claims.json").read_text())
    assert text.startswith("# Reproduction of Bertolotti & Cazzola")
    assert "Quick mode: the paper's full protocol" in text and "random.Random(14)" in text
    counted = [c for c in claims if not c["reference"]]
    assert f"{sum(c['passed'] for c in counted)} of {len(counted)} claims pass" in text and "## Learning" in text
    assert {c["experiment"] for c in claims} == set(P.EXPERIMENTS)
    # the bookkeeping rows: every run of each experiment completed
    done = [c for c in claims if c["claim"] == "every run of the experiment completed"]
    assert len(done) == 8 and all(c["passed"] for c in done)
    # the seeds added afterwards: the grid's criteria on the pooled seeds, every row shown and none counted
    more = [c for c in claims if c["experiment"] == "xor-seeds" and c not in done]
    assert more and all(c["reference"] and "not counted" in c["claim"] for c in more)
    assert all(len(c["values"]) == 3 for c in more if "learns (reaches Bayes" in c["claim"])  # seeds 0, 1 and 2
    # the bilinear model cannot learn parity: its accuracy rows are references, its geometry rows count
    xor = [c for c in claims if c["experiment"] == "xor" and c not in done]
    assert all(c["reference"] == ("training-string accuracy" in c["claim"] or "learns" in c["claim"]) for c in xor)
    # the long runs read at 60 steps are, bit for bit, the 60-step runs
    same = next(c for c in claims if c["claim"].startswith("the long runs read at step 60"))
    assert same["passed"] and same["note"] == "12 of 12 runs"  # 3 settings x tied/untied x 2 seeds
    # the controlled 'apart' rows: the skewed split's pair distance over the balanced split's, paired by seed
    contrast = [c for c in claims if "against 0.5/0.5" in c["claim"]]
    assert [c["claim"].split(": ")[1].split(" rows")[0] for c in contrast] == ["tied", "untied output"]
    assert all(len(c["values"]) == 2 and c["passed"] == all(v > 1 for v in c["values"]) for c in contrast)
    # P6 predicts no sign for the coin's tied rows, so that row is shown and not counted
    coin = [c for c in claims if c["experiment"] == "quadrants" and "not SE & CE" in c["claim"]]
    assert {c["claim"].split(": ")[1] for c in coin} == {"tied rows", "untied input rows apart",
                                                          "untied output rows close"}
    assert [c["reference"] for c in coin if c["claim"].endswith("tied rows")] == [True]
    # every claim row of the report is in the table, with its verdict
    table = text.partition("\n## ")[0]
    starts = tuple(f"| {e} |" for e in P.EXPERIMENTS)
    rows = [line for line in table.splitlines() if line.startswith(starts)]
    assert len(rows) == len(claims)
    # the failing counted claims once more, each beside its 600,000-step twin (4 cells)
    section = text.partition("## Failing claims and run length")[2].partition("\n## ")[0]
    failing = [line for line in section.splitlines() if line.startswith(starts)]
    assert len(failing) == sum(not c["passed"] for c in counted)
    assert all(len(re.findall(r"(?<!\\)\|", row)) == 5 for row in failing)
    # six cells per row: a | inside a claim or note (|log 9|) is escaped
    assert all(len(re.findall(r"(?<!\\)\|", row)) == 7 for row in rows)
    assert any("\\|log 9\\|" in row for row in rows)

    # recompute "the tied model keeps (0,1) apart" from embeddings.npz with plain numpy
    spec = P.xor_spec(TINY)
    dh = load_spec({**spec, "corpus": spec["corpus"][0]})
    want = []
    for cfg in dh.runs:
        if cfg["model"]["tied"]:
            run_dir = tmp_path / "sweeps" / "xor" / "runs" / run_id(cfg)
            E, _ = _final_rows(run_dir)
            want.append(np.linalg.norm(E[0] - E[1]) / np.linalg.norm(E[2] - E[3]))
    got = next(c for c in claims if c["claim"].startswith("DH bilinear tied: the tied model keeps"))
    np.testing.assert_allclose(got["values"], want, rtol=1e-12)
    assert got["passed"] == bool(np.all(np.array(want) > 1))

    # the accuracy rows on the training strings: a bag of tokens cannot learn parity (majority guess)
    acc = X.accuracy_claims(load_groups(tmp_path / "sweeps" / "xor", spec))
    assert all(c.reference and "cannot represent parity" in c.note for c in acc)
    assert all(not any(c.values) for c in acc if "learns (reaches Bayes" in c.claim)
    # the split experiment: the paper's split (from the xor grid) beside the random ones
    split_rows = [c for c in claims if c["experiment"] == "splits" and "depends on which" in c["claim"]]
    assert len(split_rows) == 1 and "3 splits x 2 seeds" in split_rows[0]["note"]

    for name in ("xor-DH-bilinear-distances", "xor-YDH-bilinear-accuracy-train", "xor-NDH-bilinear-accuracy-heldout",
                 "xor-long-DH-bilinear-distances", "splits-bilinear-learned", "quadrants"):
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 0


def test_reproduce_resumes_without_rerunning_finished_runs(tmp_path):
    plan = P.Plan(**{**TINY.__dict__, "seeds": (0,), "long_archs": (), "split_seeds": ()})
    R.reproduce_paper(tmp_path, workers=1, progress=False, only=("xor",), plan=plan)
    runs = sorted((tmp_path / "sweeps" / "xor" / "runs").iterdir())
    stamps = {p.name: (p / "summary.json").stat().st_mtime_ns for p in runs}
    first = (tmp_path / "REPORT.md").read_text()
    R.reproduce_paper(tmp_path, workers=1, progress=False, only=("xor",), plan=plan)
    assert {p.name: (p / "summary.json").stat().st_mtime_ns for p in runs} == stamps
    assert len(runs) == 3 * 2  # three settings, tied and untied
    # the report says which runs were reused, and counts their worker time from the run files
    worker = sum(json.loads((p / "summary.json").read_text())["seconds"] for p in runs)
    again = (tmp_path / "REPORT.md").read_text()
    assert "reused" not in first and "6 of them had finished in an earlier invocation and were reused" in again
    assert f"The 6 runs took {worker:.0f} s of worker time in all" in again


def test_p3_bound_and_fit_error_against_the_logits():
    from tying.generators.parity import parity_corpus
    from tying.models.config import ModelConfig, TrainConfig
    from tying.models.train import train
    from tying.theory import lab

    c = parity_corpus(3, splits=(1.0, 0.0, 0.0))
    runs = [train(c, ModelConfig(arch="bilinear"), TrainConfig(steps=300, seed=s, mode="population", lr=1e-2,
                                                                progress=False), progress=False) for s in (0, 1)]
    bounds, fit = X.p3_bounds(Group(c, runs), 0, 1)
    pop = enumerate_population(c, "train")
    mask = np.isin(pop.tgt_sym, [0, 1])
    for r, bound, err in zip(runs, bounds, fit):
        h, z, _ = lab.head(r.model(), pop)  # a second route to the logits: the head's own forward
        h, z = h[mask], z[mask]
        assert bound == pytest.approx(np.log(9) / np.linalg.norm(h, axis=1).max(), rel=1e-12)
        assert err == pytest.approx(np.abs(z[:, 0] - z[:, 1] - np.log(1 / 9)).max(), rel=1e-9)
    # a model one step from its initialisation is far from the data's ratio; training brings the fit error down
    fresh = train(c, ModelConfig(arch="bilinear"), TrainConfig(steps=1, seed=0, mode="population", progress=False),
                  progress=False)
    assert X.p3_bounds(Group(c, [fresh]), 0, 1)[1][0] > fit.max()


# ---------------------------------------------------------------- the XOR criteria on hand-made outcomes
def _runs(corpus, tied, finals, firsts=None):
    """Runs (seeds 0..n-1) whose training-string accuracy curve is 0.5 until its first learned step."""
    from tying.models.config import ModelConfig, TrainConfig
    from tying.models.run import Run

    steps = np.arange(0, 101, 20)
    out = []
    for seed, acc in enumerate(finals):
        curve = np.full(len(steps), 0.5)
        curve[-1] = acc
        if firsts is not None and np.isfinite(firsts[seed]):
            curve[steps >= firsts[seed]] = acc
        out.append(Run(ModelConfig(arch="transformer", tied=tied), TrainConfig(steps=100, seed=seed), {},
                       steps=steps, fit_steps=steps, fit_acc=curve))
    return out


def test_accuracy_criteria_count_rates_and_pairs_by_seed():
    from tying.generators.parity import parity_corpus

    c = parity_corpus(5, zero=(1.0, 0.0), one=(0.1, 0.9), paper_split=True)  # NDH
    bayes = X.bayes_train(c)
    hit, miss = bayes - 0.01, bayes - 0.2
    groups = {(0, "transformer", False): Group(c, _runs(c, False, [hit, miss, hit, miss])),
              (0, "transformer", True): Group(c, _runs(c, True, [miss, miss, miss, miss]))}
    rows = {r.claim: r for r in X.accuracy_claims(groups)}
    rate = rows["NDH transformer untied: learns (reaches Bayes on the training strings) within 100 steps"]
    assert rate.reference and rate.values == [1, 0, 1, 0] and rate.interval.startswith("2/4, 95% Wilson [0.15, 0.85]")
    more = rows["NDH transformer: untied learns in more seeds than tied (paired by seed)"]
    assert more.passed and more.note.startswith("untied only 2, tied only 0, both 0, neither 2; untied: seed 0 ")
    gap = rows["NDH transformer: tied falls short of untied in training-string accuracy (paired by seed)"]
    np.testing.assert_allclose(gap.values, [0.19, 0, 0.19, 0], atol=1e-12)
    assert gap.passed and not gap.reference
    assert rows["NDH tied transformer: learns in no seed".replace("tied transformer", "transformer tied")].passed
    # one tied seed that learns breaks "tied learns in no seed", and ties the discordant counts
    groups[0, "transformer", True] = Group(c, _runs(c, True, [miss, hit, miss, miss]))
    rows = {r.claim: r for r in X.accuracy_claims(groups)}
    assert not rows["NDH transformer tied: learns in no seed"].passed
    assert rows["NDH transformer: untied learns in more seeds than tied (paired by seed)"].passed  # 2 > 1
    # in the long grid, "untied learns" is counted: a majority of seeds
    rows = {r.claim: r for r in X.accuracy_claims(groups, long=True)}
    assert not rows[rate.claim].reference and not rows[rate.claim].passed  # 2 of 4 is no majority


def test_split_criterion_is_a_permutation_test_over_splits():
    inf = np.inf
    dependent = {f"split {k}": np.array([20.0, 20.0, 40.0]) for k in range(4)}
    dependent.update({f"split {k}": np.array([inf, inf, inf]) for k in range(4, 8)})
    dependent["paper split"] = np.array([inf, 60.0, inf])
    rows = S.split_claims({"transformer": dependent}, steps=100, eval_every=20)
    test, pooled, paper = rows
    assert test.passed and test.values[0] < 0.05 and "9 splits x 3 seeds" in test.note
    assert pooled.interval.startswith("12/24") and paper.interval.startswith("1/3")
    assert paper.note.startswith("4 of 8 random splits learn sooner")
    same = {f"split {k}": np.array([20.0, inf, 60.0]) for k in range(8)}
    assert not S.split_claims({"transformer": same}, steps=100, eval_every=20)[0].passed  # p = 1


def test_the_report_predicts_what_theory_predicts(monkeypatch):
    """The quadrant rows read P6's prediction from theory.p6_quadrants, the one place it is defined."""
    from tying.experiments import lm_claims
    from tying.theory import p6_quadrants

    assert lm_claims.predicted() == {
        "SE & CE": {"tied": "close", "untied input": "close", "untied output": "close"},
        "SE & not CE": {"tied": "apart", "untied input": "close", "untied output": "apart"},
        "not SE & CE": {"tied": "?", "untied input": "apart", "untied output": "close"},
        "not SE & not CE": {"tied": "apart", "untied input": "apart", "untied output": "apart"},
    }
    # change the theory's prediction and the report's follows
    monkeypatch.setitem(p6_quadrants.PREDICTIONS, "SE&!CE", {**p6_quadrants.PREDICTIONS["SE&!CE"], "tied": "shrinks"})
    assert lm_claims.predicted()["SE & not CE"]["tied"] == "close"


def test_the_experiments_face_loads_no_cli_sympy_or_matplotlib():
    """The library does not import the command line on top of it, and its face stays cheap."""
    import subprocess
    import sys

    code = ("import sys, tying.experiments as E; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sympy', 'matplotlib') "
            "or m.startswith(('tying.experiments.cli', 'tying.experiments.commands'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_result_cell_reference_rows_without_runs_are_not_applicable():
    from tying.experiments.results import Claim

    row = dict(experiment="xor", claim="c", prediction="p")
    assert Claim(**row, values=[], passed=False, reference=True).result() == "n/a *ref*"
    assert Claim(**row, values=[1.0], passed=False, reference=True).result() == "fail *ref*"
    assert Claim(**row, values=[1.0], passed=True, reference=True).result() == "pass *ref*"
    # a counted claim with no runs has not been shown to hold: it fails
    assert Claim(**row, values=[], passed=False).result() == "**fail**"
    assert Claim(**row, values=[2.0, 3.0], passed=True).result() == "pass"


def test_the_reversal_note_says_when_the_order_was_reversed_only_at_the_start():
    from tying.generators.parity import parity_corpus
    from tying.models.config import ModelConfig, TrainConfig
    from tying.models.run import Run

    c = parity_corpus(3)
    runs = [Run(ModelConfig(arch="transformer"), TrainConfig(steps=50, seed=s), {}, emb_steps=np.arange(0, 51, 10))
            for s in range(3)]
    above = np.array([[False, False, True, True, True],  # reversed at the start only: 0.6 < 0.9
                      [True, False, True, False, True],  # reversed here and there
                      [True, True, True, True, True]])  # never reversed: no note
    note = X._reversal_note(Group(c, runs), above)
    assert note == ("seed 0: reversed from the start to step 20, then above to the end; "
                    "seed 1: reversed at 2 steps, not only at the start")


def test_the_command_line_lists_every_experiment_the_plans_run():
    import importlib

    from tying.experiments.commands import reproduce as command
    from tying.experiments.plan import EXPERIMENTS

    assert command.EXPERIMENTS == EXPERIMENTS
    # the module, not the function of the same name that tying.experiments exports
    assert command.VARIANT_EXPERIMENTS == importlib.import_module("tying.experiments.reproduce_variants").EXPERIMENTS
