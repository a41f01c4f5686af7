"""`text_corpus` and `tying generate text`: tokenizing, counting, splitting, memory, bad input.

Every text is made here (text_fixtures.py): a few hand-written lines, or
sentences of the built-in toy-english grammar written to tmp_path (with
punctuation, case and spacing added by a seeded rule), so no outside text
enters the repo.
"""
import hashlib
import subprocess
import sys
import tracemalloc
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tying import text_corpus
from tying.experiments.cli import main
from tying.generators import load_grammar, pcfg_corpus
from tying.generators import text as text_module

from text_fixtures import HAND, noisy_sentences, scan, words, write


@pytest.fixture(scope="module")
def noisy(tmp_path_factory) -> Path:
    return write(tmp_path_factory.mktemp("text") / "noisy.txt", noisy_sentences(3000, 5))


# ------------------------------------------------------------------ tokenizing by hand
def test_words_by_hand(tmp_path):
    c = text_corpus(write(tmp_path / "a.txt", HAND), splits=(1, 0, 0))
    assert words(c) == [["the", "dog", "runs", "."], ["a", "cat", ",", "the", "dog", "!"],
                        ["don", "'", "t", "stop"]]
    # dog and the twice (alphabetical between them), then the ten singletons in code-point order
    assert c.vocab == ["dog", "the", "!", "'", ",", ".", "a", "cat", "don", "runs", "stop", "t", "[MASK]"]
    assert c.specials["mask"] == 12 and c.task == "mlm" and c.mask_rate == 0.15
    r = c.provenance["reading"]
    assert (r["lines_read"], r["blank"], r["sequences"], r["tokens"], r["types"], r["unk_tokens"]) == \
        (5, 2, 3, 14, 12, 0)
    assert c.provenance["file_sha256"] == hashlib.sha256(HAND.encode()).hexdigest()
    assert c.provenance["generator"] == "text" and c.provenance["parameters"]["tokenizer"] == "words"


def test_chars_by_hand(tmp_path):
    c = text_corpus(write(tmp_path / "a.txt", "  Ab \t b \nb\n"), tokenizer="chars", task="causal")
    assert words(c) == [["A", "b", "\u2423", "b"], ["b"]]  # ends stripped, the inner run is one token
    assert c.vocab == ["b", "A", "\u2423"]  # b three times; A (U+0041) before U+2423; no [MASK] for causal
    assert c.specials["mask"] == -1


def test_a_byte_order_mark_is_no_token(tmp_path):
    c = text_corpus(write(tmp_path / "a.txt", "\ufeffHello world\nhello\n"), task="causal")
    assert words(c) == [["hello", "world"], ["hello"]]
    mid = text_corpus(write(tmp_path / "b.txt", "x\n\ufeffHello\n"), task="causal")
    assert mid.vocab == ["hello", "x", "\ufeff"]  # past the start it is a character (not \w, not space)


def test_min_count_by_hand(tmp_path):
    c = text_corpus(write(tmp_path / "a.txt", HAND), min_count=2, splits=(1, 0, 0))
    assert c.vocab == ["dog", "the", "[UNK]", "[MASK]"]
    assert words(c) == [["the", "dog", "[UNK]", "[UNK]"], ["[UNK]"] * 3 + ["the", "dog", "[UNK]"], ["[UNK]"] * 4]
    r = c.provenance["reading"]
    assert (r["unk_tokens"], r["unk_types"]) == (10, 10)
    assert "[UNK]" not in text_corpus(tmp_path / "a.txt", min_count=1).vocab  # negative control


@pytest.mark.parametrize("rule, expected, count", [
    ("drop", [["the", "dog", "runs", "."], ["don", "'", "t", "stop"]], 1),
    ("truncate", [["the", "dog", "runs", "."], ["a", "cat", ",", "the"], ["don", "'", "t", "stop"]], 1),
    ("chunk", [["the", "dog", "runs", "."], ["a", "cat", ",", "the"], ["dog", "!"], ["don", "'", "t", "stop"]], 1),
])
def test_long_lines(tmp_path, rule, expected, count):
    c = text_corpus(write(tmp_path / "a.txt", HAND), max_length=4, long_lines=rule, splits=(1, 0, 0))
    assert words(c) == expected
    r = c.provenance["reading"]
    assert r["long"] == count and r["sequences"] == len(expected) and r["tokens"] == sum(map(len, expected))
    assert c.max_len <= 4 and c.provenance["parameters"]["long_lines"] == rule


def test_counts_are_of_the_lines_kept(tmp_path):
    # 'dog' appears twice, once in the long line: dropping it leaves one, under min count 2
    c = text_corpus(write(tmp_path / "a.txt", HAND), max_length=4, min_count=2, splits=(1, 0, 0))
    assert c.vocab == ["[UNK]", "[MASK]"]


# ------------------------------------------------------------------ a second tokenizer, chunking
def test_words_match_an_independent_tokenizer(noisy, monkeypatch):
    lines = [scan(x) for x in noisy.read_text(encoding="utf-8").splitlines()]
    lines = [x for x in lines if x]
    assert any("café" in x for x in lines) and any("'" in x for x in lines)  # the test text has what it tests
    full = text_corpus(noisy, max_length=1000, splits=(1, 0, 0))
    assert words(full) == lines
    counts = Counter(w for x in lines for w in x)
    assert full.meanings == sorted(counts, key=lambda w: (-counts[w], w))
    monkeypatch.setattr(text_module, "CHUNK", 97)  # many chunk edges, and lines longer than a chunk
    small = text_corpus(noisy, max_length=1000, splits=(1, 0, 0))
    assert small.digest() == full.digest()


def test_chars_match_an_independent_tokenizer(noisy):
    expect = []
    for line in noisy.read_text(encoding="utf-8").splitlines():
        toks, space = [], False
        for ch in line.strip():
            if ch.isspace():
                space = True
                continue
            if space:
                toks.append("\u2423")
            toks.append(ch)
            space = False
        if toks:
            expect.append(toks)
    c = text_corpus(noisy, tokenizer="chars", max_length=10_000, splits=(1, 0, 0))
    assert words(c) == expect


def test_same_seed_same_bytes_and_the_seed_draws_the_split(noisy):
    a, b = (text_corpus(noisy, seed=3, splits=(0.8, 0.1, 0.1)) for _ in range(2))
    assert a.to_bytes() == b.to_bytes()
    other = text_corpus(noisy, seed=4, splits=(0.8, 0.1, 0.1))
    assert not np.array_equal(a.split, other.split) and np.array_equal(a.seqs, other.seqs)
    n = a.n_sequences
    assert np.bincount(a.split, minlength=3).tolist() == [round(0.8 * n), round(0.9 * n) - round(0.8 * n),
                                                          n - round(0.9 * n)]
    assert 0 < np.count_nonzero(a.split[: n // 2] == 1) < np.count_nonzero(a.split == 1)  # drawn, not blocks


def test_a_text_of_pcfg_sentences_is_the_pcfg_corpus(tmp_path):
    g = load_grammar("toy-english")
    p = pcfg_corpus(g, 2000, 7, task="causal", splits=(1, 0, 0))
    c = text_corpus(write(tmp_path / "p.txt", p.export("text")), task="causal", splits=(1, 0, 0))
    assert np.array_equal(c.offsets, p.offsets)
    used = sorted({p.vocab[i] for i in np.unique(p.seqs)})
    assert sorted(c.vocab) == used
    to_pcfg = np.array([p.vocab.index(w) for w in c.vocab])
    assert np.array_equal(to_pcfg[c.seqs], p.seqs)


def test_tokenizer_json(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    tok = tokenizers.Tokenizer(WordLevel({"[UNK]": 0, "the": 1, "dog": 2, "runs": 3}, unk_token="[UNK]"))
    tok.pre_tokenizer = Whitespace()
    tok.save(str(tmp_path / "tokenizer.json"))
    f = write(tmp_path / "a.txt", "the dog runs\nthe cat runs\n")
    c = text_corpus(f, tokenizer=str(tmp_path / "tokenizer.json"), task="causal")
    assert words(c) == [["the", "dog", "runs"], ["the", "[UNK]", "runs"]]  # its [UNK] is ours
    assert c.vocab == ["runs", "the", "dog", "[UNK]"] and c.provenance["reading"]["unk_tokens"] == 1


def test_tokenizer_json_errors(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import WhitespaceSplit

    from tying.core.errors import InputError

    f = write(tmp_path / "a.txt", "the [MASK] runs\n")
    with pytest.raises(InputError, match="not a tokenizer.json"):
        text_corpus(f, tokenizer=str(write(tmp_path / "bad.json", "{not json")))
    tok = tokenizers.Tokenizer(WordLevel({"[UNK]": 0, "the": 1, "[MASK]": 2}, unk_token="[UNK]"))
    tok.pre_tokenizer = WhitespaceSplit()
    tok.save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(InputError, match=r"writes the reserved token '\[MASK\]'"):
        text_corpus(f, tokenizer=str(tmp_path / "tokenizer.json"))


# ------------------------------------------------------------------ memory
def test_peak_memory_is_under_three_times_the_file(tmp_path):
    f = write(tmp_path / "m.txt", noisy_sentences(1000, 1) * 160)  # ~6 MB: a chunk's Python objects are a constant
    size = f.stat().st_size
    assert size > 5_000_000
    text_corpus(f, splits=(1, 0, 0))  # imports and caches outside the measurement
    tracemalloc.start()
    try:
        c = text_corpus(f, splits=(1, 0, 0))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(c.seqs) > 1_000_000
    assert peak < 3 * size, (peak, size)
    assert 4 * len(c.seqs) < peak  # the measurement sees the int32 ids at least (it measures numpy too)


# ------------------------------------------------------------------ bad input through the CLI
def run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


BAD = [
    ("nul", b"the dog\nrun\x00s\n", "NUL byte at byte offset 11, line 2"),
    ("utf8", "the dog\ncafé\n".encode() + b"ok \xff\xfe\n", "line 3: invalid UTF-8 at byte offset 17"),
    ("truncated-utf8", b"abc\n\xc3", "line 2: invalid UTF-8 at byte offset 4"),
    ("empty", b"", "no tokens (0 lines read"),
    ("blank", b"\n  \n\t\r\n", "no tokens (3 lines read, all blank)"),
]


@pytest.mark.parametrize("name, data, message", BAD, ids=[b[0] for b in BAD])
def test_bad_files_exit_2_one_line_nothing_written(tmp_path, capsys, name, data, message):
    (tmp_path / "in.txt").write_bytes(data)
    out = tmp_path / "out"
    out.mkdir()
    rc, _, err = run(capsys, "generate", "text", "--file", tmp_path / "in.txt", "-o", out / "c.npz")
    assert rc == 2 and err.count("\n") == 1 and err.startswith("tying") and "Traceback" not in err, err
    assert message in err
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("args, message", [
    (["--file", "{d}/missing.txt"], "text file not found"),
    (["--file", "{d}"], "text file not found"),
    (["--tokenizer", "bpe"], "unknown tokenizer 'bpe'"),
    (["--max-length", "2"], "every line is longer than max length 2"),
    (["--task", "causal", "--mask-rate", "0.2"], "--mask-rate applies to --task mlm only"),
    (["--splits", "0.5,0.6,0"], "split fractions must sum to 1"),
    (["--allomorph", "the:@Det/^"], "names a part of speech, but this corpus has none"),
    (["--twins", "99:0.5"], "only 4 symbols that can get a twin"),
    (["--merge", "the,cow"], "symbol 'cow' is not in the corpus"),
])
def test_bad_options_exit_2(tmp_path, capsys, args, message):
    write(tmp_path / "in.txt", "the dog runs\nthe cat runs\n")
    args = [a.format(d=tmp_path) for a in args]
    if "--file" not in args:
        args = ["--file", tmp_path / "in.txt", *args]
    out = tmp_path / "out"
    out.mkdir()
    rc, _, err = run(capsys, "generate", "text", *args, "-o", out / "c.npz")
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err and message in err, err
    assert list(out.iterdir()) == []


def test_missing_tokenizers_package_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # as if the extra were not installed
    write(tmp_path / "in.txt", "a b\n")
    write(tmp_path / "tokenizer.json", "{}")
    rc, _, err = run(capsys, "generate", "text", "--file", tmp_path / "in.txt", "--tokenizer",
                     tmp_path / "tokenizer.json", "-o", tmp_path / "c.npz")
    assert rc == 2 and "needs the optional 'tokenizers' package" in err and err.count("\n") == 1
    assert not (tmp_path / "c.npz").exists()


def test_the_real_command(tmp_path):
    write(tmp_path / "in.txt", "the dog runs\n\nthe cat runs\n")
    ok = subprocess.run([sys.executable, "-m", "tying", "generate", "text", "--file", "in.txt", "--task", "causal",
                         "-o", "c.npz"], cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0 and "read 3 lines of in.txt: 1 blank" in ok.stdout, ok.stderr
    bad = subprocess.run([sys.executable, "-m", "tying", "generate", "text", "--file", "in.txt", "-o", "c.npz"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "exists" in bad.stderr
    help_ = subprocess.run([sys.executable, "-m", "tying", "generate", "text", "--help"], capture_output=True,
                           text=True)
    assert help_.returncode == 0 and "example" in help_.stdout and "--min-count" in help_.stdout


def test_the_summary_names_at_most_40_symbols(tmp_path, capsys):
    words = [f"w{i:02d}" for i in range(50)]  # each seen once, so the vocabulary is alphabetical
    write(tmp_path / "big.txt", "\n".join(" ".join(words[i:i + 5]) for i in range(0, 50, 5)) + "\n")
    rc, out, _ = run(capsys, "generate", "text", "--file", tmp_path / "big.txt", "--task", "causal", "-o",
                     tmp_path / "big.npz")
    first = out.splitlines()[0]
    assert rc == 0 and first.endswith("50 symbols: " + " ".join(words[:40]) + " ... (10 more)"), first
    # the control: a small vocabulary is named whole
    write(tmp_path / "small.txt", "b a\na\n")
    rc, out, _ = run(capsys, "generate", "text", "--file", tmp_path / "small.txt", "-o", tmp_path / "s.npz")
    assert rc == 0 and out.splitlines()[0].endswith("3 symbols: a b [MASK]")
