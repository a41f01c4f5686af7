"""Bad input of every kind to every command, each run as the real `tying` in a subprocess.

Each case must exit 2 with exactly one line on stderr (starting "tying"), no
traceback, and leave its working folder and the shared inputs as they were.
A case is (id, arguments, things to create in the working folder first,
environment).  Arguments may name {in}, the folder of shared inputs; the
working folder may get ``name`` (a copy of the good corpus), ``name/`` (a
folder), ``name|`` (a pipe) or ``name@`` (a symlink to /dev/full).
"""
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tying.generators.corpus import _checksum
from tying.generators.parity import parity_corpus

TYING = [sys.executable, "-m", "tying"]
NO_DASK = ("import sys; sys.modules['distributed'] = None  # as if the dask extra were not installed\n"
           "from tying.experiments.cli import main; sys.exit(main(sys.argv[1:]))")
P, G, T = ["generate", "parity"], ["generate", "pcfg", "--sequences", "20"], ["train", "--corpus", "{in}/c.npz"]
OUT = ["-o", "out"]
SPEC = "[corpus]\ngenerator = 'parity'\nbits = 2\n[train]\nsteps = 1\n"
HUGE_GRID = "seeds = [{}]\n".format(", ".join(str(i) for i in range(10000))) + SPEC + \
    "[model]\nd = [{}]\n".format(", ".join(str(i) for i in range(1, 101)))  # 10^6 runs

CASES = [
    # generate parity
    ("parity-bits-0", P + ["--bits", "0"] + OUT, [], {}),
    ("parity-bits-too-many", P + ["--bits", "99"] + OUT, [], {}),
    ("parity-bits-not-int", P + ["--bits", "abc"] + OUT, [], {}),
    ("parity-weights-sum", P + ["--zero", "0.5,0.6"] + OUT, [], {}),
    ("parity-weights-negative", P + ["--zero=-0.5,1.5"] + OUT, [], {}),
    ("parity-weights-nan", P + ["--one", "nan,1"] + OUT, [], {}),
    ("parity-weights-words", P + ["--one", "x,y"] + OUT, [], {}),
    ("parity-splits-two", P + ["--splits", "0.5,0.5"] + OUT, [], {}),
    ("parity-splits-sum", P + ["--splits", "1,1,1"] + OUT, [], {}),
    ("parity-seed-negative", P + ["--seed", "-1"] + OUT, [], {}),
    ("output-parent-missing", P + ["-o", "no/such/c.npz"], [], {}),
    ("output-exists", P + ["-o", "old.npz"], ["old.npz"], {}),
    ("output-is-a-folder", P + ["-o", "adir", "--force"], ["adir/"], {}),
    ("output-is-a-pipe", P + ["-o", "pipe", "--force"], ["pipe|"], {}),
    ("output-is-a-device", P + ["-o", "full", "--force"], ["full@"], {}),
    ("output-missing", P, [], {}),
    ("unknown-generator", ["generate", "markov"] + OUT, [], {}),
    ("unknown-option", P + ["--bogus"] + OUT, [], {}),
    # generate pcfg
    ("pcfg-sequences-0", ["generate", "pcfg", "--sequences", "0"] + OUT, [], {}),
    ("pcfg-sequences-limit", ["generate", "pcfg", "--sequences", "100000000000000"] + OUT, [], {}),
    ("pcfg-limit-env-bad", G + OUT, [], {"TYING_MAX_SEQUENCES": "many"}),
    ("pcfg-grammar-missing", G + ["--grammar", "{in}/none.pcfg"] + OUT, [], {}),
    ("pcfg-grammar-syntax", G + ["--grammar", "{in}/syntax.pcfg"] + OUT, [], {}),
    ("pcfg-grammar-probabilities", G + ["--grammar", "{in}/sum.pcfg"] + OUT, [], {}),
    ("pcfg-start-unknown", G + ["--start", "Nowhere"] + OUT, [], {}),
    ("pcfg-max-length-0", G + ["--max-length", "0"] + OUT, [], {}),
    ("pcfg-max-depth-0", G + ["--max-depth", "0"] + OUT, [], {}),
    ("pcfg-mask-rate-2", G + ["--mask-rate", "2"] + OUT, [], {}),
    ("pcfg-mask-rate-causal", G + ["--mask-rate", "0.1", "--task", "causal"] + OUT, [], {}),
    ("pcfg-task-unknown", G + ["--task", "cloze"] + OUT, [], {}),
    ("pcfg-split-weights", G + ["--split", "dog:0.5,0.6"] + OUT, [], {}),
    ("pcfg-split-symbol", G + ["--split", "unicorn:0.5,0.5"] + OUT, [], {}),
    ("pcfg-twins-topk", G + ["--twins", "abc:0.5"] + OUT, [], {}),
    ("pcfg-twins-p", G + ["--twins", "10:2"] + OUT, [], {}),
    ("pcfg-merge-form", G + ["--merge", "dog"] + OUT, [], {}),
    ("pcfg-allomorph-form", G + ["--allomorph", "the"] + OUT, [], {}),
    ("pcfg-coin-mlm", G + ["--coin"] + OUT, [], {}),
    # inspect
    ("inspect-missing", ["inspect", "none.npz"], [], {}),
    ("inspect-folder", ["inspect", "adir"], ["adir/"], {}),
    ("inspect-truncated", ["inspect", "{in}/truncated.npz"], [], {}),
    ("inspect-not-a-corpus", ["inspect", "{in}/noise.npz"], [], {}),
    ("inspect-checksum", ["inspect", "{in}/edited.npz"], [], {}),
    ("inspect-relation-index", ["inspect", "{in}/relation.npz"], [], {}),
    ("inspect-special-index", ["inspect", "{in}/special.npz"], [], {}),
    ("inspect-format", ["inspect", "{in}/format.npz"], [], {}),
    ("inspect-table-index", ["inspect", "{in}/table.npz"], [], {}),
    ("inspect-top-negative", ["inspect", "{in}/c.npz", "--top", "-1"], [], {}),
    ("inspect-max-rows-0", ["inspect", "{in}/c.npz", "--max-rows", "0"], [], {}),
    ("inspect-ngram-negative", ["inspect", "{in}/c.npz", "--ngram", "-1"], [], {}),
    ("inspect-draws-0", ["inspect", "{in}/c.npz", "--draws", "0"], [], {}),
    # export
    ("export-format", ["export", "{in}/c.npz", "--format", "xml"] + OUT, [], {}),
    ("export-device", ["export", "{in}/c.npz", "--format", "text", "-o", "full", "--force"], ["full@"], {}),
    ("export-pipe", ["export", "{in}/c.npz", "--format", "jsonl", "-o", "pipe", "--force"], ["pipe|"], {}),
    ("export-exists", ["export", "{in}/c.npz", "--format", "text", "-o", "old.npz"], ["old.npz"], {}),
    ("export-corpus-missing", ["export", "none.npz", "--format", "text"] + OUT, [], {}),
    # train: options
    ("train-seed-negative", T + ["--seed", "-1"] + OUT, [], {}),
    ("train-eta-min-negative", T + ["--eta-min", "-1"] + OUT, [], {}),
    ("train-weight-decay-nan", T + ["--weight-decay", "nan"] + OUT, [], {}),
    ("train-eps-nan", T + ["--eps", "nan"] + OUT, [], {}),
    ("train-momentum-inf", T + ["--momentum", "inf"] + OUT, [], {}),
    ("train-lr-inf", T + ["--lr", "inf"] + OUT, [], {}),
    ("train-lr-0", T + ["--lr", "0"] + OUT, [], {}),
    ("train-t-max-huge", T + ["--t-max", "100000000000000000000"] + OUT, [], {}),
    ("train-d-memory", T + ["--d", "1000000000000"] + OUT, [], {}),
    ("train-snapshots-memory", T + ["--steps", "100000000000000", "--record-every", "1"] + OUT, [], {}),
    ("train-steps-0", T + ["--steps", "0"] + OUT, [], {}),
    ("train-batch-size-0", T + ["--batch-size", "0"] + OUT, [], {}),
    ("train-betas-one", T + ["--betas", "0.9"] + OUT, [], {}),
    ("train-betas-range", T + ["--betas", "0.9,1"] + OUT, [], {}),
    ("train-arch", T + ["--arch", "gru"] + OUT, [], {}),
    ("train-heads", T + ["--d", "6", "--heads", "4"] + OUT, [], {}),
    ("train-merge-symbol", T + ["--merge", "0a,zz"] + OUT, [], {}),
    ("train-merge-range", T + ["--merge", "0,99"] + OUT, [], {}),
    ("train-mode", T + ["--mode", "exact"] + OUT, [], {}),
    ("train-input-grad-scale-negative", T + ["--input-grad-scale=-1"] + OUT, [], {}),
    ("train-input-grad-scale-nan", T + ["--input-grad-scale", "nan"] + OUT, [], {}),
    ("train-input-multiplier-word", T + ["--input-multiplier", "sqrt(k)"] + OUT, [], {}),
    ("train-input-multiplier-0", T + ["--input-multiplier", "0"] + OUT, [], {}),
    ("train-tied-dims-over-d", T + ["--tied", "--tied-dims", "99"] + OUT, [], {}),
    ("train-tied-dims-untied", T + ["--tied-dims", "1"] + OUT, [], {}),
    ("train-tie-map-untied", T + ["--tie-map"] + OUT, [], {}),
    ("train-tie-map-partial", T + ["--tied", "--tie-map", "--tied-dims", "1"] + OUT, [], {}),
    ("train-corpus-missing", ["train", "--corpus", "none.npz"] + OUT, [], {}),
    ("train-empty-train-split", ["train", "--corpus", "{in}/no-train.npz"] + OUT, [], {}),
    ("train-output-is-a-file", T + ["-o", "old.npz", "--force"], ["old.npz"], {}),
    ("train-output-is-a-pipe", T + ["-o", "pipe", "--force"], ["pipe|"], {}),
    ("train-memory-env-bad", T + OUT, [], {"TYING_MEMORY": "-5"}),
    # train: --config files
    ("config-betas-shape", T + ["--config", "{in}/betas.toml"] + OUT, [], {}),
    ("config-merge-shape", T + ["--config", "{in}/merge.toml"] + OUT, [], {}),
    ("config-lr-inf", T + ["--config", "{in}/lr-inf.toml"] + OUT, [], {}),
    ("config-not-toml", T + ["--config", "{in}/not.toml"] + OUT, [], {}),
    ("config-unknown-key", T + ["--config", "{in}/key.toml"] + OUT, [], {}),
    ("config-wrong-type", T + ["--config", "{in}/type.toml"] + OUT, [], {}),
    ("config-missing", T + ["--config", "{in}/none.toml"] + OUT, [], {}),
    # sweep
    ("sweep-spec-missing", ["sweep", "none.toml"] + OUT, [], {}),
    ("sweep-spec-not-toml", ["sweep", "{in}/not.toml"] + OUT, [], {}),
    ("sweep-lr-inf", ["sweep", "{in}/spec-lr.toml"] + OUT, [], {}),
    ("sweep-weight-decay-nan", ["sweep", "{in}/spec-wd.toml"] + OUT, [], {}),
    ("sweep-corpus-nan", ["sweep", "{in}/spec-zero.toml"] + OUT, [], {}),
    ("sweep-unknown-key", ["sweep", "{in}/spec-key.toml"] + OUT, [], {}),
    ("sweep-grid-limit", ["sweep", "{in}/spec-huge.toml"] + OUT, [], {}),
    ("sweep-seeds", ["sweep", "{in}/spec-seeds.toml"] + OUT, [], {}),
    ("sweep-weights", ["sweep", "{in}/spec-weights.toml"] + OUT, [], {}),
    ("sweep-pairs", ["sweep", "{in}/spec-pairs.toml"] + OUT, [], {}),
    ("sweep-merge-range", ["sweep", "{in}/spec-merge.toml"] + OUT, [], {}),
    ("sweep-memory", ["sweep", "{in}/spec-memory.toml"] + OUT, [], {}),
    ("sweep-snapshots-memory", ["sweep", "{in}/spec-snapshots.toml"] + OUT, [], {}),
    ("sweep-workers-0", ["sweep", "{in}/spec.toml", "--workers", "0"] + OUT, [], {}),
    ("sweep-dask-without-extra", ["sweep", "{in}/spec.toml", "--dask", "tcp://127.0.0.1:8786"] + OUT, [],
     {"python -c": NO_DASK}),
    ("sweep-out-is-a-file", ["sweep", "{in}/spec.toml", "-o", "old.npz"], ["old.npz"], {}),
    # the other commands
    ("verify-only", ["verify", "--only", "P9"], [], {}),
    ("reproduce-only", ["reproduce", "paper", "--only", "mnist", "--out", "out"], [], {}),
    ("reproduce-target", ["reproduce", "cifar", "--out", "out"], [], {}),
    ("reproduce-workers", ["reproduce", "paper", "--workers", "-2", "--out", "out"], [], {}),
    ("bench-out-parent", ["bench", "--out", "no/such/results"], [], {}),
    ("no-command", [], [], {}),
    ("unknown-command", ["fly"], [], {}),
]
if importlib.util.find_spec("distributed") is not None:
    CASES.append(("sweep-dask-address", ["sweep", "{in}/spec.toml", "--dask", "nonsense://x"] + OUT, [], {}))


def _resealed(corpus_file: Path, out: Path, edit) -> None:
    """The corpus with its metadata or arrays edited by edit(meta, arrays), and its checksum recomputed."""
    with np.load(corpus_file) as z:
        data = {k: z[k] for k in z.files}
    meta = json.loads(data.pop("meta").tobytes())
    data.pop("sha256")
    edit(meta, data)
    raw = json.dumps(meta, sort_keys=True).encode()
    buf = io.BytesIO()
    np.savez_compressed(buf, meta=np.frombuffer(raw, np.uint8),
                        sha256=np.frombuffer(_checksum(data, raw).encode(), np.uint8), **data)
    out.write_bytes(buf.getvalue())


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    good = d / "c.npz"
    parity_corpus(3, splits=(0.75, 0.25, 0.0)).save(good)
    parity_corpus(2, splits=(0.0, 1.0, 0.0)).save(d / "no-train.npz")
    (d / "truncated.npz").write_bytes(good.read_bytes()[:300])
    (d / "noise.npz").write_bytes(os.urandom(2000))
    with np.load(good) as z:  # an array changed, the old checksum kept
        data = {k: z[k] for k in z.files}
    data["split"] = data["split"].copy()
    data["split"][0] = 1 - data["split"][0]
    buf = io.BytesIO()
    np.savez_compressed(buf, **data)
    (d / "edited.npz").write_bytes(buf.getvalue())
    _resealed(good, d / "relation.npz", lambda m, a: m["relations"][0].update(a=99))
    _resealed(good, d / "special.npz", lambda m, a: m["specials"].update(mask=42))
    _resealed(good, d / "format.npz", lambda m, a: m.update(format=99))
    _resealed(good, d / "table.npz", lambda m, a: a["copy_src"].__setitem__(0, 99))
    files = {
        "syntax.pcfg": "S -> 'a' [1.0\n", "sum.pcfg": "S -> 'a' [0.5] | 'b' [0.2]\n",
        "betas.toml": "[train]\nbetas = [0.9]\n", "merge.toml": "[model]\nmerge_out = [[0]]\n",
        "lr-inf.toml": "[train]\nlr = inf\n", "not.toml": "[train\nlr = 1\n", "key.toml": "[model]\nwidth = 3\n",
        "type.toml": "[train]\nlr = 'fast'\n",
        "spec.toml": SPEC, "spec-lr.toml": SPEC + "lr = inf\n", "spec-wd.toml": SPEC + "weight_decay = nan\n",
        "spec-zero.toml": SPEC.replace("bits = 2", "bits = 2\nzero = [nan, 1.0]"),
        "spec-key.toml": SPEC + "[optim]\nlr = 1.0\n", "spec-huge.toml": HUGE_GRID,
        "spec-seeds.toml": "seeds = [-1]\n" + SPEC,
        "spec-weights.toml": SPEC.replace("bits = 2", "bits = 2\nzero = [0.5, 0.6]"),
        "spec-pairs.toml": SPEC + "[record]\npairs = [['0a', 'zz']]\n",
        "spec-merge.toml": SPEC + "[model]\nmerge_out = [[0, 99]]\n",
        "spec-memory.toml": SPEC + "[model]\nd = 1000000000000\n",
        "spec-snapshots.toml": SPEC.replace("steps = 1", "steps = 100000000000000") + "[record]\nevery = 1\n",
    }
    for name, text in files.items():
        (d / name).write_text(text)
    return d


def _snapshot(*folders: Path) -> dict:
    """Every entry under the folders, with the size and time of each file (a folder's own time changes
    when something is made in it and removed again, which is allowed)."""
    return {str(p): "folder" if p.is_dir() and not p.is_symlink() else (p.lstat().st_size, p.lstat().st_mtime_ns)
            for f in folders for p in f.rglob("*")}


def _prepare(cwd: Path, inputs: Path, make: list[str]) -> None:
    for item in make:
        path = cwd / item.rstrip("/|@")
        if item.endswith("/"):
            path.mkdir()
        elif item.endswith("|"):
            os.mkfifo(path)
        elif item.endswith("@"):
            path.symlink_to("/dev/full")
        else:
            shutil.copyfile(inputs / "c.npz", path)


@pytest.mark.parametrize("kind, args, make, env", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing_behind(kind, args, make, env, inputs, tmp_path):
    cwd = tmp_path / "work"
    cwd.mkdir()
    _prepare(cwd, inputs, make)
    before = _snapshot(cwd, inputs)
    env = dict(env)
    command = [sys.executable, "-c", env.pop("python -c")] if "python -c" in env else TYING
    res = subprocess.run(command + [a.replace("{in}", str(inputs)) for a in args], cwd=cwd, capture_output=True,
                         text=True, timeout=120, env={**os.environ, **env})
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert res.stderr.count("\n") == 1 and res.stderr.endswith("\n") and res.stderr.startswith("tying"), res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""
    assert _snapshot(cwd, inputs) == before


def test_the_table_has_at_least_60_kinds():
    assert len({c[0] for c in CASES}) == len(CASES) >= 60


def test_bench_names_the_users_bad_out_before_a_missing_extra(tmp_path):
    """A wrong --out is the user's to fix whatever is installed: it is reported even without torch."""
    hide_torch = NO_DASK.replace("'distributed'", "'torch'").replace("dask extra", "bench extra")
    res = subprocess.run([sys.executable, "-c", hide_torch, "bench", "--out", str(tmp_path / "no" / "such")],
                         cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "output folder's parent does not exist" in res.stderr, res.stderr
    # the control: a good --out, and the missing extra is what the error names
    res = subprocess.run([sys.executable, "-c", hide_torch, "bench", "--out", str(tmp_path / "results")],
                         cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "torch is not installed" in res.stderr, res.stderr
