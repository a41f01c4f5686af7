"""DH transforms and ground truth on text corpora (`tying generate text --twins ...`, `inspect`)."""
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tying import text_corpus
from tying.experiments.cli import main
from tying.generators import Corpus, apply_steps, estimate, exact, report

from text_fixtures import noisy_sentences, words, write


@pytest.fixture(scope="module")
def noisy(tmp_path_factory) -> Path:
    return write(tmp_path_factory.mktemp("text") / "noisy.txt", noisy_sentences(3000, 5))


def run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


# ------------------------------------------------------------------ transforms and truth
def relation(c: Corpus, a: str, b: str) -> dict:
    (r,) = [r for r in c.relations if {c.vocab[r["a"]], c.vocab[r["b"]]} == {a, b}]
    return r


@pytest.mark.parametrize("task", ["mlm", "causal"])
def test_transforms_on_a_text_corpus(noisy, tmp_path, task):
    c = text_corpus(noisy, task=task)
    top = c.meanings[0]
    s = apply_steps(c, [("split", f"{top}:0.5,0.5")], 0)
    assert (relation(s, f"{top}#1", f"{top}#2")["se"], relation(s, f"{top}#1", f"{top}#2")["ce"]) == (True, True)
    s = apply_steps(c, [("split", f"{top}:0.3,0.7")], 0)
    assert (relation(s, f"{top}#1", f"{top}#2")["se"], relation(s, f"{top}#1", f"{top}#2")["ce"]) == (True, False)
    before = Counter(x[i - 1] for x in words(c) for i in range(1, len(x)) if x[i] == "the")
    preceding = [w for w, _ in before.most_common(2)]  # words that do precede 'the', so its variants are targets
    a = apply_steps(c, [("allomorph", f"the:{'+'.join(preceding)}/^")], 0)
    assert relation(a, "the#1", "the#2")["ce"] is False
    assert relation(a, "the#1", "the#2")["se"] is (task == "causal")
    m = apply_steps(c, [("merge", "the,a")], 0)
    assert "the|a" in m.vocab and "the" not in m.vocab and m.provenance["transforms"][-1]["meanings"] == ["the", "a"]
    for x in (s, a, m):
        x.save(tmp_path / f"{task}.npz", force=True)
        back = Corpus.load(tmp_path / f"{task}.npz")
        assert back.digest() == x.digest() and back.relations == x.relations


def test_twins_from_the_command_line_and_inspect(noisy, tmp_path, capsys):
    out = tmp_path / "tw.npz"
    rc, text, err = run(capsys, "generate", "text", "--file", noisy, "--twins", "100:0.5", "--seed", 2, "-o", out)
    assert rc == 0, err
    c = Corpus.load(out)
    plain = text_corpus(noisy, seed=2)
    assert len(c.relations) == 100 and all(r["se"] and r["ce"] for r in c.relations)
    assert c.provenance["transforms"][0]["symbols"] == plain.meanings[:100]  # the 100 most frequent
    assert c.vocab_size == plain.vocab_size + 100 and np.array_equal(c.seqs, plain.seqs)
    rc, text, _ = run(capsys, "inspect", out)
    assert rc == 0 and "ESTIMATED" in text


def test_ngram_truth_is_the_bigram_count(noisy):
    c = text_corpus(noisy, task="causal", splits=(1, 0, 0))
    t = estimate(c, k=1)
    pairs = Counter((s[i - 1], s[i]) for s in words(c) for i in range(1, len(s)))
    prev = Counter()
    for (x, _), n in pairs.items():
        prev[x] += n
    assert t.n_samples == sum(pairs.values()) == len(c.seqs) - c.n_sequences
    got = {}
    for i in range(t.n_contexts):
        for j in range(t.indptr[i], t.indptr[i + 1]):
            got[(c.vocab[t.keys[i, 0]], c.vocab[t.sym[j]])] = t.p_cond[j]
    assert got.keys() == pairs.keys()
    assert max(abs(got[p] - n / prev[p[0]]) for p, n in pairs.items()) < 1e-12
    t2 = estimate(c, k=2)  # negative control: two words of context are not the bigram
    assert t2.n_contexts > t.n_contexts and abs(t2.cross_entropy() - t.cross_entropy()) > 1e-3
    # a context of the whole prefix is the exact population's (identity realization: one draw suffices)
    assert estimate(c, k=c.max_len).cross_entropy() == pytest.approx(exact(c).cross_entropy(), abs=1e-12)
    rep = report(c)
    assert rep["bayes_optimal"]["all"]["cross_entropy"] == pytest.approx(exact(c).cross_entropy(), abs=1e-12)


def test_ngram_report_on_a_transformed_text_corpus(noisy):
    c = apply_steps(text_corpus(noisy, task="causal", splits=(1, 0, 0)), [("twins", "50:0.5")], 0)
    rep = report(c, k=1)
    gt = rep["ground_truth"]
    assert gt["method"] == "ngram" and gt["n_samples"] == len(c.seqs) - c.n_sequences
    assert len(rep["relations"]) == 50 and all(r["semantic_equivalent"] for r in rep["relations"])
