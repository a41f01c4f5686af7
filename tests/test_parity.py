"""The parity generator: layout, every string once, splits, relations, and sampled frequencies."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tying.core.errors import InputError
from tying.generators.examples import Stream
from tying.generators.parity import parity_corpus, split_sizes, variant_names

# Upper 0.001 quantiles of the chi-square distribution (standard tables).
CHI2_999 = {1: 10.828, 2: 13.816, 6: 22.458}


def strings(corpus):
    """The bit strings (as ints, MSB first) and label meanings of every sequence."""
    rows = corpus.seqs.reshape(corpus.n_sequences, -1)
    bits = rows[:, :-1]
    return [int("".join(map(str, b)), 2) for b in bits], rows[:, -1], bits


def test_paper_layout():
    c = parity_corpus()
    assert c.vocab == ["0a", "0b", "1a", "1b", "L0", "L1", "[MASK]"]
    assert c.meanings == ["bit0", "bit1", "label0", "label1", "mask"]
    assert c.specials == {"mask": 6, "pad": -1, "labels": [4, 5]}
    assert (c.task, c.mask_rate, c.n_sequences, c.max_len) == ("mlm", 0.0, 128, 8)
    assert c.real.surface_weights(0) == {0: 0.1, 1: 0.9}
    assert c.real.surface_weights(1) == {2: 0.5, 3: 0.5}
    assert [c.real.surface_weights(m) for m in (2, 3, 4)] == [{4: 1.0}, {5: 1.0}, {6: 1.0}]
    assert c.provenance["generator"] == "parity" and c.provenance["seed"] == 42
    assert c.provenance["parameters"] == {"bits": 7, "zero": [0.1, 0.9], "one": [0.5, 0.5], "splits": [0.9, 0.1, 0.0]}


def test_variant_names():
    assert variant_names("1", 3) == ["1a", "1b", "1c"]
    names = variant_names("0", 28)
    assert names[25:] == ["0z", "0aa", "0ab"] and len(set(names)) == 28
    c = parity_corpus(3, zero=(0.2, 0.3, 0.5), one=(1.0,))
    assert c.vocab == ["0a", "0b", "0c", "1a", "L0", "L1", "[MASK]"]
    assert c.specials["mask"] == 6 and c.real.surface_weights(1) == {3: 1.0}


@settings(max_examples=15, deadline=None)
@given(bits=st.integers(1, 9), seed=st.integers(0, 2**32))
def test_every_string_once_with_its_parity(bits, seed):
    c = parity_corpus(bits, seed=seed)
    ints, labels, b = strings(c)
    assert sorted(ints) == list(range(2**bits)) and ints == list(range(2**bits))
    assert np.isin(b, [0, 1]).all()
    assert list(labels) == [2 + bin(x).count("1") % 2 for x in ints]
    m = c.maskable.reshape(c.n_sequences, -1)
    assert m[:, :-1].all() and not m[:, -1].any()


def test_paper_split_is_115_13_0():
    c = parity_corpus(7, splits=(0.9, 0.1, 0.0))
    assert np.bincount(c.split, minlength=3).tolist() == [115, 13, 0]
    assert list(split_sizes(128, [0.9, 0.1, 0.0])) == [115, 13, 0]
    assert list(split_sizes(128, [1, 0, 0])) == [128, 0, 0]
    assert list(split_sizes(10, [0.25, 0.5, 0.25])) == [3, 5, 2]  # cuts at floor(3.0), floor(8.0)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 5000), parts=st.lists(st.integers(0, 1000), min_size=3, max_size=3).filter(any))
def test_split_sizes_sum_and_stay_within_one(n, parts):
    f = np.array(parts) / sum(parts)
    sizes = split_sizes(n, f)
    assert sizes.sum() == n and (sizes >= 0).all()
    assert np.all(np.abs(sizes - n * f) <= 1 + 1e-9)


def test_split_is_seeded():
    a, b, c = (parity_corpus(7, seed=s).split for s in (5, 5, 6))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.bincount(c, minlength=3).tolist() == [115, 13, 0]


def test_relations_by_construction():
    rel = {(r["a"], r["b"]): (r["se"], r["ce"]) for r in parity_corpus().relations}
    assert rel == {(0, 1): (True, False), (2, 3): (True, True), (0, 2): (False, False),
                   (0, 3): (False, False), (1, 2): (False, False), (1, 3): (False, False)}
    rel = {(r["a"], r["b"]): r["ce"] for r in parity_corpus(zero=(0.0, 0.0, 1.0), one=(0.0, 1.0)).relations}
    assert rel[(0, 1)] and rel[(0, 3)] and not rel[(0, 2)] and not rel[(3, 4)]


@pytest.mark.parametrize("kwargs, words", [
    ({"bits": 0}, "1..20"), ({"bits": 21}, "1..20"), ({"bits": True}, "1..20"), ({"bits": 2.5}, "1..20"),
    ({"zero": (0.1, 0.8)}, "sum to 1"), ({"one": (1.5, -0.5)}, "non-negative"), ({"zero": (float("nan"), 1.0)}, "NaN"),
    ({"one": (float("inf"),)}, "finite"), ({"zero": ()}, "non-empty"),
    ({"splits": (0.5, 0.5)}, "exactly 3"), ({"splits": (0.9, 0.2, -0.1)}, "non-negative"),
    ({"splits": (0.9, 0.2, 0.0)}, "sum to 1"), ({"seed": -1}, "seed"),
])
def test_bad_parameters(kwargs, words):
    with pytest.raises(InputError, match=words):
        parity_corpus(**kwargs)


def test_weights_within_tolerance_are_accepted():
    parity_corpus(2, zero=(0.1, 0.9 + 5e-10))
    with pytest.raises(InputError):
        parity_corpus(2, zero=(0.1, 0.9 + 5e-9))


def realized(ex):
    """The surface symbols the stream drew: tokens with each masked symbol put back."""
    surf = ex.tokens.copy()
    for s in range(ex.n_batches):
        j = slice(ex.tgt_off[s], ex.tgt_off[s + 1])
        surf[s, ex.tgt_seq[j], ex.tgt_pos[j]] = ex.tgt_sym[j]
    return surf


def chi2(counts, weights):
    counts, weights = np.asarray(counts, float), np.asarray(weights, float)
    expected = counts.sum() * weights
    return float(np.sum((counts - expected) ** 2 / expected))


def test_stream_frequencies_match_weights():
    zero, one = (0.1, 0.9), (0.2, 0.3, 0.5)
    c = parity_corpus(7, zero=zero, one=one, seed=1)
    ex = Stream(c, "train", batch_size=1024, seed=123).next(150)
    surf = realized(ex)
    counts = np.bincount(surf[:, :, :7].ravel(), minlength=c.vocab_size)
    assert counts[5:].sum() == 0 and counts[:5].sum() == 150 * 115 * 7
    assert chi2(counts[:2], zero) < CHI2_999[1]
    assert chi2(counts[2:5], one) < CHI2_999[2]
    assert np.isin(surf[:, :, 7], [5, 6]).all()  # labels are never masked
    # the masked position is uniform over the 7 bits
    assert chi2(np.bincount(ex.tgt_pos, minlength=7), np.full(7, 1 / 7)) < CHI2_999[6]
    assert np.all(np.diff(ex.tgt_off) == 115) and np.allclose(ex.tgt_w, 1 / 115)


def test_zero_weight_variant_is_never_drawn():
    c = parity_corpus(5, zero=(1.0, 0.0), one=(0.5, 0.5), splits=(1, 0, 0))
    counts = np.bincount(realized(Stream(c, "train", seed=7).next(50)).ravel(), minlength=c.vocab_size)
    assert counts[1] == 0 and counts[0] > 0
    assert chi2(counts[2:4], (0.5, 0.5)) < CHI2_999[1]


def test_chi2_statistic_can_fail():
    """The goodness-of-fit check rejects a wrong weight at this sample size."""
    c = parity_corpus(7, zero=(0.15, 0.85), seed=1)
    counts = np.bincount(realized(Stream(c, "train", seed=123).next(150)).ravel(), minlength=7)
    assert chi2(counts[:2], (0.1, 0.9)) > CHI2_999[1]


def _paper_strings_by_split(bits, seed):
    """The paper's data set code, re-derived: bit lists of range(2**bits - 1), random.Random(seed).shuffle,
    then [:int(.9 M)], the next int(.1 M), the rest."""
    import random

    samples = [[int(ch) for ch in format(x, f"0{bits}b")] for x in range(2**bits - 1)]
    random.Random(seed).shuffle(samples)
    n_tr, n_va = int(len(samples) * .9), int(len(samples) * .1)
    parts = samples[:n_tr], samples[n_tr:n_tr + n_va], samples[n_tr + n_va:]
    return [sorted(int("".join(map(str, s)), 2) for s in part) for part in parts]


@pytest.mark.parametrize("bits,seed", [(7, 14), (7, 3), (5, 14), (9, 0)])
def test_paper_split_matches_the_papers_rule(bits, seed):
    c = parity_corpus(bits, paper_split=True, split_seed=seed)
    ints, labels, _ = strings(c)
    assert ints == list(range(2**bits - 1))  # the all-ones string is absent
    assert list(labels) == [2 + bin(x).count("1") % 2 for x in ints]
    ours = [sorted(np.asarray(ints)[c.split == k].tolist()) for k in range(3)]
    assert ours == _paper_strings_by_split(bits, seed)


def test_paper_split_default_is_the_papers():
    c = parity_corpus(7, paper_split=True)
    assert np.bincount(c.split, minlength=3).tolist() == [114, 12, 1]
    ints, _, _ = strings(c)
    assert sorted(np.asarray(ints)[c.split == 1].tolist()) == _paper_strings_by_split(7, 14)[1]
    assert c.provenance["parameters"] == {"bits": 7, "zero": [0.1, 0.9], "one": [0.5, 0.5],
                                          "paper_split": True, "split_seed": 14}
    assert not np.array_equal(c.split, parity_corpus(7, paper_split=True, split_seed=15).split)


def test_paper_split_options():
    np.testing.assert_array_equal(parity_corpus(7, split_seed=3).split, parity_corpus(7).split)  # unused
    with pytest.raises(InputError, match="at least 4 bits"):
        parity_corpus(3, paper_split=True)
    with pytest.raises(InputError, match="split seed must be"):
        parity_corpus(7, paper_split=True, split_seed=-1)
