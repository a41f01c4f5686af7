"""Exact enumeration of a split's population as one noise-free batch.

The population is every (realized, masked) context with every target and the
probability of that pair: each sequence of the split is equally likely, times
the probability of its realization, times the probability of the mask
position (uniform over the maskable positions; MLM with mask_rate 0).  For the
causal task every position t predicts t + 1, and every target of the split
weighs the same (the loss is the mean over all targets, as in a sampled batch
that holds the whole split), so a long sequence counts in proportion to its
targets.  Sequences with no target (nothing maskable, or shorter than 2 for
causal) are left out.

The result is an ``Examples`` with S == 1 whose ``tgt_w`` sum to 1, so
sum_j tgt_w[j] * CE_j is the exact expected loss.
"""
from __future__ import annotations

import numpy as np

from .corpus import Corpus
from tying.core.errors import InputError
from .examples import Examples
from .population_kernels import enumerate_contexts

MAX_ROWS = 1_000_000


def select(corpus: Corpus, split: str | None) -> np.ndarray:
    """Sequence ids of a split; None or "all" means every sequence."""
    if split in (None, "all"):
        return np.arange(corpus.n_sequences, dtype=np.int64)
    if split not in ("train", "validation", "test"):
        raise InputError(f"unknown split {split!r} (expected train, validation, test or all)")
    return corpus.split_ids(split)


def targets_per_sequence(corpus: Corpus, ids: np.ndarray) -> np.ndarray:
    if corpus.task == "causal":
        return np.maximum(corpus.lengths[ids] - 1, 0)
    cs = np.concatenate([[0], np.cumsum(corpus.maskable, dtype=np.int64)])
    return (cs[corpus.offsets[1:]] - cs[corpus.offsets[:-1]])[ids]


def population_size(corpus: Corpus, ids: np.ndarray) -> tuple[int, int]:
    """Upper bounds on (rows, targets) of the enumeration of sequences ``ids``."""
    r = corpus.real
    positive = np.sum((r.variants[:, None, :] >= 0) & (r.weights > 0), axis=-1)  # (M, C)
    if len(corpus.seqs) == 0 or len(ids) == 0:
        return 0, 0
    cls = r.class_of[np.roll(corpus.seqs, 1)]
    starts = corpus.offsets[:-1][corpus.lengths > 0]
    cls[starts] = r.start_class
    n = np.where(r.copy_src[corpus.seqs] >= 0, 1, positive[corpus.seqs, cls])
    logs = np.concatenate([[0.0], np.cumsum(np.log(np.maximum(n, 1)))])
    log_real = (logs[corpus.offsets[1:]] - logs[corpus.offsets[:-1]])[ids]
    if np.any(log_real > np.log(2.0**52)):
        return 2**62, 2**62
    real = np.ceil(np.exp(log_real) * (1 + 1e-9)).astype(np.int64)
    tgts = targets_per_sequence(corpus, ids)
    if corpus.task == "causal":
        return int(real[tgts > 0].sum()), int((real * tgts).sum())
    return int((real * tgts).sum()), int((real * tgts).sum())


def not_enumerable(corpus: Corpus, split: str | None = None, max_rows: int = MAX_ROWS) -> str | None:
    """Why the population of a split cannot be enumerated, or None when it can."""
    if corpus.task == "mlm" and corpus.mask_rate > 0:
        return (f"the population is not enumerable: mask rate {corpus.mask_rate:g} > 0 masks "
                "random subsets of positions")
    rows, tgts = population_size(corpus, select(corpus, split))
    if max(rows, tgts) > max_rows:
        return (f"the population is not enumerable: about {max(rows, tgts):.3g} (context, target) pairs "
                f"exceed the limit of {max_rows}")
    return None


def enumerate_population(corpus: Corpus, split: str | None = "train", max_rows: int = MAX_ROWS) -> Examples:
    """Every (context, target) pair of a split with its probability, as one batch."""
    why = not_enumerable(corpus, split, max_rows)
    if why:
        raise InputError(why)
    ids = select(corpus, split)
    tgts = targets_per_sequence(corpus, ids)
    if not np.any(tgts > 0):
        raise InputError(f"the {split or 'all'} split of the corpus has no targets")
    seq_p = np.zeros(corpus.n_sequences)
    if corpus.task == "causal":  # per target: a sequence's share grows with its number of targets
        seq_p[ids[tgts > 0]] = 1.0 / tgts.sum()
    else:  # one masked position per sequence
        seq_p[ids[tgts > 0]] = 1.0 / np.count_nonzero(tgts > 0)
    rows, n_tgts = population_size(corpus, ids)
    r, T = corpus.real, corpus.max_len
    tokens, lengths, tgt_seq, tgt_pos, tgt_sym, tgt_w = enumerate_contexts(
        corpus.seqs, corpus.offsets, corpus.maskable, ids, seq_p, r.variants, r.weights, r.class_of,
        np.int64(r.start_class), r.copy_src, r.copy_map, corpus.task == "causal",
        np.int32(corpus.specials.get("mask", -1)), np.int32(max(corpus.specials.get("pad", -1), 0)),
        T, max(rows, 1), max(n_tgts, 1),
    )
    return Examples(tokens[None], lengths[None], np.array([0, len(tgt_w)], np.int64),
                    tgt_seq, tgt_pos, tgt_sym, tgt_w)
