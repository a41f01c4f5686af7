"""`tying reproduce paper` end to end on a tiny plan: report, claims recomputed from the run files, resume."""
import json
import re
from pathlib import Path

import numpy as np
import pytest

from experiments import reproduce as R
from experiments.spec import load_spec, run_id

TINY = R.Plan(seeds=(0, 1), xor_archs=("bilinear",), xor_steps=60, xor_record=20, twins_steps=20,
              twins_sequences=300, twins_batch=16, quadrant_archs=("bilinear",), quadrant_steps=20,
              quadrant_sequences=300, quadrant_batch=16)


def _final_rows(run_dir: Path):
    with np.load(run_dir / "embeddings.npz") as z:
        return z["E_in"][-1], z["E_out"][-1]


def test_reproduce_writes_a_report_whose_claims_match_the_run_files(tmp_path):
    report = R.reproduce_paper(tmp_path, quick=True, workers=1, progress=False, plan=TINY)
    text = report.read_text()
    claims = json.loads((tmp_path / "claims.json").read_text())
    assert text.startswith("# Reproduction of Bertolotti & Cazzola")
    assert "Quick mode: geometry claims only" in text and "docs/results/full-mode" in text
    counted = [c for c in claims if not c["reference"]]
    assert f"{sum(c['passed'] for c in counted)} of {len(counted)} claims pass" in text and "## Learning" in text
    assert {c["experiment"] for c in claims} == {"xor", "twins", "quadrants"}
    # the bookkeeping rows: every run of each experiment completed
    done = [c for c in claims if c["claim"] == "every run of the experiment completed"]
    assert len(done) == 3 and all(c["passed"] for c in done)
    assert any(c["reference"] for c in claims) and not any(c["reference"] for c in claims if c["experiment"] == "xor")
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
    rows = [line for line in text.splitlines() if line.startswith(("| xor |", "| twins |", "| quadrants |"))]
    assert len(rows) == len(claims)
    # six cells per row: a | inside a claim or note (|log 9|) is escaped
    assert all(len(re.findall(r"(?<!\\)\|", row)) == 7 for row in rows)
    assert any("\\|log 9\\|" in row for row in rows)

    # recompute "the tied model keeps (0,1) apart" from embeddings.npz with plain numpy
    spec = R.xor_spec(TINY)
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

    # the full mode's accuracy rows: a bag of tokens cannot learn parity, so the bilinear rows are references
    acc = R.xor_accuracy_claims(R.load_groups(tmp_path / "sweeps" / "xor", spec))
    assert len(acc) == 5 and all(c.reference and "cannot represent parity" in c.note for c in acc)
    assert all(c.values and not c.passed for c in acc if "reaches Bayes" in c.claim)  # majority guess

    for name in ("xor-DH-bilinear-distances", "xor-YDH-bilinear-accuracy", "quadrants"):
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 0


def test_reproduce_resumes_without_rerunning_finished_runs(tmp_path):
    plan = R.Plan(**{**TINY.__dict__, "seeds": (0,)})
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
    from generators.parity import parity_corpus
    from models.config import ModelConfig, TrainConfig
    from models.train import train
    from theory import lab

    c = parity_corpus(3, splits=(1.0, 0.0, 0.0))
    runs = [train(c, ModelConfig(arch="bilinear"), TrainConfig(steps=300, seed=s, mode="population", lr=1e-2,
                                                                progress=False), progress=False) for s in (0, 1)]
    bounds, fit = R.p3_bounds(R.Group(c, runs), 0, 1)
    pop = R.enumerate_population(c, "train")
    mask = np.isin(pop.tgt_sym, [0, 1])
    for r, bound, err in zip(runs, bounds, fit):
        h, z, _ = lab.head(r.model(), pop)  # a second route to the logits: the head's own forward
        h, z = h[mask], z[mask]
        assert bound == pytest.approx(np.log(9) / np.linalg.norm(h, axis=1).max(), rel=1e-12)
        assert err == pytest.approx(np.abs(z[:, 0] - z[:, 1] - np.log(1 / 9)).max(), rel=1e-9)
    # a model one step from its initialisation is far from the data's ratio; training brings the fit error down
    fresh = train(c, ModelConfig(arch="bilinear"), TrainConfig(steps=1, seed=0, mode="population", progress=False),
                  progress=False)
    assert R.p3_bounds(R.Group(c, [fresh]), 0, 1)[1][0] > fit.max()
