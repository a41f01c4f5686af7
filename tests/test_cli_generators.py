"""`tying generate parity`, `inspect` and `export`, in-process, plus one real console-script run."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from tying.experiments.cli import main
from tying.generators.corpus import Corpus

DH_D01 = 0.5 * (math.log(2) + 0.1 * math.log(0.1) + 0.9 * math.log(0.9))  # 0.5 KL(Bern(0.1) || Bern(1/2))


def run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_input_error(rc, err, folder, *words):
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("tying ") and "Traceback" not in err
    for w in words:
        assert w in err
    assert not [p for p in Path(folder).iterdir() if p.name.startswith(".")]  # no temp file left behind


@pytest.fixture
def dh(tmp_path, capsys):
    path = tmp_path / "dh.npz"
    rc, out, _ = run(capsys, "generate", "parity", "--bits", 7, "--zero", "0.1,0.9", "--one", "0.5,0.5",
                     "--splits", "1,0,0", "--seed", 42, "-o", path)
    assert rc == 0 and "128 sequences" in out
    return path


def test_inspect_json_on_the_paper_corpus(dh, capsys):
    rc, out, _ = run(capsys, "inspect", dh, "--json")
    rep = json.loads(out)
    assert rc == 0 and rep["vocab"] == ["0a", "0b", "1a", "1b", "L0", "L1", "[MASK]"] and rep["n_sequences"] == 128
    assert rep["bayes_optimal"]["train"]["accuracy"] == pytest.approx(0.7, abs=1e-12)
    assert rep["bayes_optimal"]["train"]["cross_entropy"] == pytest.approx(
        0.5 * (-0.1 * math.log(0.1) - 0.9 * math.log(0.9)) + 0.5 * math.log(2), abs=1e-12)
    rel = {(r["a"], r["b"]): r for r in rep["relations"]}
    assert set(rel) == {(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)}
    assert rel[(0, 1)]["dh_violation_nats"] == pytest.approx(DH_D01, abs=1e-12)
    assert round(rel[(0, 1)]["dh_violation_nats"], 4) == 0.1840
    assert {k: rel[(0, 1)][k] for k in ("a_name", "b_name", "semantic_equivalent", "conditional_equivalent")} == \
        {"a_name": "0a", "b_name": "0b", "semantic_equivalent": True, "conditional_equivalent": False}
    assert (rel[(2, 3)]["conditional_equivalent"], rel[(2, 3)]["dh_violation_nats"]) == (True, 0.0)


def test_inspect_text(dh, capsys):
    rc, out, _ = run(capsys, "inspect", dh)
    assert rc == 0
    assert "exact enumeration" in out and "Bayes-optimal (exact)" in out
    assert f"D(0a, 0b) = {DH_D01:.6f} nats" in out
    assert any(line.split()[:4] == ["train", "57344", "0.700000", "0.509115"] for line in out.splitlines())


def test_inspect_other_splits(tmp_path, capsys):
    path = tmp_path / "c.npz"
    assert run(capsys, "generate", "parity", "--splits", "0.9,0.1,0", "-o", path)[0] == 0
    rep = json.loads(run(capsys, "inspect", path, "--json")[1])
    assert set(rep["bayes_optimal"]) == {"train", "validation", "all"}
    assert rep["split_sizes"] == {"train": 115, "validation": 13, "test": 0}
    assert rep["bayes_optimal"]["all"]["accuracy"] == pytest.approx(0.7, abs=1e-12)
    assert rep["bayes_optimal"]["train"]["accuracy"] != pytest.approx(0.7, abs=1e-6)


def test_inspect_estimates_when_not_enumerable(dh, capsys):
    rc, out, _ = run(capsys, "inspect", dh, "--json", "--max-rows", 100, "--ngram", 1, "--draws", 3)
    gt = json.loads(out)["ground_truth"]
    assert rc == 0 and gt["method"] == "ngram" and "not enumerable" in gt["reason"]
    assert gt["n_samples"] == 128 * 7 * 3 and gt["k"] == 1
    rc, out, _ = run(capsys, "inspect", dh, "--max-rows", 100)
    assert "ESTIMATED" in out and f"{128 * 7} samples" in out


def test_generate_is_byte_identical_for_a_seed(tmp_path, capsys):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        assert run(capsys, "generate", "parity", "--bits", 5, "--seed", seed, "-o", tmp_path / f"{name}.npz")[0] == 0
    a, b, c = ((tmp_path / f"{n}.npz").read_bytes() for n in "abc")
    assert a == b != c


def test_generate_force_overwrites(dh, capsys):
    assert run(capsys, "generate", "parity", "--bits", 3, "-o", dh, "--force")[0] == 0
    assert Corpus.load(dh).n_sequences == 8


def test_export(dh, tmp_path, capsys):
    rc, out, _ = run(capsys, "export", dh, "--format", "text", "-o", tmp_path / "x.txt", "--seed", 5)
    assert rc == 0 and (tmp_path / "x.txt").read_text() == Corpus.load(dh).export("text", seed=5)
    rc, _, _ = run(capsys, "export", dh, "--format", "jsonl", "-o", tmp_path / "x.jsonl")
    rows = [json.loads(x) for x in (tmp_path / "x.jsonl").read_text().splitlines()]
    assert rc == 0 and len(rows) == 128 and rows[0]["meanings"][-1] in ("label0", "label1")


@pytest.mark.parametrize("argv", [["generate"], ["generate", "parity"], ["inspect"], ["export"]])
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv + ["--help"])
    assert e.value.code == 0 and "usage: tying" in capsys.readouterr().out


# ----------------------------------------------------------------- bad input
def gen(tmp_path, capsys, *opts):
    return run(capsys, "generate", "parity", *opts, "-o", tmp_path / "out.npz")


def assert_nothing_written(tmp_path):
    assert not (tmp_path / "out.npz").exists()


def test_weights_not_summing_to_one(tmp_path, capsys):
    rc, _, err = gen(tmp_path, capsys, "--zero", "0.1,0.8")
    assert_input_error(rc, err, tmp_path, "--zero", "sum to 1")
    assert_nothing_written(tmp_path)


def test_negative_weights(tmp_path, capsys):
    rc, _, err = gen(tmp_path, capsys, "--one", "1.5,-0.5")
    assert_input_error(rc, err, tmp_path, "--one", "non-negative")
    assert_nothing_written(tmp_path)


def test_nan_weights(tmp_path, capsys):
    rc, _, err = gen(tmp_path, capsys, "--zero", "nan,1")
    assert_input_error(rc, err, tmp_path, "--zero", "NaN")
    assert_nothing_written(tmp_path)


def test_weights_that_are_not_numbers(tmp_path, capsys):
    rc, _, err = gen(tmp_path, capsys, "--one", "0.5,half")
    assert_input_error(rc, err, tmp_path, "--one", "not a comma-separated list of numbers")
    assert_nothing_written(tmp_path)


@pytest.mark.parametrize("bits", [0, 21, -3])
def test_bits_out_of_range(tmp_path, capsys, bits):
    rc, _, err = gen(tmp_path, capsys, "--bits", bits)
    assert_input_error(rc, err, tmp_path, "bits", "1..20")
    assert_nothing_written(tmp_path)


@pytest.mark.parametrize("splits, words", [("0.8,0.1,0.2", "sum to 1"), ("0.9,0.2,-0.1", "non-negative"),
                                           ("0.9,0.1", "exactly 3"), ("a,b,c", "--splits")])
def test_bad_split_fractions(tmp_path, capsys, splits, words):
    rc, _, err = gen(tmp_path, capsys, "--splits", splits)
    assert_input_error(rc, err, tmp_path, words)
    assert_nothing_written(tmp_path)


def test_output_exists_without_force(dh, capsys):
    before = dh.read_bytes()
    rc, _, err = run(capsys, "generate", "parity", "--bits", 3, "-o", dh)
    assert_input_error(rc, err, dh.parent, "exists", "--force")
    assert dh.read_bytes() == before
    rc, _, err = run(capsys, "export", dh, "--format", "text", "-o", dh)
    assert_input_error(rc, err, dh.parent, "exists")
    assert dh.read_bytes() == before


def test_output_folder_missing(tmp_path, capsys):
    rc, _, err = run(capsys, "generate", "parity", "-o", tmp_path / "no" / "c.npz")
    assert_input_error(rc, err, tmp_path, "folder does not exist")


def test_truncated_corpus_file(dh, tmp_path, capsys):
    bad = tmp_path / "t.npz"
    bad.write_bytes(dh.read_bytes()[:500])
    for argv in (["inspect", bad], ["export", bad, "--format", "text", "-o", tmp_path / "out.npz"]):
        rc, _, err = run(capsys, *argv)
        assert_input_error(rc, err, tmp_path, "truncated or corrupted")
    assert_nothing_written(tmp_path)


def test_corrupted_corpus_file(dh, tmp_path, capsys):
    data = bytearray(dh.read_bytes())
    data[len(data) // 3] ^= 0xFF  # inside the compressed arrays
    bad = tmp_path / "c.npz"
    bad.write_bytes(bytes(data))
    rc, _, err = run(capsys, "inspect", bad)
    assert_input_error(rc, err, tmp_path, "c.npz")
    assert "truncated or corrupted" in err or "checksum" in err


def test_checksum_failing_corpus_file(dh, tmp_path, capsys):
    import io

    import numpy as np

    with np.load(dh) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["split"] = np.ones_like(arrays["split"])
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    (tmp_path / "s.npz").write_bytes(buf.getvalue())
    rc, _, err = run(capsys, "inspect", tmp_path / "s.npz", "--json")
    assert_input_error(rc, err, tmp_path, "sha256 checksum")


def test_console_script_exit_code_and_no_traceback(tmp_path):
    tying = Path(sys.executable).parent / "tying"
    out = tmp_path / "x.npz"
    p = subprocess.run([str(tying), "generate", "parity", "--zero", "0.5,0.6", "-o", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr and p.stdout == ""
    assert p.stderr == "tying generate: error: --zero weights must sum to 1, got 0.5,0.6 (sum 1.1)\n"
    assert not out.exists()


def test_generate_parity_paper_split(tmp_path, capsys):
    path = tmp_path / "paper.npz"
    rc, out, _ = run(capsys, "generate", "parity", "--paper-split", "-o", path)
    assert rc == 0 and "127 sequences (train 114, validation 12, test 1)" in out
    from tying.generators.parity import parity_corpus
    assert Corpus.load(path).digest() == parity_corpus(7, paper_split=True).digest()
    rc, _, _ = run(capsys, "generate", "parity", "--paper-split", "--split-seed", 3, "-o", tmp_path / "s3.npz")
    assert rc == 0 and Corpus.load(tmp_path / "s3.npz").digest() == parity_corpus(7, paper_split=True,
                                                                                  split_seed=3).digest()
    for bad, word in ((["--paper-split", "--splits", "1,0,0"], "--splits"), (["--split-seed", 3], "--paper-split"),
                      (["--paper-split", "--bits", 3], "4 bits")):
        rc, _, err = run(capsys, "generate", "parity", *bad, "-o", tmp_path / "bad.npz")
        assert_input_error(rc, err, tmp_path, word)
        assert not (tmp_path / "bad.npz").exists()
