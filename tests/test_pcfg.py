"""PCFG engine: parsing and validation, the sampler's distribution, the guards,
the toy-english grammar, pcfg corpora and ``tying generate pcfg``."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tying.experiments import cli
from tying.generators.corpus import Corpus
from tying.core.errors import InputError
from tying.generators.examples import Stream
from tying.generators.pcfg import load_grammar, parse_grammar, pcfg_corpus

Z_999 = 3.0902  # upper 0.1% point of N(0, 1)


def chi2_crit(df: int) -> float:
    """Upper 0.1% point of chi-square(df), Wilson-Hilferty approximation."""
    return df * (1 - 2 / (9 * df) + Z_999 * np.sqrt(2 / (9 * df))) ** 3


def chi2(counts, probs) -> tuple[float, int]:
    counts, probs = np.asarray(counts, float), np.asarray(probs, float)
    assert np.all(counts[probs == 0] == 0), "an outcome of probability 0 was drawn"
    e = counts.sum() * probs
    k = probs > 0
    return float(np.sum((counts[k] - e[k]) ** 2 / e[k])), int(k.sum()) - 1


SMALL = """
# a comment line
S  -> NP VP [1.0]
NP -> Det N [0.7] | 'she' [0.3]   # a trailing comment
Det -> 'the' [0.5] | "a" [0.5]
N  -> 'dog' [0.6]
N  -> 'cat' [0.3]
    | 'cow' [0.1] | 'yak' [0.0]
VP -> 'runs' [0.5] | 'sees' NP [0.4] | [0.1]
"""


def test_parse_nltk_format():
    g = parse_grammar(SMALL)
    assert g.nonterminals == ["S", "NP", "Det", "N", "VP"]
    assert g.terminals == ["she", "the", "a", "dog", "cat", "cow", "yak", "runs", "sees"]
    got = [(r.lhs, r.rhs, r.prob, r.line) for r in g.rules]
    T = lambda s: (True, s)  # noqa: E731
    NT = lambda s: (False, s)  # noqa: E731
    assert got == [
        ("S", (NT("NP"), NT("VP")), 1.0, 3),
        ("NP", (NT("Det"), NT("N")), 0.7, 4), ("NP", (T("she"),), 0.3, 4),
        ("Det", (T("the"),), 0.5, 5), ("Det", (T("a"),), 0.5, 5),
        ("N", (T("dog"),), 0.6, 6), ("N", (T("cat"),), 0.3, 7), ("N", (T("cow"),), 0.1, 8),
        ("N", (T("yak"),), 0.0, 8),
        ("VP", (T("runs"),), 0.5, 9), ("VP", (T("sees"), NT("NP")), 0.4, 9), ("VP", (), 0.1, 9),
    ]
    assert g.nonterminals[g.start] == "S"
    assert g.parts_of_speech() == {"Det": ["the", "a"], "N": ["dog", "cat", "cow", "yak"]}


# ------------------------------------------------------------------ validation
def test_probabilities_must_sum_to_one():
    with pytest.raises(InputError, match=r"probabilities of 'NP' sum to 0\.9, not 1 \(lines 2, 3\)"):
        parse_grammar("S -> NP [1.0]\nNP -> 'a' [0.5]\nNP -> 'b' [0.3] | 'c' [0.1]")


def test_sum_tolerance_is_one_in_a_million():
    parse_grammar("S -> 'a' [0.3333333] | 'b' [0.3333333] | 'c' [0.3333333]")  # off by 1e-7
    with pytest.raises(InputError, match="sum to"):
        parse_grammar("S -> 'a' [0.33333] | 'b' [0.33333] | 'c' [0.33333]")  # off by 1e-5


def test_undefined_nonterminal():
    with pytest.raises(InputError, match=r"line 2: nonterminal 'Adj' is used but never defined"):
        parse_grammar("S -> NP [1.0]\nNP -> Adj 'dog' [1.0]")


def test_start_symbol_must_exist():
    with pytest.raises(InputError, match="start symbol 'Q' is not defined"):
        parse_grammar(SMALL, start="Q")
    assert parse_grammar(SMALL, start="NP").nonterminals[parse_grammar(SMALL, start="NP").start] == "NP"


def test_empty_grammar():
    with pytest.raises(InputError, match="no rules"):
        parse_grammar("# nothing here\n\n")


@pytest.mark.parametrize("line, message", [
    ("NP Det N [1.0]", "expected 'LHS -> RHS \\[p\\]'"),
    ("NP -> Det N", "alternative \\(Det N\\) has no probability"),
    ("NP -> Det N [0.5] |", "alternative \\(empty\\) has no probability"),
    ("NP -> 'dog [1.0]", "unterminated quote at column 7"),
    ("NP -> 'dog' [x]", "probability \\[x\\] is not a number"),
    ("NP -> 'dog' [1.5]", "probability \\[1.5\\] is not in \\[0, 1\\]"),
    ("NP -> 'dog' [nan]", "probability \\[nan\\] is not in \\[0, 1\\]"),
    ("NP -> 'dog' [0.5] 'cat' [0.5]", "unexpected 'cat' after a probability"),
    ("'NP' -> 'dog' [1.0]", "the left-hand side must be a nonterminal"),
    ("NP -> Det -> N [1.0]", "unexpected '->'"),
    ("NP -> '' [1.0]", "a terminal cannot be the empty string"),
    ("NP -> 'dog' [1.0", "unclosed '\\['"),
])
def test_malformed_line_reports_its_number(line, message):
    text = f"S -> NP [1.0]\n# comment\n{line}\n"
    with pytest.raises(InputError, match=f"line 3: {message}"):
        parse_grammar(text)


def test_continuation_without_rule():
    with pytest.raises(InputError, match="line 1: a line starting with '\\|' must continue a rule"):
        parse_grammar("| 'a' [1.0]")


@pytest.mark.parametrize("text, rho", [
    ("S -> S S [0.6] | 'a' [0.4]", 1.2),  # supercritical: infinite trees with positive probability
    ("S -> S S [0.5] | 'a' [0.5]", 1.0),  # critical: finite a.s., but infinite expected length
    ("S -> S [1.0]", 1.0),  # never emits a word
    ("S -> A [1.0]\nA -> B 'x' [1.0]\nB -> A [0.2] | A A [0.8]", np.sqrt(1.8)),  # M = [[0, 1], [1.8, 0]]
])
def test_grammar_that_does_not_terminate(text, rho):
    with pytest.raises(InputError, match=f"does not terminate.*spectral radius {rho:.6g} >= 1"):
        parse_grammar(text)


def test_spectral_radius_by_hand():
    # M = [[2 * 0.4]] for S -> S S; M = [[0, 0.5], [0.8, 0]] has eigenvalues +-sqrt(0.4)
    assert parse_grammar("S -> S S [0.4] | 'a' [0.6]").spectral_radius() == pytest.approx(0.8, abs=1e-12)
    g = parse_grammar("S -> 'a' A [0.5] | 'b' [0.5]\nA -> 'c' S [0.8] | 'd' [0.2]")
    assert g.spectral_radius() == pytest.approx(np.sqrt(0.4), abs=1e-12)


def test_unreachable_part_does_not_matter():
    g = parse_grammar("S -> 'a' [1.0]\nX -> X X [1.0]")  # X never derives a word, but S never reaches it
    assert g.spectral_radius() == 0.0
    assert g.sample(5, 0).seqs.tolist() == [0] * 5


# ------------------------------------------------------------------ sampling distribution
def test_expected_length_by_hand_and_empirically():
    cases = [  # (grammar, E[len] by hand: e = t / (1 - m) for one nonterminal)
        ("S -> S S [0.3] | 'a' [0.7]", 0.7 / (1 - 0.6)),
        ("S -> 'a' S [0.3] | 'b' [0.7]", 1 / 0.7),
        ("S -> NP 'v' NP [1.0]\nNP -> 'n' [0.6] | 'a' NP [0.4]", 1 + 2 / 0.6),
    ]
    for text, e in cases:
        g = parse_grammar(text)
        assert g.expected_length() == pytest.approx(e, rel=1e-12)
        s = g.sample(40_000, 7, max_length=10**6)
        assert s.rejected == {"length": 0, "depth": 0, "empty": 0}
        L = np.diff(s.offsets)
        assert abs(L.mean() - e) < 5 * L.std() / np.sqrt(len(L))


def test_toy_english_expected_length_matches_sampling():
    g = load_grammar("toy-english")
    s = g.sample(30_000, 3, max_length=10**5, max_depth=10**5)
    assert s.rejected["length"] == s.rejected["depth"] == 0
    L = np.diff(s.offsets)
    assert abs(L.mean() - g.expected_length()) < 5 * L.std() / np.sqrt(len(L))


def test_expected_rule_uses_by_hand():
    # S once; NP once from S and 0.4 times from VP -> 'sees' NP; Det and N 0.7 times per NP; VP once
    g = parse_grammar(SMALL)
    assert np.allclose(g.expected_expansions(), [1, 1.4, 0.98, 0.98, 1], atol=1e-12)
    s = g.sample(20_000, 8, max_length=10**6)
    # in this grammar a rule is used at most twice per tree, so the per-tree sd is <= 1
    assert np.all(np.abs(s.rule_counts / 20_000 - g.expected_rule_counts()) < 5 / np.sqrt(20_000))


def test_rule_frequencies_match_probabilities():
    g = parse_grammar(SMALL)
    s = g.sample(50_000, 11, max_length=10**6)
    assert s.rule_counts[[r.prob == 0 for r in g.rules]].sum() == 0
    for a, name in enumerate(g.nonterminals):
        lo, hi = g.lhs_start[a], g.lhs_start[a + 1]
        if hi - lo > 1:
            stat, df = chi2(s.rule_counts[lo:hi], g.prob[lo:hi])
            assert stat < chi2_crit(df), (name, stat, df)


def test_word_frequencies_of_toy_english_match_its_rules():
    # Each word has one part of speech, and choosing a word never changes the
    # length, so the words drawn for a part of speech follow its rule
    # probabilities even under the length guard: a check from the sentences alone.
    g = load_grammar("toy-english")
    s = g.sample(20_000, 5)
    counts = np.bincount(s.seqs, minlength=len(g.terminals))
    for pos, words in g.parts_of_speech().items():
        ids = [g.terminals.index(w) for w in words]
        a = g.nonterminals.index(pos)
        stat, df = chi2(counts[ids], g.prob[g.lhs_start[a] : g.lhs_start[a + 1]])
        assert stat < chi2_crit(df), (pos, stat, df)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(st.lists(st.floats(0.01, 1.0), min_size=2, max_size=12), st.integers(0, 2**32))
def test_alias_sampling_of_one_choice(raw, seed):
    p = np.array(raw) / np.sum(raw)
    p = np.round(p, 9)
    p[0] += 1 - p.sum()
    text = "S -> " + " | ".join(f"'w{i}' [{q:.9f}]" for i, q in enumerate(p))
    s = parse_grammar(text).sample(20_000, seed)
    stat, df = chi2(np.bincount(s.seqs, minlength=len(p)), p)
    assert stat < chi2_crit(df)


# ------------------------------------------------------------------ guards
def test_over_long_sentences_are_resampled_not_truncated():
    # length L is geometric: P(L = k) = 0.5^k; conditioned on L <= 4 it is 0.5^k / (1 - 0.5^4)
    g = parse_grammar("S -> 'a' S [0.5] | 'b' [0.5]")
    s = g.sample(30_000, 2, max_length=4)
    L = np.diff(s.offsets)
    assert L.max() <= 4
    assert np.all(s.seqs[s.offsets[1:] - 1] == g.terminals.index("b"))  # every sentence is complete
    p = 0.5 ** np.arange(1, 5)
    stat, df = chi2(np.bincount(L, minlength=5)[1:], p / p.sum())
    assert stat < chi2_crit(df)
    assert s.tries == 30_000 + s.rejected["length"]
    q = 0.5**4  # rejection probability
    assert abs(s.rejected["length"] / s.tries - q) < 5 * np.sqrt(q * (1 - q) / s.tries)


def test_depth_guard():
    # each 'a' adds one level: a sentence of k words has k nonterminals on its spine
    g = parse_grammar("S -> 'a' S [0.5] | 'b' [0.5]")
    s = g.sample(2_000, 4, max_depth=3)
    assert np.diff(s.offsets).max() == 3
    assert s.rejected["depth"] > 0 and s.rejected["length"] == 0


def test_empty_sentences_are_resampled():
    g = parse_grammar("S -> 'a' [0.5] | [0.5]")
    s = g.sample(1_000, 0)
    assert s.seqs.tolist() == [0] * 1000
    assert 750 < s.rejected["empty"] < 1250  # 1000 +- 5 sd: failures before 1000 fair-coin successes


def test_guards_that_reject_everything():
    with pytest.raises(InputError, match="the guards reject every sentence"):
        parse_grammar("S -> 'a' 'a' [1.0]").sample(3, 0, max_length=1)


def test_same_seed_same_sentences_across_chunks():
    g = load_grammar("toy-english")
    big = g.sample(70_000, 9)  # more than one chunk of 65,536
    small = g.sample(1_000, 9)
    assert np.array_equal(big.offsets[:1001], small.offsets)
    assert np.array_equal(big.seqs[: small.offsets[-1]], small.seqs)
    assert not np.array_equal(g.sample(1_000, 10).seqs[:50], small.seqs[:50])


# ------------------------------------------------------------------ toy-english
def test_toy_english_grammar():
    g = load_grammar("toy-english")
    assert len(g.terminals) >= 150
    pos = g.parts_of_speech()
    assert {"Det", "N", "Adj", "Vt", "Vi", "P", "ProS", "ProO", "Name", "Adv", "Conj"} <= set(pos)
    words = [w for ws in pos.values() for w in ws]
    assert sorted(words) == sorted(g.terminals)  # every word has exactly one part of speech
    for name, ws in pos.items():  # within a part of speech, p(rank r) ~ 1 / r
        a = g.nonterminals.index(name)
        p = g.prob[g.lhs_start[a] : g.lhs_start[a + 1]]
        assert np.allclose(p * np.arange(1, len(p) + 1), p[0], rtol=1e-3, atol=1e-5), name
    f = np.sort(g.expected_terminal_counts())[::-1]
    slope = np.polyfit(np.log(np.arange(1, len(f) + 1)), np.log(f), 1)[0]
    assert -1.3 < slope < -0.7  # Zipf-like over the whole vocabulary
    assert 4 < g.expected_length() < 12


# ------------------------------------------------------------------ corpus
def test_pcfg_corpus_layout():
    g = parse_grammar(SMALL)
    c = pcfg_corpus(g, 1000, 3)
    assert c.vocab == g.terminals + ["[MASK]"] and c.meanings == g.terminals
    assert c.specials["mask"] == c.vocab_size - 1 and c.task == "mlm" and c.mask_rate == 0.15
    assert np.bincount(c.split, minlength=3).tolist() == [900, 100, 0]
    assert c.split[:900].tolist() == [0] * 900  # i.i.d. sentences: train is the first block
    assert c.maskable.all() and c.real.context_free()
    assert np.array_equal(c.realize(5), c.seqs)  # identity realization
    assert c.provenance["generator"] == "pcfg" and c.provenance["sampling"]["tries"] >= 1000
    assert c.provenance["pos"] == g.parts_of_speech()
    # cumulative rounding: cuts at floor(7 * 0.5 + .5) = 4 and floor(7 * 0.75 + .5) = 5
    assert np.bincount(pcfg_corpus(g, 7, 3, splits=(0.5, 0.25, 0.25)).split, minlength=3).tolist() == [4, 1, 2]
    cc = pcfg_corpus(g, 10, 3, task="causal")
    assert cc.vocab == g.terminals and cc.specials["mask"] == -1 and cc.mask_rate == 0.0


def test_pcfg_corpus_same_seed_same_bytes(tmp_path):
    g = load_grammar("toy-english")
    a, b = pcfg_corpus(g, 500, 21), pcfg_corpus(g, 500, 21)
    assert a.to_bytes() == b.to_bytes()
    assert pcfg_corpus(g, 500, 22).to_bytes() != a.to_bytes()
    a.save(tmp_path / "c.npz")
    back = Corpus.load(tmp_path / "c.npz")
    assert back.to_bytes() == a.to_bytes()


@pytest.mark.parametrize("kwargs, message", [
    ({"task": "lm"}, "unknown task"),
    ({"mask_rate": 1.5}, "mask rate"),
    ({"sequences": 0}, "number of sequences"),
    ({"seed": -1}, "seed"),
    ({"max_length": 0}, "max length"),
    ({"splits": (0.5, 0.5, 0.5)}, "split fractions"),
])
def test_pcfg_corpus_bad_arguments(kwargs, message):
    args = {"sequences": 10, "seed": 0, **kwargs}
    with pytest.raises(InputError, match=message):
        pcfg_corpus(parse_grammar(SMALL), **args)


def test_reserved_mask_terminal():
    with pytest.raises(InputError, match="reserved terminal"):
        pcfg_corpus(parse_grammar("S -> '[MASK]' [1.0]"), 3, 0)


def test_stream_draws_masked_sentences():
    c = pcfg_corpus(load_grammar("toy-english"), 2000, 1, mask_rate=0.15)
    ex = Stream(c, batch_size=256, seed=0).next(4)
    tok = ex.tokens[np.repeat(np.arange(4), np.diff(ex.tgt_off)), ex.tgt_seq, ex.tgt_pos]
    assert np.all(tok == c.specials["mask"]) and np.all(ex.tgt_sym < c.specials["mask"])
    L = ex.lengths.ravel()
    expected = np.sum(0.15 * L + 0.85**L) / L.sum()  # 0.15 per word, plus one forced if none was drawn
    assert abs(len(ex.tgt_sym) / L.sum() - expected) < 0.025


def test_load_grammar_files(tmp_path):
    with pytest.raises(InputError, match="grammar file not found: nope.pcfg"):
        load_grammar("nope.pcfg")
    f = tmp_path / "g.pcfg"
    f.write_bytes(b"S -> '\xff' [1.0]")
    with pytest.raises(InputError, match="cannot read grammar"):
        load_grammar(str(f))
    f.write_text("S -> 'x' [1.0]")
    assert load_grammar(str(f)).terminals == ["x"]


# ------------------------------------------------------------------ CLI
def _gen(tmp_path, *extra, out="c.npz"):
    return cli.main(["generate", "pcfg", "--sequences", "300", "--seed", "1", *extra, "-o", str(tmp_path / out)])


def test_cli_generate_pcfg(tmp_path, capsys):
    assert _gen(tmp_path, "--task", "causal", "--max-length", "20", "--splits", "0.8,0.1,0.1") == 0
    c = Corpus.load(tmp_path / "c.npz")
    assert c.n_sequences == 300 and c.task == "causal" and c.max_len <= 20
    assert np.bincount(c.split, minlength=3).tolist() == [240, 30, 30]
    direct = pcfg_corpus(load_grammar("toy-english"), 300, 1, task="causal", max_length=20, splits=(0.8, 0.1, 0.1))
    assert np.array_equal(c.seqs, direct.seqs)
    assert "resampled" in capsys.readouterr().out


def test_cli_grammar_file_and_start(tmp_path):
    f = tmp_path / "g.pcfg"
    f.write_text(SMALL)
    assert _gen(tmp_path, "--grammar", str(f), "--start", "VP", "--mask-rate", "0") == 0
    c = Corpus.load(tmp_path / "c.npz")
    assert c.provenance["parameters"]["start"] == "VP" and c.mask_rate == 0.0
    firsts = {c.vocab[c.sequence(i)[0]] for i in range(c.n_sequences)}
    assert firsts <= {"runs", "sees"}


@pytest.mark.parametrize("args, message", [
    (["--grammar", "missing.pcfg"], "grammar file not found"),
    (["--grammar", "{bad}"], "line 2: alternative ('a') has no probability"),
    (["--grammar", "{loop}"], "does not terminate"),
    (["--grammar", "{undef}"], "nonterminal 'B' is used but never defined"),
    (["--grammar", "{ok}", "--start", "Q"], "start symbol 'Q'"),
    (["--task", "causal", "--mask-rate", "0.2"], "--mask-rate applies to --task mlm only"),
    (["--mask-rate", "2"], "mask rate must be in"),
    (["--splits", "0.5,0.6,0"], "split fractions must sum to 1"),
    (["--max-length", "0"], "max length"),
])
def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, args, message):
    files = {"bad": "S -> 'x' [1.0]\nS -> 'a'", "loop": "S -> S S [0.7] | 'a' [0.3]",
             "undef": "S -> B [1.0]", "ok": "S -> 'x' [1.0]"}
    for k, text in files.items():
        (tmp_path / f"{k}.pcfg").write_text(text)
    args = [a.format(**{k: str(tmp_path / f"{k}.pcfg") for k in files}) for a in args]
    assert _gen(tmp_path, *args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "c.npz").exists()


def test_cli_refuses_to_overwrite(tmp_path, capsys):
    (tmp_path / "c.npz").write_text("old")
    assert _gen(tmp_path) == 2
    assert "exists" in capsys.readouterr().err and (tmp_path / "c.npz").read_text() == "old"
    assert _gen(tmp_path, "--force") == 0
    assert Corpus.load(tmp_path / "c.npz").n_sequences == 300


def test_cli_option_errors_exit_2(tmp_path):
    for args in (["--sequences", "x"], ["--task", "lm"], ["--spl", "1,0,0"]):  # no abbreviations
        with pytest.raises(SystemExit) as e:
            _gen(tmp_path, *args)
        assert e.value.code == 2
