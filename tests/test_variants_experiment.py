"""`tying reproduce variants` end to end on a tiny plan, its numbers recomputed from the run files, and its
criteria on hand-made outcomes."""
import csv
import json
import math

import numpy as np
import pytest

from cli_run import run_cli
from tying.experiments import variants_claims as VC, variants_plan as VP
from tying.experiments.reproduce_variants import reproduce_variants
from tying.experiments.spec import load_spec, run_id
from tying.experiments.worker import corpus_file
from tying.generators import Corpus

TINY = VP.VariantPlan(variants=tuple(VP.VARIANTS), seeds=(0, 1), xor_settings=("DH",), xor_steps=200, xor_eval=100,
                      lm_splits=(0.5, 0.1), lm_quadrants=(VP.LM_COIN,), lm_steps=60, lm_sequences=300, lm_batch=16,
                      lm_d=8)


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    out = tmp_path_factory.mktemp("variants")
    reproduce_variants(out, workers=1, progress=False, plan=TINY)
    return out


def _table(out):
    return np.genfromtxt(out / "variants.csv", delimiter=",", names=True, dtype=None, encoding="utf-8")


def _final(folder, column):
    with open(folder / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r[column] not in ("", "nan")]
    return float(rows[-1][column])


def _variant_by_hand(model):
    """The variant a resolved model table is, read off its fields without the module's registry."""
    if not model["tied"]:
        return "untied"
    if "input_grad_scale" in model:
        return f"alpha={model['input_grad_scale']:g}"
    if "tied_dims" in model:
        return "k=d/2"
    if "input_multiplier" in model:
        return "c=sqrt(d)"
    return "map" if model.get("tie_map") else "tied"


def test_report_files_load_and_the_price_is_recomputed_from_the_run_files(out):
    text = (out / "REPORT.md").read_text()
    claims = json.loads((out / "claims.json").read_text())
    assert text.startswith("# Tying variants where the DH holds and where it breaks")
    done = [c for c in claims if c["claim"] == "every run of the experiment completed"]
    assert len(done) == 2 and all(c["passed"] for c in done)
    table = _table(out)
    assert len(table) == 8 * 4  # every variant on DH, q = 0.5, q = 0.1 and the coin
    # the price, recomputed: the final training-split loss in metrics.csv minus the untied run's of the same seed
    for name, spec in VP.variant_specs(TINY).items():
        labels = list(dict.fromkeys(r["corpus"] for r in table if r["experiment"] == name))
        for entry, label in zip(spec["corpus"], labels):
            loss = {}
            for cfg in load_spec({**spec, "corpus": entry}).runs:
                folder = out / "sweeps" / name / "runs" / run_id(cfg)
                loss[_variant_by_hand(cfg["model"]), cfg["train"]["seed"]] = _final(folder, "fit_loss")
            for r in table[(table["experiment"] == name) & (table["corpus"] == label)]:
                want = np.mean([loss[r["variant"], s] - loss["untied", s] for s in TINY.seeds])
                assert r["price_mean"] == pytest.approx(want, rel=1e-5, abs=1e-9)  # the CSV keeps 6 digits
                assert r["n"] == len(TINY.seeds)
    assert np.all(table["price_mean"][table["variant"] == "untied"] == 0)
    assert np.any(table["price_mean"][table["variant"] == "tied"] != 0)
    for f in ("variants-lm-price", "variants-xor-DH-distances", "variants-lm-split-q-0-1-distances"):
        assert (out / "figures" / f"{f}.png").stat().st_size > 0


def test_d_of_the_split_family_is_the_share_times_the_kl_worked_by_hand(out):
    D = {r["corpus"]: r["D"] for r in _table(out)}
    assert D["split q=0.5"] == 0.0 and D["coin (CE only)"] == 0.0
    spec = VP.variant_specs(TINY)["lm"]
    cfg = load_spec({**spec, "corpus": spec["corpus"][1]}).runs[0]
    corpus = Corpus.load(corpus_file(cfg["corpus"], out / "sweeps" / "lm"))
    tokens = corpus.realize(0)
    share = np.isin(tokens, [corpus.vocab.index("the#1"), corpus.vocab.index("the#2")]).mean()
    kl = 0.1 * math.log(0.2) + 0.9 * math.log(1.8)  # KL(Bern(0.1) || Bern(1/2))
    assert kl == pytest.approx(0.36806, abs=1e-5)
    assert D["split q=0.1"] == pytest.approx(share * kl, rel=1e-6) and 0.01 < share < 0.2
    assert D["DH"] > 0.15  # the paper's DH pair (0, 1); P4: 0.184 nats over the whole population


def test_every_variant_is_recognised_from_its_resolved_run_config():
    for d in (4, 16):
        spec = {"corpus": {"generator": "parity", "bits": 3},
                "model": VP.model_tables({"arch": "transformer", "d": d}, VP.VARIANTS, d)}
        got = [VP.variant_of(cfg["model"]) for cfg in load_spec(spec).runs]
        assert got == list(VP.VARIANTS)
    # neutral values are plain tying (the spec leaves them out), and a mixture is no variant
    assert VP.variant_of({"tied": True, "d": 4}) == "tied"
    with pytest.raises(ValueError):
        VP.variant_of({"tied": True, "d": 4, "input_grad_scale": 4.0, "tie_map": True})


def _row(corpus, D, variant, prices):
    return dict(experiment="lm", corpus=corpus, D=D, variant=variant, price_by_seed=dict(enumerate(prices)),
                price=VC._ci(prices), holding_in=(0.5, 0.4, 0.6))


def test_which_variant_removes_the_dh_cost():
    rows = [_row("split q=0.5", 0.0, "tied", [0.10, 0.12, 0.11]), _row("split q=0.1", 0.02, "tied", [0.20, 0.22, 0.21]),
            _row("split q=0.5", 0.0, "alpha=16", [0.30, 0.31, 0.29]),
            _row("split q=0.1", 0.02, "alpha=16", [0.30, 0.30, 0.30]),
            _row("split q=0.5", 0.0, "map", [0.0, 0.0, 0.0]), _row("split q=0.1", 0.02, "map", [0.05, 0.06, 0.07])]
    assert VC.removes_cost(rows) == {"split q=0.1": ["alpha=16"]}  # a DH cost of 0, -0.01, +0.01
    claims = {c.claim.split(": ")[0]: c for c in VC.price_claims(rows, "lm")}
    l1 = next(c for k, c in claims.items() if k.startswith("plain tying pays"))
    np.testing.assert_allclose(l1.values, [0.10, 0.10, 0.10], atol=1e-12) and l1.passed
    # the control: when plain tying costs no more where the DH breaks, there is no cost to remove
    rows[1] = _row("split q=0.1", 0.02, "tied", [0.10, 0.12, 0.11])
    assert VC.removes_cost(rows) == {}
    assert not next(c for c in VC.price_claims(rows, "lm") if c.claim.startswith("plain tying pays")).passed


def test_spearman_against_hand_ranks():
    assert VC._spearman([0.25, 1, 4, 16], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert VC._spearman([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert math.isnan(VC._spearman([1, 2, 3], [5, 5, 5]))


def test_bad_experiment_name_is_one_line_and_writes_nothing(tmp_path, capsys):
    rc, _, err = run_cli(capsys, "reproduce", "variants", "--only", "xor,nope", "--out", tmp_path / "v")
    assert rc == 2 and err.strip().splitlines() == [
        "tying reproduce: error: --only: unknown experiment 'nope' for variants (expected some of xor, lm)"]
    assert not (tmp_path / "v").exists()
    assert VC._spearman([1, 2, 3, 4], [1, 2, 2, 3]) == pytest.approx(0.9486832980505138)  # ties share rank 2.5
