"""Experiment specs and the sweep runner: grids, run ids, restarts after SIGKILL, failures, real runs."""
from __future__ import annotations

import csv
import fcntl
import functools
import hashlib
import json
import shutil
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import sweep_fixtures as fx
from tying.experiments import spec as sp
from tying.experiments.cli import main
from tying.experiments.commands.options import Parser, add_executor_args
from tying.experiments.runner import executor, load_results, sweep
from tying.experiments.worker import build_corpus
from tying.generators.corpus import Corpus
from tying.core.errors import InputError
from tying.models.run import Run

TESTS = Path(__file__).parent


def expand(text: str) -> list[dict]:
    return sp.expand(sp.tomllib.loads(text))


BASE = """
[corpus]
generator = "parity"
bits = 3
"""


# ------------------------------------------------------------------ grid expansion
def test_grid_is_the_product_of_the_axes_with_seeds_fastest():
    runs = expand("""
seeds = [0, 1, 2]
[corpus]
generator = "parity"
bits = 3
zero = [[0.1, 0.9], [1, 0]]
one = [0.5, 0.5]
[model]
arch = ["bilinear", "mixer"]
tied = [true, false]
[train]
lr = 0.001
""")
    assert len(runs) == 2 * 2 * 2 * 3
    assert len({sp.run_id(c) for c in runs}) == 24
    assert [c["train"]["seed"] for c in runs[:6]] == [0, 1, 2, 0, 1, 2]
    assert {tuple(c["corpus"]["zero"]) for c in runs} == {(0.1, 0.9), (1.0, 0.0)}
    assert all(c["corpus"]["one"] == [0.5, 0.5] and c["train"]["lr"] == 0.001 for c in runs)
    assert {(c["model"]["arch"], c["model"]["tied"]) for c in runs} == {
        ("bilinear", True), ("bilinear", False), ("mixer", True), ("mixer", False)}


@pytest.mark.parametrize("line, n", [
    ("[train]\nbetas = [0.9, 0.99]", 1),  # a natural list is one value
    ("[train]\nbetas = [[0.9, 0.99], [0.8, 0.9], [0.5, 0.5]]", 3),
    ("[model]\nmerge_out = [[0, 1], [2, 3]]", 1),  # a natural list of pairs
    ("[model]\nmerge_out = [[], [[0, 1]], [[0, 1], [2, 3]]]", 3),
    ("[record]\npairs = [['0a', '0b']]", 1),
    ("[record]\npairs = [[['0a', '0b']], [[2, 3]]]", 2),
    ("[train]\nsteps = [1, 2, 3, 4]\nlr = [0.1, 0.2]", 8),
])
def test_a_list_one_level_deeper_than_natural_is_an_axis(line, n):
    assert len(expand(BASE + line)) == n


def test_array_of_tables_zips_settings_that_change_together():
    runs = expand("""
seeds = [0, 1]
[[corpus]]
generator = "parity"
zero = [0.1, 0.9]
one = [0.5, 0.5]
[[corpus]]
generator = "parity"
zero = [1, 0]
one = [[0.1, 0.9], [0.5, 0.5]]
""")
    pairs = [(tuple(c["corpus"]["zero"]), tuple(c["corpus"]["one"])) for c in runs[::2]]
    assert pairs == [((0.1, 0.9), (0.5, 0.5)), ((1.0, 0.0), (0.1, 0.9)), ((1.0, 0.0), (0.5, 0.5))]


def test_duplicate_grid_points_run_once():
    assert len(expand("seeds = [3, 3, 4]\n" + BASE)) == 2


# ------------------------------------------------------------------ run ids
def test_run_id_is_the_sha256_of_the_canonical_json():
    cfg = expand(BASE)[0]
    text = json.dumps(cfg, sort_keys=True, separators=(",", ":"))
    assert sp.run_id(cfg) == hashlib.sha256(text.encode()).hexdigest()[:12]


def test_same_run_written_differently_has_the_same_id():
    plain = expand(BASE)
    spelled_out = expand("""
seeds = [0]
[train]
lr = 5e-4
steps = 1000.0
weight_decay = 0.1
[corpus]
bits = 3
generator = "parity"
zero = [0.1, 0.9]
seed = 42
[model]
arch = "transformer"
d = 4
[record]
every = 100
""")
    assert [sp.run_id(c) for c in plain] == [sp.run_id(c) for c in spelled_out]
    assert sp.run_id(expand(BASE + "[train]\nlr = 1")[0]) == sp.run_id(expand(BASE + "[train]\nlr = 1.0")[0])


def _leaves(cfg, path=()):
    if isinstance(cfg, dict):
        for k, v in cfg.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(cfg, list):
        for i, v in enumerate(cfg):
            yield from _leaves(v, path + (i,))
    else:
        yield path, cfg


def _changed(v):
    if isinstance(v, bool):
        return not v
    if isinstance(v, (int, float)):
        return v + 1
    return "x" if v is None else v + "x"


def test_any_change_of_the_config_changes_the_id():
    cfg = expand(BASE + "[model]\nmerge_out = [[0, 1]]\n[record]\npairs = [['0a', '0b']]")[0]
    ids = {sp.run_id(cfg)}
    leaves = list(_leaves(cfg))
    assert len(leaves) > 40
    for path, value in leaves:
        other = json.loads(json.dumps(cfg))
        node = other
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = _changed(value)
        ids.add(sp.run_id(other))
    assert len(ids) == len(leaves) + 1


# ------------------------------------------------------------------ bad specs
@pytest.mark.parametrize("text, message", [
    ("colour = 1\n" + BASE, "unknown key 'colour'"),
    (BASE + "bitz = 3", "unknown key corpus.bitz"),
    (BASE + "[model]\nwidth = 3", "unknown key model.width"),
    (BASE + "[train]\nseed = 3", "train.seed is not allowed here: set the training seeds"),
    (BASE + "[train]\nrecord_every = 3", "use `every` in [record]"),
    (BASE + "[record]\nevery_step = 3", "unknown key record.every_step"),
    (BASE + "[model]\nobjective = 'causal'", "objective comes from the corpus"),
    (BASE + "[train]\nlr = 'fast'", "train.lr: expected a float"),
    (BASE + "[train]\nsteps = 2.5", "train.steps: expected an int"),
    (BASE + "[model]\ntied = 1", "model.tied: expected a bool"),
    (BASE + "[model]\narch = 'rnn'", "unknown architecture 'rnn'"),
    (BASE + "[model]\narch = []", "model.arch: expected a single str"),
    ("[corpus]\ngenerator = 'zipf'", "unknown generator 'zipf'"),
    ("[corpus]\nbits = 3", "needs a generator"),
    ("seeds = []\n" + BASE, "seeds must be a non-empty list"),
    ("seeds = [-1]\n" + BASE, "seeds must be a non-empty list"),
    ("[model]\narch = 'mixer'", "no [corpus] section"),
    (BASE + "[record]\npairs = [[1979-05-27, 2]]", "record.pairs: expected a string or a number"),
])
def test_bad_specs_raise_input_errors_naming_the_problem(text, message):
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("(", r"\(")):
        expand(text)


def test_bad_spec_files(tmp_path):
    with pytest.raises(InputError, match="spec not found"):
        sp.load_spec(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[corpus\ngenerator = 1")
    with pytest.raises(InputError, match="not valid TOML"):
        sp.load_spec(bad)


def test_bad_corpus_or_pairs_fail_before_any_run(tmp_path):
    for extra, message in [("zero = [0.5, 0.6]", "zero weights must sum to 1"),
                           ("[record]\npairs = [['0a', 'zz']]", "'zz' is not in the corpus"),
                           ("[record]\npairs = [[0, 1, 2]]", "a pair needs two symbols"),
                           ("[model]\nmerge_out = [[0, 99]]", "outside the vocabulary")]:
        out = tmp_path / "out"
        with pytest.raises(InputError, match=message):
            sweep(sp.tomllib.loads(BASE + extra), out, workers=1, fn=fx.slow, progress=False)
        assert not out.exists()  # a new folder is not left behind
        (out / "runs" / "kept").mkdir(parents=True)
        (out / "runs" / "kept" / "summary.json").write_text("{}")
        with pytest.raises(InputError, match=message):
            sweep(sp.tomllib.loads(BASE + extra), out, workers=1, fn=fx.slow, progress=False)
        assert [p.name for p in (out / "runs").iterdir()] == ["kept"]  # an existing one keeps what it had
        shutil.rmtree(out)


def test_executor_options():
    p = Parser()
    add_executor_args(p)
    assert vars(p.parse_args([])) == {"workers": None, "dask": None}
    assert vars(p.parse_args(["--workers", "3", "--dask", "tcp://h:8786"])) == {"workers": 3, "dask": "tcp://h:8786"}


def test_executor_input_errors(monkeypatch):
    with pytest.raises(InputError, match="workers must be a positive integer"):
        with executor(workers=0):
            pass
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the dask extra were not installed
    with pytest.raises(InputError, match=r"pip install 'tying\[dask\]'"):
        with executor(dask="tcp://127.0.0.1:8786"):
            pass


# ------------------------------------------------------------------ the runner
def test_failures_and_divergence_are_recorded_and_do_not_stop_the_sweep(tmp_path):
    spec, out = fx.write_spec(tmp_path / "s.toml", range(4)), tmp_path / "out"
    fn = functools.partial(fx.slow, fail_seed=1, diverge_seed=2)
    res = sweep(spec, out, workers=2, fn=fn, progress=False)
    assert [r["status"] for r in res] == ["completed", "failed", "diverged", "completed"]
    assert [r["config"]["train"]["seed"] for r in res] == [0, 1, 2, 3]
    assert res[1]["message"] == "RuntimeError: seed 1 is cursed"
    ids = sp.load_spec(spec).ids
    log = (out / "runs" / ids[1] / "log.txt").read_text()
    assert "Traceback" in log and "seed 1 is cursed" in log and ids[1] in log
    assert "payload of seed 0 written" in (out / "runs" / ids[0] / "log.txt").read_text()
    assert "payload of seed 0" not in log  # each log holds its own run only
    with open(out / "results.csv", newline="") as f:
        rows = {r["run_id"]: r for r in csv.DictReader(f)}
    assert {rid: rows[rid]["status"] for rid in ids} == {rid: r["status"] for rid, r in zip(ids, res)}
    assert rows[ids[3]]["train.seed"] == "3" and rows[ids[3]]["corpus.bits"] == "2"
    # a restart reruns only the failed run; finished (completed or diverged) runs stay
    res2 = sweep(spec, out, workers=1, fn=fn, progress=False)
    assert [fx.marks(out, rid, "start") for rid in ids] == [1, 2, 1, 1]
    assert [r["status"] for r in res2] == [r["status"] for r in res]


def test_restart_cleans_leftovers_and_a_second_sweep_is_locked_out(tmp_path):
    spec, out = fx.write_spec(tmp_path / "s.toml", [0]), tmp_path / "out"
    for d in ("runs/.abc.x.tmp", "runs/0123456789ab", "logs", "corpora"):
        (out / d).mkdir(parents=True)
    (out / "runs/.abc.x.tmp/half").write_text("x")
    (out / "logs/0123456789ab.log").write_text("x")
    (out / "corpora/.c.npz.123.tmp").write_text("x")
    with open(out / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(InputError, match="another sweep is running"):
            sweep(spec, out, workers=1, fn=fx.slow, progress=False)
    sweep(spec, out, workers=1, fn=fx.slow, progress=False)
    assert sorted(p.name for p in (out / "runs").iterdir()) == sp.load_spec(spec).ids
    assert list((out / "logs").iterdir()) == []
    assert [p.suffix for p in (out / "corpora").iterdir()] == [".npz"]


def test_sigkill_halfway_then_restart_completes_every_run_exactly_once(tmp_path):
    n, workers, held = 10, 2, 4  # seeds 0-3 finish; seeds 4 and 5 hang halfway until killed
    spec, out = fx.write_spec(tmp_path / "s.toml", range(n)), tmp_path / "out"
    ids = sp.load_spec(spec).ids
    code = (f"import sys, functools; sys.path.insert(0, {str(TESTS)!r}); import sweep_fixtures as fx; "
            f"from experiments.runner import sweep; "
            f"sweep({str(spec)!r}, {str(out)!r}, workers={workers}, "
            f"fn=functools.partial(fx.slow, delay=0.05, hold_from={held}), progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)

    def done():
        runs = out / "runs"
        return {p.name for p in runs.iterdir() if (p / "summary.json").is_file()} if runs.is_dir() else set()

    deadline = time.time() + 120
    while not (len(done()) == held and all(fx.marks(out, rid, "start") for rid in ids[held:held + workers])):
        assert proc.poll() is None and time.time() < deadline, "the sweep ended before the kill"
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver, its forkserver and its workers
    proc.wait()
    assert done() == set(ids[:held])
    assert [fx.marks(out, rid, "start") for rid in ids] == [1] * (held + workers) + [0] * (n - held - workers)
    temp = [p for p in (out / "runs").iterdir() if p.name.startswith(".")]
    assert len(temp) == workers and len(list((out / "logs").iterdir())) == workers  # half-written runs

    (out / "release").touch()
    res = sweep(spec, out, workers=workers, fn=functools.partial(fx.slow, hold_from=held), progress=False)
    assert [r["status"] for r in res] == ["completed"] * n
    # finished runs were not rerun; the two in flight were lost and ran once more; the rest ran once
    assert [fx.marks(out, rid, "start") for rid in ids] == [1] * held + [2] * workers + [1] * (n - held - workers)
    assert [fx.marks(out, rid, "end") for rid in ids] == [1] * n
    for rid in ids:  # every run folder is whole
        assert (out / "runs" / rid / "payload.txt").read_text() == rid
        assert json.loads((out / "runs" / rid / "summary.json").read_text())["run_id"] == rid
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(ids)  # no temp folders
    assert list((out / "logs").iterdir()) == []
    assert len(load_results(out)) == n


def test_real_runs_train_save_and_summarize(tmp_path):
    """The real worker: shared corpus built once, Run saved, summary consistent with it, divergence."""
    spec = tmp_path / "real.toml"
    spec.write_text("""
seeds = [0, 1]
[corpus]
generator = "parity"
bits = 3
splits = [0.75, 0.25, 0.0]
[model]
arch = "bilinear"
tied = [true, false]
[train]
steps = 40
optimizer = "sgd"
schedule = "constant"
weight_decay = 0.0
lr = [0.01, 1e10]
[record]
every = 10
eval_every = 20
pairs = [["0a", "0b"], [2, 3]]
""")
    out = tmp_path / "out"
    res = sweep(spec, out, workers=1, progress=False)
    assert len(res) == 8 and len(list((out / "corpora").iterdir())) == 1
    for r in res:
        lr, rid = r["config"]["train"]["lr"], r["run_id"]
        assert r["status"] == ("completed" if lr == 0.01 else "diverged"), r["message"]
        run = Run.load(out / "runs" / rid)
        assert run.status == r["status"] and run.train_cfg.seed == r["config"]["train"]["seed"]
        assert run.model_cfg.tied == r["config"]["model"]["tied"]
        if r["status"] == "completed":
            assert r["final_step"] == 40 and list(run.emb_steps) == [0, 10, 20, 30, 40]
            assert list(run.val_steps) == [0, 20, 40]
            assert r["val_acc"] == run.val_acc[-1] and r["train_loss"] == run.train_loss[-1]
            with np.load(out / "runs" / rid / "embeddings.npz") as z:
                E_in, E_out = z["E_in"][-1], z["E_out"][-1]
            for d, (a, b) in zip(r["distances"], [(0, 1), (2, 3)]):
                assert (d["a"], d["b"], d["a_name"]) == (a, b, ["0a", "1a"][a // 2])
                assert d["in"] == pytest.approx(np.sqrt(np.sum((E_in[a] - E_in[b]) ** 2)), rel=1e-12)
                assert d["out"] == pytest.approx(np.sqrt(np.sum((E_out[a] - E_out[b]) ** 2)), rel=1e-12)
            assert (d["in"] == d["out"]) == r["config"]["model"]["tied"]
        else:
            assert r["final_step"] < 40 and "training loss became" in r["message"]
    # the same configs in a fresh folder give bit-identical parameters (another process, same seed)
    again = sweep(spec, tmp_path / "again", workers=1, progress=False)
    for r in again:
        with np.load(out / "runs" / r["run_id"] / "embeddings.npz") as a, \
                np.load(tmp_path / "again" / "runs" / r["run_id"] / "embeddings.npz") as b:
            assert a["params"].tobytes() == b["params"].tobytes()


# ------------------------------------------------------------------ pcfg corpora
PCFG = """
[corpus]
generator = "pcfg"
sequences = 300
"""


def test_pcfg_spec_builds_the_same_corpus_as_the_command_line(tmp_path):
    (cfg,) = expand(PCFG + "task = 'causal'\ntransforms = ['merge john,mary', 'twins 5:0.5', 'coin']")
    assert main(["generate", "pcfg", "--sequences", "300", "--seed", "42", "--task", "causal",
                 "--merge", "john,mary", "--twins", "5:0.5", "--coin", "-o", str(tmp_path / "c.npz")]) == 0
    cli, ours = Corpus.load(tmp_path / "c.npz"), build_corpus(cfg["corpus"])
    assert ours._meta() == cli._meta()
    a, b = ours._arrays(), cli._arrays()
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_pcfg_transforms_axis_and_grammar_files(tmp_path):
    runs = expand(PCFG + "transforms = [[], ['twins 5:0.5'], ['split the:0.3,0.7', 'coin']]")
    assert [c["corpus"]["transforms"] for c in runs] == [[], ["twins 5:0.5"], ["split the:0.3,0.7", "coin"]]
    assert len(runs[0]["corpus"]["grammar_sha256"]) == 64
    (tmp_path / "g").mkdir()
    grammar = tmp_path / "g" / "tiny.pcfg"
    grammar.write_text("S -> 'a' S [0.4] | 'b' [0.6]\n")
    spec = tmp_path / "g" / "s.toml"
    spec.write_text("[corpus]\ngenerator = 'pcfg'\ngrammar = 'tiny.pcfg'\nsequences = 50\nmask_rate = 0.0")
    (cfg,) = sp.load_spec(spec).runs  # the grammar path is relative to the spec's folder
    assert cfg["corpus"]["grammar"] == str(grammar.resolve())
    assert cfg["corpus"]["grammar_sha256"] == hashlib.sha256(grammar.read_bytes()).hexdigest()
    grammar.write_text("S -> 'a' S [0.3] | 'b' [0.7]\n")
    assert sp.load_spec(spec).ids != [sp.run_id(cfg)]  # an edited grammar is a different run
    with pytest.raises(InputError, match="changed since the spec was loaded"):
        build_corpus(cfg["corpus"])
    with pytest.raises(InputError, match="grammar file not found: nope.pcfg"):
        expand(PCFG + "grammar = 'nope.pcfg'")


@pytest.mark.parametrize("transform", ["twins", "coin 3", "shuffle x", ""])
def test_bad_pcfg_transforms(transform, tmp_path):
    (cfg,) = expand(PCFG + f"transforms = [{transform!r}]")
    with pytest.raises(InputError, match="corpus.transforms: .* is not one of"):
        build_corpus(cfg["corpus"])


def test_the_readme_spec_is_the_grid_it_says(capsys):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    text = readme.split("cat > dh.toml <<'EOF'\n", 1)[1].split("\nEOF\n", 1)[0]
    runs = sp.load_spec(sp.tomllib.loads(text)).runs
    assert len(runs) == 2 * 2 * 3  # 2 archs x tied/untied x 3 seeds, as the README says
    assert {(r["model"]["arch"], r["model"]["tied"], r["train"]["seed"]) for r in runs} == \
        {(a, t, s) for a in ("transformer", "mixer") for t in (True, False) for s in (0, 1, 2)}
    assert all(r["corpus"]["zero"] == [0.1, 0.9] and r["train"]["steps"] == 20000 for r in runs)
    # the whole format is in `tying sweep --help`
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    assert "The grid rule" in capsys.readouterr().out
