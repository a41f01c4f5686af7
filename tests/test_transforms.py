"""DH transforms: realized frequencies, table layout, composition, recorded relations
checked against the exact ground truth (generators.truth), and the CLI options."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tying.experiments import cli
from tying.generators import transforms as T, truth
from tying.generators.corpus import Corpus
from tying.core.errors import InputError
from tying.generators.examples import Stream
from tying.generators.pcfg import load_grammar, parse_grammar, pcfg_corpus

Z_999 = 3.0902


def chi2_ok(counts, probs) -> bool:
    """Goodness of fit at the 0.1% level (Wilson-Hilferty critical value)."""
    counts, probs = np.asarray(counts, float), np.asarray(probs, float)
    if np.any(counts[probs == 0] > 0):
        return False
    e, k = counts.sum() * probs, probs > 0
    df = int(k.sum()) - 1
    stat = np.sum((counts[k] - e[k]) ** 2 / e[k])
    return bool(stat < df * (1 - 2 / (9 * df) + Z_999 * np.sqrt(2 / (9 * df))) ** 3)


# b is always second; a, c, f before it; d, e after it
TINY = parse_grammar("S -> X 'b' Y [1.0]\nX -> 'a' [0.5] | 'c' [0.3] | 'f' [0.2]\nY -> 'd' [0.6] | 'e' [0.4]")
# b may also start a sentence; lengths vary
VARIED = parse_grammar("S -> X 'b' Y [0.6] | 'b' Y [0.4]\nX -> 'a' [0.5] | 'c' [0.5]\n"
                       "Y -> 'd' [0.5] | 'e' Y [0.2] | 'e' [0.3]")


def tiny(task="mlm", n=60, g=TINY, seed=1):
    return pcfg_corpus(g, n, seed, task=task, mask_rate=0.0)


def names(c, surface):
    return [c.vocab[s] for s in surface]


def rel(c, a, b):
    """The recorded relation of symbols named a and b."""
    ia, ib = c.vocab.index(a), c.vocab.index(b)
    found = [r for r in c.relations if {r["a"], r["b"]} == {ia, ib}]
    assert len(found) == 1, (a, b, c.relations)
    return found[0]


def after(c, surface, prev_names, target_meaning):
    """Surface names written for target_meaning right after a symbol in prev_names ('^' = start)."""
    first = np.zeros(len(c.seqs), bool)
    first[c.offsets[:-1]] = True
    prev = np.roll(surface, 1)
    mid = c.meanings.index(target_meaning)
    ok = np.isin(names(c, prev), prev_names) & ~first
    if "^" in prev_names:
        ok |= first
    return [c.vocab[s] for s in surface[(c.seqs == mid) & ok]]


# ------------------------------------------------------------------ split
def test_split_layout_and_frequencies():
    c = tiny(n=3000)
    before = c.to_bytes()
    s = T.split(c, "b", [0.2, 0.3, 0.5])
    assert c.to_bytes() == before  # the input corpus is left alone
    assert s.vocab == ["b#1", "b#2", "b#3", "a", "c", "f", "d", "e", "[MASK]"]  # b is the grammar's first word
    assert s.specials["mask"] == 8 and s.meanings == c.meanings and np.array_equal(s.seqs, c.seqs)
    assert s.real.surface_weights(c.meanings.index("b")) == {0: 0.2, 1: 0.3, 2: 0.5}
    w = names(s, s.realize(4))
    assert chi2_ok([w.count(f"b#{i}") for i in (1, 2, 3)], [0.2, 0.3, 0.5])
    assert w.count("a") == names(c, c.seqs).count("a")  # other symbols are untouched
    for x, y in (("b#1", "b#2"), ("b#1", "b#3"), ("b#2", "b#3")):
        r = rel(s, x, y)
        assert r["se"] and not r["ce"]
    u = T.split(c, "b", [0.5, 0.5])
    assert rel(u, "b#1", "b#2")["se"] and rel(u, "b#1", "b#2")["ce"]


@settings(max_examples=10, deadline=None, derandomize=True)
@given(st.lists(st.integers(1, 20), min_size=2, max_size=5), st.integers(0, 1000))
def test_split_frequencies_follow_any_weights(raw, seed):
    w = np.array(raw, float) / sum(raw)
    s = T.split(tiny(n=2000), "b", w)
    got = names(s, s.realize(seed))
    assert chi2_ok([got.count(f"b#{i + 1}") for i in range(len(w))], w)


def test_split_through_the_training_stream():
    s = T.split(tiny(n=500), "d", [0.1, 0.9])
    ex = Stream(s, batch_size=500, seed=3).next(20)
    toks = ex.tokens.ravel()
    assert chi2_ok([np.sum(toks == s.vocab.index("d#1")), np.sum(toks == s.vocab.index("d#2"))], [0.1, 0.9])


def test_split_composes_by_multiplying_weights():
    s = T.split(T.split(tiny(n=3000), "b", [0.5, 0.5]), "b#1", [0.2, 0.8])
    v = s.vocab
    assert s.real.surface_weights(s.meanings.index("b")) == {
        v.index("b#1#1"): pytest.approx(0.1), v.index("b#1#2"): pytest.approx(0.4), v.index("b#2"): 0.5}
    got = names(s, s.realize(0))
    assert chi2_ok([got.count(x) for x in ("b#1#1", "b#1#2", "b#2")], [0.1, 0.4, 0.5])
    assert len(s.relations) == 1  # (b#1, b#2) is gone with b#1
    assert rel(s, "b#1#1", "b#1#2")["se"] and not rel(s, "b#1#1", "b#1#2")["ce"]
    assert [t["transform"] for t in s.provenance["transforms"]] == ["split", "split"]


@pytest.mark.parametrize("weights, message", [
    ([0.5, 0.6], "sum to 1"), ([1.5, -0.5], "non-negative"), ([float("nan"), 1.0], "NaN"),
    ([1.0], "at least 2 weights"),
])
def test_split_bad_weights(weights, message):
    with pytest.raises(InputError, match=message):
        T.split(tiny(), "b", weights)


# ------------------------------------------------------------------ allomorph
def test_allomorph_follows_the_preceding_class():
    c = tiny(n=3000, g=VARIED)
    s = T.allomorph(c, "b", [["a"], ["c", "^"]])
    assert s.vocab == ["b#1", "b#2", "a", "c", "d", "e", "[MASK]"]
    surface = s.realize(2)
    assert set(after(s, surface, ["a"], "b")) == {"b#1"}
    assert set(after(s, surface, ["c", "^"], "b")) == {"b#2"}
    r = rel(s, "b#1", "b#2")
    assert not r["ce"] and not r["se"] and "masked" in r["why"]  # MLM: the variant reveals a masked predecessor
    # a third group that never precedes b: its variant appears only after symbols of no group (uniform)
    t = T.allomorph(tiny(n=3000), "b", [["a"], ["c"], ["d"]])
    got = after(t, t.realize(5), ["f"], "b")
    assert chi2_ok([got.count(f"b#{i}") for i in (1, 2, 3)], [1 / 3] * 3)
    assert rel(t, "b#2", "b#3")["ce"] is False and rel(t, "b#1", "b#2")["ce"] is False


def test_allomorph_by_part_of_speech_and_causal_se():
    c = tiny(task="causal", n=500)
    s = T.allomorph(c, "d", [["@X"], ["b"]])  # d follows b only: always d#2
    assert set(after(s, s.realize(0), ["b"], "d")) == {"d#2"}
    r = rel(s, "d#1", "d#2")
    assert r["se"] and not r["ce"] and "only 'd#2'" in r["why"]
    s = T.allomorph(c, "b", [["@X"], ["d"]])  # every X word precedes b: always b#1
    assert set(after(s, s.realize(0), ["a", "c", "f"], "b")) == {"b#1"}


def test_two_allomorphs_compose():
    s = T.allomorph(T.allomorph(tiny(n=2000), "b", [["a"], ["c"]]), "d", [["b#1"], ["a"]])
    surface = s.realize(9)
    assert set(after(s, surface, ["a"], "b")) == {"b#1"} and set(after(s, surface, ["c"], "b")) == {"b#2"}
    got = after(s, surface, ["f"], "b")
    assert chi2_ok([got.count("b#1"), got.count("b#2")], [0.5, 0.5])
    # 'b#1' names the meaning b, so d follows group 1 after either variant of b
    assert set(after(s, surface, ["b#1", "b#2"], "d")) == {"d#1"}


@pytest.mark.parametrize("groups, message", [
    ([["a"]], "at least 2 non-empty groups"),
    ([["a"], []], "at least 2 non-empty groups"),
    ([["a"], ["xyz"]], "symbol 'xyz' is not in the corpus"),
    ([["a"], ["@Q"]], "unknown part of speech '@Q'"),
    ([["a"], ["a"]], "meaning 'a' is in two groups"),
    ([["^"], ["a", "^"]], "'\\^' is in two groups"),
    ([["d"], ["e"]], "no symbol of the groups ever precedes it"),
])
def test_allomorph_bad_groups(groups, message):
    with pytest.raises(InputError, match=message):
        T.allomorph(tiny(), "b", groups)


# ------------------------------------------------------------------ coin
def test_coin_inserts_a_fair_coin_and_its_copy():
    c = tiny(task="causal", n=4000, g=VARIED)
    s = T.coin(c, 7)
    coin_m, copy_m = s.meanings.index("<coin>"), s.meanings.index("<copy>")
    assert np.array_equal(s.lengths, c.lengths + 2)
    pos_coin, pos_copy, L = [], [], []
    for i in range(s.n_sequences):
        q = s.sequence(i)
        (a,), (b,) = np.flatnonzero(q == coin_m), np.flatnonzero(q == copy_m)
        assert a < b
        assert np.array_equal(q[(q != coin_m) & (q != copy_m)], c.sequence(i))  # the sentence, in order
        pos_coin.append(a), pos_copy.append(b), L.append(len(q) - 2)
    pos_coin, pos_copy, L = map(np.array, (pos_coin, pos_copy, L))
    k = L == 2  # coin uniform over 0..L; copy uniform over coin+1 .. L+1
    assert chi2_ok(np.bincount(pos_coin[k], minlength=3), [1 / 3] * 3)
    assert chi2_ok(np.bincount(pos_copy[k & (pos_coin == 0)], minlength=4)[1:], [1 / 3] * 3)
    surface = names(s, s.realize(3))
    starts = s.offsets[:-1]
    flat_coin = np.array(surface)[starts + pos_coin]
    flat_copy = np.array(surface)[starts + pos_copy]
    assert np.all(np.char.add("=", flat_coin) == flat_copy)
    assert chi2_ok([np.sum(flat_coin == "H"), np.sum(flat_coin == "T")], [0.5, 0.5])
    assert rel(s, "H", "T")["ce"] and not rel(s, "H", "T")["se"]
    assert rel(s, "=H", "=T")["se"] and not rel(s, "=H", "=T")["ce"]


def test_coin_needs_causal_and_happens_once():
    with pytest.raises(InputError, match="needs the causal task"):
        T.coin(tiny(), 0)
    with pytest.raises(InputError, match="cannot create symbol 'H'"):
        T.coin(T.coin(tiny(task="causal"), 0), 1)


def test_split_of_a_coin_keeps_the_copies():
    s = T.split(T.coin(tiny(task="causal", n=300), 0), "H", [0.5, 0.5])
    with pytest.raises(InputError, match="is a copy and cannot be split"):
        T.split(s, "=H", [0.5, 0.5])
    surface = names(s, s.realize(1))
    for i in range(s.n_sequences):
        seq = surface[s.offsets[i] : s.offsets[i + 1]]
        coin = [x for x in seq if x in ("H#1", "H#2", "T")][0]
        assert ("=T" if coin == "T" else "=H") in seq


# ------------------------------------------------------------------ merge
def test_merge_writes_two_meanings_with_one_symbol():
    c = tiny(n=1000)
    s = T.merge(T.split(c, "a", [0.5, 0.5]), "a#1", "e")
    assert s.vocab == ["b", "a#1|e", "a#2", "c", "f", "d", "[MASK]"]
    assert s.relations == []  # (a#1, a#2) went with a#1; a merge creates no pair
    assert s.provenance["transforms"][-1]["meanings"] == ["a", "e"]
    got = names(s, s.realize(0))
    orig = names(c, c.seqs)
    assert got.count("a#1|e") + got.count("a#2") == orig.count("a") + orig.count("e")
    assert got.count("d") == orig.count("d")
    assert chi2_ok([got.count("a#1|e") - orig.count("e"), got.count("a#2")], [0.5, 0.5])


def test_merge_errors():
    with pytest.raises(InputError, match="the two symbols are the same"):
        T.merge(tiny(), "a", "a")
    with pytest.raises(InputError, match="copied as different symbols"):
        T.merge(T.coin(tiny(task="causal"), 0), "H", "T")
    m = T.merge(T.coin(tiny(task="causal", n=200), 0), "=H", "=T")  # both copies written alike
    surface = names(m, m.realize(0))
    assert surface.count("=H|=T") == 200


# ------------------------------------------------------------------ twins
def test_twins_of_the_most_frequent_words():
    c = pcfg_corpus(load_grammar("toy-english"), 3000, 2)
    counts = np.bincount(c.seqs, minlength=len(c.meanings))
    top = [c.meanings[i] for i in sorted(range(len(counts)), key=lambda i: (-counts[i], i))[:10]]
    s = T.twins(c, 10, 0.3)
    assert s.provenance["transforms"][-1]["symbols"] == top
    assert s.vocab_size == c.vocab_size + 10 and s.vocab[-1] == "[MASK]"
    got = names(s, s.realize(1))
    n1, n2 = sum(got.count(w + "#1") for w in top), sum(got.count(w + "#2") for w in top)
    assert n1 + n2 == counts[[c.meanings.index(w) for w in top]].sum()
    assert chi2_ok([n1, n2], [0.7, 0.3])
    assert len(s.relations) == 10 and all(r["se"] and not r["ce"] for r in s.relations)
    assert all(r["se"] and r["ce"] for r in T.twins(c, 3, 0.5).relations)


@pytest.mark.parametrize("topk, p, message", [
    (0, 0.5, "TOPK must be an integer >= 1"), (3, 0.0, "P must be in \\(0, 1\\)"),
    (3, 1.0, "P must be in \\(0, 1\\)"), (7, 0.5, "only 6 symbols that can get a twin"),
])
def test_twins_bad_arguments(topk, p, message):
    with pytest.raises(InputError, match=message):
        T.twins(tiny(), topk, p)


# ------------------------------------------------------------------ relations vs exact truth
CASES = {
    "split uniform": lambda c: T.split(c, "b", [0.5, 0.5]),
    "split skewed": lambda c: T.split(c, "b", [0.2, 0.8]),
    "split three": lambda c: T.split(c, "d", [0.2, 0.2, 0.6]),
    "allomorph": lambda c: T.allomorph(c, "b", [["a"], ["c"]]),
    "allomorph+split": lambda c: T.split(T.allomorph(c, "b", [["a"], ["c"]]), "b#1", [0.3, 0.7]),
    "twins": lambda c: T.twins(c, 2, 0.3),
    "coin": lambda c: T.coin(c, 5),
    "coin+twins": lambda c: T.twins(T.coin(c, 5), 2, 0.5),
}


@pytest.mark.parametrize("task", ["mlm", "causal"])
@pytest.mark.parametrize("case", list(CASES))
def test_recorded_relations_match_exact_truth(case, task):
    if case.startswith("coin") and task == "mlm":
        with pytest.raises(InputError):
            CASES[case](tiny(task, g=VARIED))
        return
    c = CASES[case](tiny(task, g=VARIED))
    t = truth.exact(c)
    assert c.relations
    for r in c.relations:
        se, why = t.semantic_equivalent(r["a"], r["b"])
        assert t.conditional_equivalent(r["a"], r["b"]) == r["ce"], (r, why)
        if se is None:  # no swap is possible in this corpus, so nothing contradicts SE
            assert r["se"], (r, why)
        else:
            assert se == r["se"], (r, why)
        assert (t.dh_violation(r["a"], r["b"]) == 0) == r["ce"]


def test_variants_that_are_never_targets_are_ce():
    # causal: a, c, f only start sentences; parity: labels are never masked
    from tying.generators.parity import parity_corpus

    for c, sym in ((tiny("causal"), "a"), (parity_corpus(bits=3, splits=(1, 0, 0)), "L1")):
        s = T.split(c, sym, [0.3, 0.7])
        r = rel(s, sym + "#1", sym + "#2")
        t = truth.exact(s)
        assert r["ce"] and r["se"] and "never a target" in r["why"]
        assert t.conditional_equivalent(r["a"], r["b"]) and t.semantic_equivalent(r["a"], r["b"])[0]
        if sym == "L1":
            assert s.specials["labels"] == [s.vocab.index(x) for x in ("L0", "L1#1", "L1#2")]
    m = T.split(tiny("mlm"), "a", [0.3, 0.7])  # the same split under MLM: a is a target
    assert not rel(m, "a#1", "a#2")["ce"]


@settings(max_examples=8, deadline=None, derandomize=True)
@given(st.floats(0.05, 0.95), st.sampled_from(["mlm", "causal"]))
def test_dh_violation_of_a_skewed_split_closed_form(w, task):
    # D = P(target is b) * KL(Bern(w) || Bern(1/2)): the twins differ only in the constant ratio w : 1-w
    c = tiny(task, g=VARIED)
    s = T.split(c, "b", [w, 1 - w])
    b = c.meanings.index("b")
    seqs = [c.sequence(i) for i in range(c.n_sequences)]
    if task == "mlm":  # one uniformly masked position per sequence
        p_b = np.mean([np.mean(q == b) for q in seqs])
    else:  # every next-token target weighs the same
        p_b = sum(np.sum(q[1:] == b) for q in seqs) / sum(len(q) - 1 for q in seqs)
    kl = w * np.log(2 * w) + (1 - w) * np.log(2 * (1 - w))
    d = truth.exact(s).dh_violation(s.vocab.index("b#1"), s.vocab.index("b#2"))
    assert d == pytest.approx(p_b * kl, rel=1e-9, abs=1e-15)


def test_allomorphs_violate_the_dh():
    s = T.allomorph(tiny(g=VARIED), "b", [["a"], ["c"]])
    assert truth.exact(s).dh_violation(s.vocab.index("b#1"), s.vocab.index("b#2")) > 0.05


# ------------------------------------------------------------------ errors and composition
@pytest.mark.parametrize("apply", [
    lambda c: T.split(c, "xyz", [0.5, 0.5]),
    lambda c: T.allomorph(c, "xyz", [["a"], ["c"]]),
    lambda c: T.merge(c, "a", "xyz"),
    lambda c: T.merge(c, "xyz", "a"),
])
def test_unknown_symbol(apply):
    with pytest.raises(InputError, match="symbol 'xyz' is not in the corpus"):
        apply(tiny())


def test_special_symbols_are_not_transformed():
    with pytest.raises(InputError, match="symbol '\\[MASK\\]' is special"):
        T.split(tiny(), "[MASK]", [0.5, 0.5])


def test_composed_transforms_round_trip(tmp_path):
    c = pcfg_corpus(load_grammar("toy-english"), 400, 5, task="causal")
    s = T.merge(T.allomorph(T.split(T.twins(T.coin(c, 1), 5, 0.5), "dog", [0.3, 0.7]), "house",
                            [["@Det"], ["@Adj"]]), "cat", "slept")
    # H and T are the most frequent symbols (one of them in every sentence), so they got twins
    assert s.vocab[-6:] == ["H#1", "H#2", "T#1", "T#2", "=H", "=T"] and s.specials["mask"] == -1
    assert [t["transform"] for t in s.provenance["transforms"]] == ["coin", "twins", "split", "allomorph", "merge"]
    pairs = {(s.vocab[r["a"]], s.vocab[r["b"]]) for r in s.relations}
    assert {("H#1", "H#2"), ("T#1", "T#2"), ("=H", "=T"), ("dog#1", "dog#2"), ("house#1", "house#2")} <= pairs
    assert ("H", "T") not in pairs
    s.save(tmp_path / "s.npz")
    assert Corpus.load(tmp_path / "s.npz").to_bytes() == s.to_bytes()
    ex = Stream(s, batch_size=64, seed=0).next(3)  # the stream realizes coins and copies consistently
    for row, L in zip(ex.tokens.reshape(-1, ex.tokens.shape[-1]), ex.lengths.ravel()):
        words = names(s, row[:L])
        coin = [x for x in words if x.startswith(("H#", "T#"))]
        assert len(coin) == 1 and "=" + coin[0][0] in words


# ------------------------------------------------------------------ CLI
def _gen(tmp_path, *extra):
    return cli.main(["generate", "pcfg", "--sequences", "300", "--seed", "1", *extra, "-o", str(tmp_path / "c.npz")])


def test_cli_transforms_apply_in_the_order_given(tmp_path):
    assert _gen(tmp_path, "--split", "the:0.5,0.5", "--twins", "2:0.5", "--allomorph", "dog:@Det/^") == 0
    c = Corpus.load(tmp_path / "c.npz")
    assert [t["transform"] for t in c.provenance["transforms"]] == ["split", "twins", "allomorph"]
    assert "the#1" in c.vocab and "dog#1" in c.vocab
    assert _gen(tmp_path, "--twins", "2:0.5", "--split", "the#1:0.5,0.5", "--force") == 0
    d = Corpus.load(tmp_path / "c.npz")
    assert [t["transform"] for t in d.provenance["transforms"]] == ["twins", "split"]
    assert "the#1#2" in d.vocab


def test_cli_coin_and_merge(tmp_path):
    assert _gen(tmp_path, "--task", "causal", "--coin", "--merge", "cat,dog") == 0
    c = Corpus.load(tmp_path / "c.npz")
    assert "cat|dog" in c.vocab and "H" in c.vocab and c.max_len >= 3


@pytest.mark.parametrize("args, message", [
    (["--split", "the"], "--split the: expected SYMBOL:W1,W2,..."),
    (["--split", "the:a,b"], "is not a comma-separated list of numbers"),
    (["--split", "the:0.5,0.6"], "must sum to 1"),
    (["--split", "xyz:0.5,0.5"], "symbol 'xyz' is not in the corpus"),
    (["--twins", "x:0.5"], "integer TOPK"),
    (["--twins", "5"], "expected TOPK:P"),
    (["--merge", "the"], "expected A,B"),
    (["--allomorph", "the:a"], "at least 2 non-empty groups"),
    (["--coin"], "needs the causal task"),
])
def test_cli_bad_transforms_exit_2(tmp_path, capsys, args, message):
    assert _gen(tmp_path, *args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "c.npz").exists()
