"""tying.analyze and `tying analyze` against our own runs: the same tables give the same analysis."""
import csv
import json

import numpy as np
import pytest

import tying
from tying.core.errors import InputError
from tying.experiments.analysis import distances_csv
from tying.experiments.lm_claims import twins_claims
from tying.experiments.results import Group, table_curves
from tying.generators import load_grammar, pcfg_corpus, relation_pairs, transforms
from tying.models import ModelConfig, TrainConfig

from cli_run import run_cli as cli

try:
    import torch
except ModuleNotFoundError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="the torch extra is not installed")

B = 12


@pytest.fixture(scope="module")
def twins():
    return transforms.twins(pcfg_corpus(load_grammar("toy-english"), 120, 1, task="mlm"), 4, 0.5)


@pytest.fixture(scope="module", params=[False, True], ids=["untied", "tied"])
def run(request, twins):
    tc = TrainConfig(steps=60, batch_size=B, lr=1e-2, record_every=20, eval_every=60, progress=False)
    return tying.train(twins, ModelConfig(d=6, ff=8, tied=request.param), tc, progress=False)


def test_analyze_is_the_analysis_of_the_run(run, twins):
    tied = run.model_cfg.tied
    res = tying.analyze(run.E_in[-1], None if tied else run.E_out[-1], twins,
                        snapshots=(run.emb_steps, run.E_in, run.E_out))
    pairs = relation_pairs(twins)
    assert len(pairs) == 4 and res["tied"] is tied
    np.testing.assert_array_equal(res["steps"], run.emb_steps)
    np.testing.assert_array_equal(res["pairs"], pairs)
    tables = ["tied"] if tied else ["untied input", "untied output"]
    assert list(res["distances"]) == tables
    group = Group(twins, [run])
    for t in tables:
        np.testing.assert_array_equal(res["distances"][t], table_curves(group, pairs, t)[0])
        E = run.E_out if t == "untied output" else run.E_in  # by hand: the norm of the row difference
        a, b = res["pairs"].T
        np.testing.assert_allclose(res["distances"][t], np.sqrt(((E[:, a] - E[:, b]) ** 2).sum(-1)), rtol=1e-14)
    ra, rb = res["reference_pairs"].T  # the yardstick: random pairs of common plain words
    assert len(ra) == 60 and not any("#" in twins.vocab[s] for s in np.r_[ra, rb])
    for t in tables:
        E = run.E_out if t == "untied output" else run.E_in
        np.testing.assert_allclose(res["reference"][t], np.median(np.linalg.norm(E[:, ra] - E[:, rb], axis=-1), 1),
                                   rtol=1e-14)
    want = [c.__dict__ for c in twins_claims({(0, "model", tied): group})]
    assert res["claims"][:len(want)] == want and len(want) == len(tables)
    rows = res["claims"][len(want):]  # P6's sign per recorded pair and table
    assert len(rows) == len(pairs) * len(tables) and all(r["experiment"] == "relations" for r in rows)
    assert res["relation"] == ["DH holds"] * 4 and np.all(res["se"] == 1) and np.all(res["ce"] == 1)
    # the dict form of the snapshots is the same analysis
    as_dict = {int(s): (a, b) for s, a, b in zip(run.emb_steps, run.E_in, run.E_out)}
    again = tying.analyze(run.E_in[-1], run.E_out[-1], twins, snapshots=as_dict)
    assert again["claims"] == res["claims"]
    assert all(np.array_equal(again["distances"][t], res["distances"][t]) for t in tables)


@pytest.mark.parametrize("run", [False], ids=["untied"], indirect=True)  # a tied run has one table to swap
def test_swapping_the_tables_changes_the_analysis(run, twins):
    assert not run.model_cfg.tied
    res = tying.analyze(run.E_in[-1], run.E_out[-1], twins)
    swapped = tying.analyze(run.E_out[-1], run.E_in[-1], twins)
    np.testing.assert_array_equal(swapped["distances"]["untied input"], res["distances"]["untied output"])
    assert not np.array_equal(swapped["distances"]["untied input"], res["distances"]["untied input"])
    assert swapped["claims"] != res["claims"]


def test_analyze_writes_files_that_load(run, twins, tmp_path):
    res = tying.analyze(run.E_in[-1], run.E_out[-1], twins, snapshots=(run.emb_steps, run.E_in, run.E_out),
                        out=tmp_path / "a")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["analysis.npz", "claims.json", "distances.csv", "distances.pdf", "distances.png"]
    with open(tmp_path / "a" / "distances.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == sum(d.size for d in res["distances"].values())
    for r in rows:
        k, i = list(res["steps"]).index(int(r["step"])), res["pair_names"].index((r["a_name"], r["b_name"]))
        assert float(r["distance"]) == res["distances"][r["table"]][k, i]
    assert json.loads((tmp_path / "a" / "claims.json").read_text()) == res["claims"]
    with np.load(tmp_path / "a" / "analysis.npz") as z:
        for t, d in res["distances"].items():
            np.testing.assert_array_equal(z[t.replace(" ", "_")], d)
            np.testing.assert_array_equal(z["reference_" + t.replace(" ", "_")], res["reference"][t])
        np.testing.assert_array_equal(z["pairs"], res["pairs"])
    with pytest.raises(InputError):  # an existing folder is refused
        tying.analyze(run.E_in[-1], run.E_out[-1], twins, out=tmp_path / "a")


def _bad(V):
    rng = np.random.default_rng(0)
    E = rng.normal(size=(V, 5))
    nan = E.copy()
    nan[3, 1] = np.nan
    return [
        ("rows", (E[:-1], None, {}), "rows but the corpus has"),
        ("3-d", (E[None], None, {}), "must be a (vocabulary, dim) table"),
        ("nan", (nan, None, {}), "non-finite entry at row 3"),
        ("out-rows", (E, E[:-2], {}), "E_out has"),
        ("text", ([["a"]], None, {}), "not a numeric array"),
        ("snap-width", (E, None, {"snapshots": {0: (E[:, :4], E[:, :4])}, "step": 4}), "different widths"),
        ("snap-same-step", (E, None, {"snapshots": {4: (E + 1, E + 1)}}), "differs from the final tables"),
        ("snap-step", (E, None, {"snapshots": {-1: (E, E)}}), "not an integer >= 0"),
        ("step-before", (E, None, {"snapshots": {4: (E, E)}, "step": 2}), "must be an integer >="),
        ("snap-count", (E, None, {"snapshots": ([0, 1], E[None], None)}), "2 steps but 1 E_in"),
        ("snap-kind", (E, None, {"snapshots": 3}), "snapshots must be"),
    ]


@pytest.mark.parametrize("case", range(11))
def test_analyze_bad_input_is_one_line_and_writes_nothing(twins, tmp_path, case):
    name, (E_in, E_out, kw), expect = _bad(twins.vocab_size)[case]
    with pytest.raises(InputError) as e:
        tying.analyze(E_in, E_out, twins, out=tmp_path / "out", **kw)
    assert expect in str(e.value) and "\n" not in str(e.value), (name, str(e.value))
    assert not (tmp_path / "out").exists()


def test_good_tables_pass_the_same_checks(twins):
    """Negative control of the bad-input cases: the same tables, well formed, are accepted."""
    E = np.random.default_rng(0).normal(size=(twins.vocab_size, 5))
    res = tying.analyze(E, E + 1, twins, snapshots={0: (E, E + 1), 2: (E, E + 1)}, step=4)
    assert list(res["steps"]) == [0, 2, 4] and not res["tied"]


@needs_torch
def test_analyze_reads_tensors_as_their_arrays(twins):
    E = np.random.default_rng(1).normal(size=(twins.vocab_size, 5))
    t = torch.tensor(E, requires_grad=True)  # a model's live parameter: analyze detaches it
    a, b = tying.analyze(t, None, twins), tying.analyze(E, E, twins)
    assert a["tied"] and a["claims"] == b["claims"]
    np.testing.assert_array_equal(a["distances"]["tied"], b["distances"]["tied"])


# ------------------------------------------------------------------------------ the command


def test_the_command_gives_the_apis_analysis(run, twins, tmp_path, capsys):
    twins.save(tmp_path / "c.npz")
    tied = run.model_cfg.tied
    tables = {"E_in": run.E_in[-1], "steps": run.emb_steps[:-1], "E_in_steps": run.E_in[:-1],
              "step": np.int64(run.emb_steps[-1])}
    if not tied:
        tables.update(E_out=run.E_out[-1], E_out_steps=run.E_out[:-1])
    np.savez(tmp_path / "t.npz", **tables)
    rc, out, err = cli(capsys, "analyze", tmp_path / "t.npz", "--corpus", tmp_path / "c.npz", "--out", tmp_path / "a")
    assert rc == 0 and err == "", err
    want = tying.analyze(run.E_in[-1], None if tied else run.E_out[-1], twins,
                         snapshots=(run.emb_steps, run.E_in, run.E_out))
    assert (tmp_path / "a" / "distances.csv").read_text() == distances_csv(want)
    assert json.loads((tmp_path / "a" / "claims.json").read_text()) == want["claims"]
    assert out.startswith(f"{'tied' if tied else 'untied'} tables, {len(run.emb_steps)} step(s), 4 pairs")
    if not tied:  # the control: the command reads E_out as the output table, not as a second E_in
        np.savez(tmp_path / "s.npz", **{**tables, "E_out": run.E_in[-1], "E_in": run.E_out[-1],
                                        "E_in_steps": run.E_out[:-1], "E_out_steps": run.E_in[:-1]})
        assert cli(capsys, "analyze", tmp_path / "s.npz", "--corpus", tmp_path / "c.npz", "--out",
                   tmp_path / "b")[0] == 0
        assert (tmp_path / "b" / "distances.csv").read_text() != distances_csv(want)


BAD_FILES = [
    ("no-e-in", {"E_out": "E"}, "has no array E_in"),
    ("unknown-key", {"E_in": "E", "W": "E"}, "unknown arrays W"),
    ("steps-alone", {"E_in": "E", "steps": "S"}, "snapshots need both"),
    ("step-not-int", {"E_in": "E", "step": "F"}, "step must be one integer"),
    ("rows", {"E_in": "E1"}, "rows but the corpus has"),
]


@pytest.mark.parametrize("arrays, words", [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_bad_tables_file_is_one_line_exit_2_and_leaves_nothing(twins, tmp_path, capsys, arrays, words):
    twins.save(tmp_path / "c.npz")
    E = np.random.default_rng(0).normal(size=(twins.vocab_size, 5))
    values = {"E": E, "E1": E[:-1], "S": np.arange(2), "F": np.float64(2.5)}
    np.savez(tmp_path / "t.npz", **{k: values[v] for k, v in arrays.items()})
    before = sorted(p.name for p in tmp_path.iterdir())
    rc, out, err = cli(capsys, "analyze", tmp_path / "t.npz", "--corpus", tmp_path / "c.npz", "--out", tmp_path / "o")
    assert rc == 2 and out == "" and err.count("\n") == 1 and words in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    # the control: the same files with the fault removed are accepted
    np.savez(tmp_path / "t.npz", E_in=E)
    assert cli(capsys, "analyze", tmp_path / "t.npz", "--corpus", tmp_path / "c.npz", "--out", tmp_path / "o")[0] == 0


@pytest.mark.parametrize("what", ["missing", "not-npz"])
def test_unreadable_tables_file(twins, tmp_path, capsys, what):
    twins.save(tmp_path / "c.npz")
    if what == "not-npz":
        (tmp_path / "t.npz").write_text("E_in\n")
    rc, out, err = cli(capsys, "analyze", tmp_path / "t.npz", "--corpus", tmp_path / "c.npz", "--out", tmp_path / "o")
    assert rc == 2 and err.count("\n") == 1 and "tables file" in err and not (tmp_path / "o").exists(), err
