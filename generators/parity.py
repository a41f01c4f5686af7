"""The paper's parity (XOR) task: n bits, then their parity label.

Meanings are ``bit0 bit1 label0 label1 mask``.  Each bit value is written as
one of k surface symbols drawn independently at every occurrence, so the
surface vocabulary follows the paper's layout: the zero-variants, the
one-variants, the two labels, the mask.  With 2 + 2 variants:

    id      0   1   2   3   4   5   6
    symbol  0a  0b  1a  1b  L0  L1  [MASK]

Sequence i spells i in binary (most significant bit first), so the corpus
holds every one of the 2^n strings exactly once.  Splits shuffle the strings
with the seed and cut them by *cumulative rounding*: split j ends at
floor(N * (f_0 + ... + f_j) + 1/2).  The sizes sum to N and each is within one
of N * f_j; n = 7 with 0.9/0.1/0 gives 115/13/0.

``paper_split=True`` is the split of the paper's code instead, which every run
of the paper shared: the all-ones string is left out (its strings come from
``range(2**n - 1)``), the 2^n - 1 bit lists, in counting order, are shuffled by
Python's ``random.Random(split_seed).shuffle`` with the paper's data set seed
14, and cut by truncation into floor(0.9 M) train, floor(0.1 M) validation and
the rest test: 114/12/1 for n = 7.  Another ``split_seed`` gives a random split
of the same shape, which is what a study of split sensitivity compares it with.
"""
from __future__ import annotations

import random

import numpy as np

from tying.core.version import package_version
from .corpus import Corpus, Realization
from tying.core.errors import InputError

MEANINGS = ("bit0", "bit1", "label0", "label1", "mask")
MAX_BITS = 20
WEIGHT_TOL = 1e-9
PAPER_SPLIT_SEED = 14  # the paper's data set seed: its experiments' --seed never reached the data set


def check_weights(values, name: str) -> np.ndarray:
    """Variant weights as float64: finite, non-negative, summing to 1 within 1e-9."""
    w = np.asarray(values, dtype=np.float64)
    if w.ndim != 1 or len(w) == 0:
        raise InputError(f"{name} weights: need a non-empty list of numbers")
    if np.any(np.isnan(w)):
        raise InputError(f"{name} weights contain NaN")
    if not np.all(np.isfinite(w)):
        raise InputError(f"{name} weights must be finite")
    if np.any(w < 0):
        raise InputError(f"{name} weights must be non-negative, got {_fmt(w)}")
    if abs(w.sum() - 1.0) > WEIGHT_TOL:
        raise InputError(f"{name} weights must sum to 1, got {_fmt(w)} (sum {w.sum():.12g})")
    return w


def check_fractions(values) -> np.ndarray:
    """Train/validation/test fractions: three finite numbers in [0, 1] summing to 1."""
    f = np.asarray(values, dtype=np.float64)
    if f.shape != (3,):
        raise InputError(f"split fractions: need exactly 3 numbers (train,validation,test), got {f.size}")
    if not np.all(np.isfinite(f)) or np.any(f < 0):
        raise InputError(f"split fractions must be finite and non-negative, got {_fmt(f)}")
    if abs(f.sum() - 1.0) > WEIGHT_TOL:
        raise InputError(f"split fractions must sum to 1, got {_fmt(f)} (sum {f.sum():.12g})")
    return f


def split_sizes(n: int, fractions) -> np.ndarray:
    """Sizes of the three splits of n items by cumulative rounding (see the module docstring)."""
    cuts = np.minimum(np.floor(n * np.cumsum(fractions) + 0.5).astype(np.int64), n)
    cuts[-1] = n  # the fractions sum to 1 only within 1e-9
    return np.diff(cuts, prepend=0)


def variant_names(prefix: str, k: int) -> list[str]:
    """prefix + a, b, ..., z, aa, ab, ... (spreadsheet-column letters)."""
    names = []
    for i in range(k):
        s, i = "", i + 1
        while i:
            i, r = divmod(i - 1, 26)
            s = chr(97 + r) + s
        names.append(prefix + s)
    return names


def paper_split_assignment(bits: int, split_seed: int = PAPER_SPLIT_SEED) -> np.ndarray:
    """Split index (0 train, 1 validation, 2 test) of strings 0 .. 2^bits - 2 under the paper's rule."""
    order = list(range(2**bits - 1))  # string i is i's bit list, so shuffling ids shuffles the bit lists
    random.Random(split_seed).shuffle(order)
    M = len(order)
    n_train, n_val = int(M * 0.9), int(M * 0.1)
    split = np.empty(M, np.int8)
    split[order[:n_train]], split[order[n_train:n_train + n_val]], split[order[n_train + n_val:]] = 0, 1, 2
    return split


def _nonneg_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise InputError(f"{what} must be a non-negative integer, got {value!r}")
    return int(value)


def parity_corpus(bits: int = 7, zero=(0.1, 0.9), one=(0.5, 0.5), splits=(0.9, 0.1, 0.0), seed: int = 42,
                  paper_split: bool = False, split_seed: int = PAPER_SPLIT_SEED) -> Corpus:
    """All 2^bits parity strings, MLM with exactly one masked bit (never the label).

    ``paper_split``: the paper's split (module docstring) instead of ``splits`` and ``seed``, shuffled
    with ``split_seed`` (the paper's 14 by default); ``split_seed`` is used by the paper's split only."""
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= bits <= MAX_BITS:
        raise InputError(f"number of bits must be an integer in 1..{MAX_BITS}, got {bits!r}")
    bits, seed = int(bits), _nonneg_int(seed, "seed")
    if not isinstance(paper_split, (bool, np.bool_)):
        raise InputError(f"paper_split must be true or false, got {paper_split!r}")
    wz, wo = check_weights(zero, "zero"), check_weights(one, "one")
    fr = check_fractions(splits)
    split_seed = _nonneg_int(split_seed, "split seed")
    if paper_split and bits < 4:  # fewer than 10 strings would leave the paper's validation split empty
        raise InputError(f"the paper's split needs at least 4 bits, got {bits}")
    kz, ko = len(wz), len(wo)
    label0, mask = kz + ko, kz + ko + 2
    vocab = variant_names("0", kz) + variant_names("1", ko) + ["L0", "L1", "[MASK]"]

    K = max(kz, ko)
    variants = np.full((len(MEANINGS), K), -1, np.int32)
    weights = np.zeros((len(MEANINGS), 1, K))
    variants[0, :kz], weights[0, 0, :kz] = np.arange(kz), wz
    variants[1, :ko], weights[1, 0, :ko] = kz + np.arange(ko), wo
    variants[2:, 0], weights[2:, 0, 0] = [label0, label0 + 1, mask], 1.0
    real = Realization(variants=variants, weights=weights, class_of=np.zeros(len(MEANINGS), np.int32),
                       start_class=0, copy_src=np.full(len(MEANINGS), -1, np.int32),
                       copy_map=np.full(len(vocab), -1, np.int32))

    N = 2**bits - 1 if paper_split else 2**bits
    b = (np.arange(N, dtype=np.int32)[:, None] >> np.arange(bits - 1, -1, -1, dtype=np.int32)) & 1
    rows = np.concatenate([b, 2 + b.sum(1, keepdims=True) % 2], axis=1)  # meaning 2/3 = label0/label1
    maskable = np.ones(rows.shape, bool)
    maskable[:, -1] = False
    if paper_split:
        split = paper_split_assignment(bits, split_seed)
    else:
        split = np.empty(N, np.int8)
        split[np.random.default_rng(seed).permutation(N)] = np.repeat(np.arange(3, dtype=np.int8),
                                                                      split_sizes(N, fr))
    params = {"bits": bits, "zero": wz.tolist(), "one": wo.tolist()}
    params.update({"paper_split": True, "split_seed": split_seed} if paper_split else {"splits": fr.tolist()})

    syms = [(s, 0, float(w)) for s, w in enumerate(wz)] + [(kz + s, 1, float(w)) for s, w in enumerate(wo)]
    relations = [_relation(x, y, vocab) for i, x in enumerate(syms) for y in syms[i + 1 :]]
    return Corpus(
        vocab=vocab, meanings=list(MEANINGS), seqs=rows.astype(np.int32).ravel(),
        offsets=np.arange(N + 1, dtype=np.int64) * (bits + 1), split=split, maskable=maskable.ravel(),
        real=real, task="mlm", mask_rate=0.0,
        specials={"mask": mask, "pad": -1, "labels": [label0, label0 + 1]},
        relations=relations,
        provenance={"generator": "parity", "seed": seed, "version": package_version(), "parameters": params},
    ).validate()


def _relation(x, y, vocab) -> dict:
    """Ground truth of a pair of bit variants, by construction.

    The masked bit is a function of the other bits and the label, so
    p(s | context) = [bit(s) = masked bit] * w_s: two variants of one bit are
    CE exactly when their weights are equal; variants of different bits only
    when neither is ever drawn.
    """
    (a, ma, wa), (b, mb, wb) = x, y
    names = f"{vocab[a]} (w={wa:g}) and {vocab[b]} (w={wb:g})"
    if ma == mb:
        ce = abs(wa - wb) <= 1e-12
        why = (f"{names} both write bit {ma}: same meaning; "
               + ("equal weights, so equally likely in every context" if ce
                  else f"p({vocab[a]}|x)/p({vocab[b]}|x) is the constant {wa:g}/{wb:g} != 1"))
        return {"a": a, "b": b, "se": True, "ce": ce, "why": why}
    ce = wa == 0 and wb == 0
    why = (f"{names} write different bits: swapping one for the other flips the parity; "
           + ("neither is ever drawn, so both always have probability 0" if ce
              else "the masked bit is determined by the context, so they are never both possible"))
    return {"a": a, "b": b, "se": False, "ce": ce, "why": why}


def _fmt(w) -> str:
    return ",".join(f"{x:g}" for x in np.asarray(w).ravel())
