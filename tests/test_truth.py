"""Exact populations and ground truth, checked against brute force and hand-worked numbers."""
import itertools
import math
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tying.generators import truth
from tying.generators.corpus import Corpus, Realization
from tying.core.errors import InputError
from tying.generators.parity import parity_corpus
from tying.generators.population import enumerate_population, not_enumerable

LN2 = math.log(2)


def H(p):
    """Binary entropy in nats."""
    return -(p * math.log(p) + (1 - p) * math.log(1 - p))


def kl_half(rho):
    """KL(Bern(rho) || Bern(1/2)) written from its definition."""
    return sum(q * math.log(q / 0.5) for q in (rho, 1 - rho) if q > 0)


# ------------------------------------------------------------------ brute force
def surface_prob(corpus, seq, surf):
    """Probability that the generative process writes meanings ``seq`` as ``surf``, walked step by step."""
    r, p = corpus.real, 1.0
    for t, m in enumerate(seq):
        if r.copy_src[m] >= 0:
            prev = [j for j in range(t) if seq[j] == r.copy_src[m]]
            if not prev or surf[t] != r.copy_map[surf[prev[-1]]]:
                return 0.0
        else:
            c = r.start_class if t == 0 else r.class_of[seq[t - 1]]
            p *= sum(w for s, w in zip(r.variants[m], r.weights[m, c]) if s == surf[t])
    return p


def brute_force(corpus, ids):
    """{(visible context, position, target): probability}, enumerating every surface string."""
    causal = corpus.task == "causal"

    def targets(i):
        L = len(corpus.sequence(i))
        if causal:
            return list(range(L - 1))
        return [t for t in range(L) if corpus.maskable[corpus.offsets[i] + t]]

    eligible = [i for i in ids if targets(i)]
    n_targets = sum(len(targets(i)) for i in eligible)
    out = defaultdict(float)
    for i in eligible:
        seq, ts = corpus.sequence(i), targets(i)
        # causal: every target of the split weighs the same; MLM: one uniform masked position per sequence
        share = 1 / n_targets if causal else 1 / len(eligible) / len(ts)
        for surf in itertools.product(range(corpus.vocab_size), repeat=len(seq)):
            p = surface_prob(corpus, seq, surf) * share
            for t in ts if p > 0 else ():
                if causal:
                    out[(surf[: t + 1], t, surf[t + 1])] += p
                else:
                    ctx = surf[:t] + (corpus.specials["mask"],) + surf[t + 1 :]
                    out[(ctx, t, surf[t])] += p
    return dict(out)


def aggregate(ex, causal):
    out = defaultdict(float)
    for j in range(len(ex.tgt_w)):
        row = ex.tokens[0, ex.tgt_seq[j], : ex.lengths[0, ex.tgt_seq[j]]]
        t = int(ex.tgt_pos[j])
        key = tuple(int(x) for x in (row[: t + 1] if causal else row))
        out[(key, t, int(ex.tgt_sym[j]))] += ex.tgt_w[j]
    return dict(out)


def assert_same(got, want):
    assert set(got) == set(want)
    for k in want:
        assert got[k] == pytest.approx(want[k], abs=1e-13)


def toy_corpus(task):
    """Class-dependent weights, a repeated surface within one meaning, and a copy.

    Meanings A B C K(copies A) mask; surfaces a1 a2 b c1 c2 k1 k2 [MASK].
    """
    variants = np.array([[0, 1, -1], [2, -1, -1], [3, 4, 3], [-1, -1, -1], [7, -1, -1]], np.int32)
    weights = np.zeros((5, 2, 3))
    weights[0] = [[0.3, 0.7, 0], [0.8, 0.2, 0]]
    weights[1, :, 0] = weights[4, :, 0] = 1
    weights[2] = [[0.2, 0.5, 0.3], [0.1, 0.6, 0.3]]
    real = Realization(variants=variants, weights=weights, class_of=np.array([0, 1, 0, 1, 0], np.int32),
                       start_class=1, copy_src=np.array([-1, -1, -1, 0, -1], np.int32),
                       copy_map=np.array([5, 6, -1, -1, -1, -1, -1, -1], np.int32))
    seqs = [[0, 1, 0, 3], [2, 0, 3], [1, 2, 2], [0], [1, 1]]
    mask = [[1, 0, 1, 1], [1, 1, 0], [0, 1, 1], [1], [0, 0]]
    return Corpus(
        vocab=["a1", "a2", "b", "c1", "c2", "k1", "k2", "[MASK]"], meanings=["A", "B", "C", "K", "mask"],
        seqs=np.concatenate(seqs).astype(np.int32), offsets=np.cumsum([0] + [len(s) for s in seqs]),
        split=np.array([0, 0, 1, 0, 0], np.int8), maskable=np.concatenate(mask).astype(bool), real=real,
        task=task, specials={"mask": 7, "pad": -1, "labels": []},
    ).validate()


# ----------------------------------------------------------------- population
@pytest.mark.parametrize("bits, zero, one", [(1, (0.3, 0.7), (1.0,)), (2, (0.1, 0.9), (0.5, 0.5)),
                                             (3, (0.2, 0.3, 0.5), (1.0, 0.0))])
@pytest.mark.parametrize("split", ["train", "all"])
def test_parity_population_matches_brute_force(bits, zero, one, split):
    c = parity_corpus(bits, zero=zero, one=one, splits=(0.75, 0.25, 0), seed=3)
    ex = enumerate_population(c, split)
    assert ex.n_batches == 1 and list(ex.tgt_off) == [0, len(ex.tgt_w)]
    assert ex.tgt_w.sum() == pytest.approx(1.0, abs=1e-13) and (ex.tgt_w > 0).all()
    ids = range(c.n_sequences) if split == "all" else c.split_ids(split)
    assert_same(aggregate(ex, False), brute_force(c, ids))


@pytest.mark.parametrize("task", ["mlm", "causal"])
@pytest.mark.parametrize("split", ["train", "all"])
def test_generic_population_matches_brute_force(task, split):
    c = toy_corpus(task)
    ex = enumerate_population(c, split)
    assert ex.tgt_w.sum() == pytest.approx(1.0, abs=1e-13)
    ids = range(c.n_sequences) if split == "all" else c.split_ids(split)
    assert_same(aggregate(ex, task == "causal"), brute_force(c, ids))


def test_population_rows_are_merged_contexts():
    """A masked context appears once, carrying every target it can hide."""
    ex = enumerate_population(parity_corpus(7, splits=(1, 0, 0)), "train")
    assert ex.tokens.shape == (1, 128 * 7 * 64, 8) and len(ex.tgt_w) == 2 * 128 * 7 * 64
    assert len(np.unique(ex.tokens[0], axis=0)) == ex.tokens.shape[1]


def test_population_refuses_what_it_cannot_enumerate():
    c = parity_corpus(7)
    with pytest.raises(InputError, match="not enumerable"):
        enumerate_population(c, "train", max_rows=1000)
    c.mask_rate = 0.15
    assert "not enumerable" in not_enumerable(c)
    with pytest.raises(InputError, match="not enumerable"):
        enumerate_population(c, "train")
    with pytest.raises(InputError, match="no targets"):
        enumerate_population(parity_corpus(3), "test")
    with pytest.raises(InputError, match="unknown split"):
        enumerate_population(parity_corpus(3), "dev")


# ---------------------------------------------------------------- DH metric
@settings(max_examples=50, deadline=None)
@given(rho=st.floats(0, 1), s=st.floats(0, 1), pc=st.floats(0, 1))
def test_dh_violation_closed_form(rho, s, pc):
    assert truth.dh_violation([rho * s], [(1 - rho) * s], [pc]) == pytest.approx(pc * s * kl_half(rho), abs=1e-12)


@settings(max_examples=50, deadline=None)
@given(p=st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=20))
def test_dh_violation_properties(p):
    pa, pb, pc = map(np.array, zip(*p))
    d = truth.dh_violation(pa, pb, pc)
    assert d >= 0 and d == pytest.approx(truth.dh_violation(pb, pa, pc), abs=1e-12)
    assert truth.dh_violation(pa, pa, pc) == pytest.approx(0, abs=1e-15)
    assert d == pytest.approx(sum(c * (a + b) * kl_half(a / (a + b)) for a, b, c in p if a + b > 0), abs=1e-12)


def test_dh_violation_hand_values():
    assert truth.dh_violation([0, 0], [0, 0], [0.5, 0.5]) == 0  # no 0/0
    assert truth.dh_violation([1.0], [0.0], [1.0]) == pytest.approx(LN2)  # KL(Bern(1)||Bern(1/2)) = ln 2
    kl = LN2 + 0.1 * math.log(0.1) + 0.9 * math.log(0.9)
    assert truth.dh_violation([0.1], [0.9], [0.5]) == pytest.approx(0.5 * kl)


# ------------------------------------------------------------- exact numbers
@pytest.mark.parametrize("name, zero, one, acc, ce, d01", [
    ("DH", (0.1, 0.9), (0.5, 0.5), 0.7, 0.5 * H(0.1) + 0.5 * LN2, 0.5 * kl_half(0.1)),
    ("NDH", (1.0, 0.0), (0.1, 0.9), 0.95, 0.5 * H(0.1), 0.5 * LN2),
    ("YDH", (1.0, 0.0), (0.5, 0.5), 0.75, 0.5 * LN2, 0.5 * LN2),
])
def test_paper_bayes_numbers(name, zero, one, acc, ce, d01):
    t = truth.exact(parity_corpus(7, zero=zero, one=one, splits=(1, 0, 0)), "train")
    assert t.accuracy() == pytest.approx(acc, abs=1e-12)
    assert t.cross_entropy() == pytest.approx(ce, abs=1e-12)
    assert t.dh_violation(0, 1) == pytest.approx(d01, abs=1e-12)
    assert abs(t.p_ctx.sum() - 1) < 1e-12


def test_dh_d01_is_0_1840():
    t = truth.exact(parity_corpus(7, splits=(1, 0, 0)), "all")
    assert round(t.dh_violation(0, 1), 4) == 0.1840
    assert t.dh_violation(2, 3) == pytest.approx(0, abs=1e-15)


@pytest.mark.parametrize("split", ["train", "validation"])
def test_other_splits_report_their_own_numbers(split):
    """A masked bit is a zero with the split's own frequency f0; the rest follows by hand."""
    c = parity_corpus(7, splits=(0.9, 0.1, 0), seed=42)
    bits = c.seqs.reshape(128, 8)[c.split_ids(split), :7]
    f0 = float(np.mean(bits == 0))
    t = truth.exact(c, split)
    assert t.accuracy() == pytest.approx(f0 * 0.9 + (1 - f0) * 0.5, abs=1e-12)
    assert t.cross_entropy() == pytest.approx(f0 * H(0.1) + (1 - f0) * LN2, abs=1e-12)
    assert t.dh_violation(0, 1) == pytest.approx(f0 * kl_half(0.1), abs=1e-12)
    assert f0 != 0.5  # so the split really differs from the whole population


def test_empirical_frequencies_of_the_population():
    """p(context) sums to 1 and the contexts with a masked zero weigh exactly 1/2 over all strings."""
    c = parity_corpus(5, splits=(1, 0, 0))
    t = truth.exact(c, "all")
    zero = t.column(0) + t.column(1)
    assert np.allclose(zero * (1 - zero), 0, atol=1e-15)  # the masked bit is determined by the context
    assert np.sum(t.p_ctx * zero) == pytest.approx(0.5, abs=1e-14)


# --------------------------------------------------------------- SE / CE flags
@settings(max_examples=12, deadline=None)
@given(bits=st.integers(2, 4), zero=st.lists(st.integers(0, 3), min_size=1, max_size=3).filter(any),
       one=st.lists(st.integers(0, 3), min_size=1, max_size=3).filter(any))
def test_exact_flags_agree_with_construction(bits, zero, one):
    c = parity_corpus(bits, zero=np.array(zero) / sum(zero), one=np.array(one) / sum(one), splits=(1, 0, 0))
    t = truth.exact(c, "all")
    drawn = np.concatenate([zero, one]) > 0
    for r in c.relations:
        a, b = r["a"], r["b"]
        assert t.conditional_equivalent(a, b) == r["ce"]
        assert (t.dh_violation(a, b) <= 1e-15) == r["ce"]  # D is zero exactly for CE pairs
        se, why = t.semantic_equivalent(a, b)
        if drawn[a] and drawn[b]:
            assert se == r["se"]
        else:
            assert se is None and "never occurs as an input" in why


def test_one_bit_has_no_inputs_for_se():
    t = truth.exact(parity_corpus(1, splits=(1, 0, 0)), "all")
    assert t.semantic_equivalent(0, 1) == (None, "symbol 0 never occurs as an input")
    assert t.accuracy() == pytest.approx(0.7, abs=1e-12)


def coin_corpus():
    """Causal X COIN X COPY: H/T equally likely, copied as H'/T'."""
    variants = np.array([[0, -1], [1, 2], [-1, -1]], np.int32)
    weights = np.zeros((3, 1, 2))
    weights[0, 0, 0] = 1
    weights[1, 0] = 0.5
    real = Realization(variants=variants, weights=weights, class_of=np.zeros(3, np.int32), start_class=0,
                       copy_src=np.array([-1, -1, 1], np.int32), copy_map=np.array([-1, 3, 4, -1, -1], np.int32))
    return Corpus(vocab=["x", "H", "T", "H'", "T'"], meanings=["X", "COIN", "COPY"],
                  seqs=np.array([0, 1, 0, 2], np.int32), offsets=np.array([0, 4]), split=np.zeros(1, np.int8),
                  maskable=np.zeros(4, bool), real=real, task="causal").validate()


def test_coin_is_ce_but_not_se():
    """Of three targets only the coin is uncertain: accuracy (1/2 + 1 + 1)/3, entropy ln 2 / 3."""
    t = truth.exact(coin_corpus(), "all")
    assert t.accuracy() == pytest.approx(5 / 6, abs=1e-12)
    assert t.cross_entropy() == pytest.approx(LN2 / 3, abs=1e-12)
    assert t.conditional_equivalent(1, 2) and t.dh_violation(1, 2) == 0
    se, why = t.semantic_equivalent(1, 2)
    assert se is False and "change the target distribution" in why
    assert t.semantic_equivalent(3, 4)[0] is None  # the copies are never inputs
    assert not t.conditional_equivalent(3, 4)


# ------------------------------------------------------------- n-gram estimates
def test_estimate_without_context_is_the_target_marginal():
    """k = 0: one context; with one variant per bit half the masked bits are 0, exactly."""
    c = parity_corpus(6, zero=(1.0,), one=(1.0,), splits=(1, 0, 0))
    t = truth.estimate(c, "all", k=0, seed=1, draws=2)
    assert t.n_contexts == 1 and t.n_samples == 2 * 64 * 6 and t.counts.tolist() == [768]
    assert t.accuracy() == pytest.approx(0.5, abs=1e-12)
    assert t.cross_entropy() == pytest.approx(LN2, abs=1e-12)


def test_estimate_with_full_context_and_deterministic_symbols_is_exact():
    c = parity_corpus(4, zero=(1.0,), one=(1.0,), splits=(1, 0, 0))
    t = truth.estimate(c, "all", k=4)
    assert t.accuracy() == pytest.approx(1.0, abs=1e-12) and t.cross_entropy() == pytest.approx(0, abs=1e-12)


def test_estimate_tends_to_exact():
    c = parity_corpus(3, splits=(1, 0, 0))
    exact, est = truth.exact(c, "all"), truth.estimate(c, "all", k=3, seed=0, draws=3000)
    assert est.n_samples == 8 * 3 * 3000 and not est.exact
    assert est.accuracy() == pytest.approx(exact.accuracy(), abs=0.01)
    assert est.dh_violation(0, 1) == pytest.approx(exact.dh_violation(0, 1), abs=0.01)
    assert est.dh_violation(2, 3) < 0.01


def test_estimate_causal_uses_left_context():
    t = truth.estimate(coin_corpus(), "all", k=3, draws=400)
    assert t.n_samples == 3 * 400
    assert t.accuracy() == pytest.approx(5 / 6, abs=0.03)


# ------------------------------------------------------------------- report
def test_report_exact_and_estimated():
    c = parity_corpus(4, splits=(0.5, 0.5, 0))
    rep = truth.report(c)
    assert rep["ground_truth"]["method"] == "exact" and set(rep["bayes_optimal"]) == {"train", "validation", "all"}
    assert rep["bayes_optimal"]["all"]["accuracy"] == pytest.approx(0.7, abs=1e-12)
    rel = {(r["a"], r["b"]): r for r in rep["relations"]}
    assert rel[(0, 1)]["dh_violation_nats"] == pytest.approx(0.5 * kl_half(0.1), abs=1e-12)
    assert (rel[(0, 1)]["semantic_equivalent"], rel[(0, 1)]["conditional_equivalent"]) == (True, False)
    est = truth.report(c, max_rows=10, k=1)
    assert est["ground_truth"]["method"] == "ngram" and est["ground_truth"]["n_samples"] == 16 * 4
    assert est["bayes_optimal"]["train"]["n_samples"] == 8 * 4
    assert [r["conditional_equivalent"] for r in est["relations"]] == [r["ce"] for r in c.relations]


@pytest.mark.parametrize("shape, high", [((500, 3), 4), ((300, 40), 3)])  # one int64 code per row; too wide
def test_unique_rows_matches_numpy(shape, high):
    keys = np.random.default_rng(1).integers(-2, high, shape).astype(np.int32)
    keys[100:200] = keys[:100]
    uk, first, inv = truth._unique_rows(keys)
    want_uk, want_inv = np.unique(keys, axis=0, return_inverse=True)
    assert np.array_equal(uk, want_uk) and np.array_equal(inv, want_inv.ravel())
    assert np.array_equal(keys[first], uk) and np.array_equal(uk[inv], keys)
