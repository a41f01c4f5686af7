"""Ground truth of a corpus: p(target | context), Bayes-optimal numbers, SE/CE flags, DH violation.

Exact for enumerable corpora (from ``population.enumerate_population``);
estimated from n-gram contexts of seeded realizations otherwise.

A context is what the model sees when it predicts a target.  MLM: the whole
row with the mask (its position and length included).  Causal: the prefix up
to the predicting position.  n-gram estimates: the k surface symbols on each
side of an MLM target, or the k symbols before a causal one.

Definitions (a, b surface symbols, tolerance 1e-12):

* CE: p(a | x) == p(b | x) for every context x.
* SE: replacing one input occurrence of a by b (or b by a) in any
  positive-probability context gives, whenever that context also has positive
  probability, the same target distribution.  None when a or b never occurs
  as an input, or when no swapped context is possible.
* D(a, b) = sum_x p(x) (p(a|x) + p(b|x)) KL(Bern(rho_x) || Bern(1/2)) nats,
  rho_x = p(a|x) / (p(a|x) + p(b|x)); terms with p(a|x) + p(b|x) = 0 are 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .corpus import SPLITS, Corpus
from tying.core.errors import InputError
from .examples import Examples
from .population import MAX_ROWS, targets_per_sequence, enumerate_population, not_enumerable, select
from .truth_kernels import row_gaps

TOL = 1e-12
LN2 = math.log(2.0)
MAX_SAMPLES = 1_000_000  # n-gram estimates subsample sequences beyond this many targets
MAX_AUTO_PAIRS_SYMBOLS = 32  # without recorded relations, all pairs of at most this many symbols


def dh_violation(p_a, p_b, p_c) -> float:
    """D(a, b) in nats from p(a|c), p(b|c) and p(c) over the contexts c (arrays of one shape).

    Uses (p_a + p_b) KL(Bern(rho) || Bern(1/2)) = s ln 2 + p_a ln(p_a / s) + p_b ln(p_b / s), s = p_a + p_b,
    which has no 0/0 and no log of 0.
    """
    pa, pb, pc = (np.asarray(x, dtype=np.float64) for x in (p_a, p_b, p_c))
    s = pa + pb
    safe = np.where(s > 0, s, 1.0)
    term = s * LN2 + _xlog(pa, pa / safe) + _xlog(pb, pb / safe)
    return float(np.sum(pc * np.where(s > 0, np.maximum(term, 0.0), 0.0)))


def _xlog(x, y):
    """x * ln(y), with 0 where x == 0."""
    return np.where(x > 0, x * np.log(np.where(x > 0, y, 1.0)), 0.0)


@dataclass
class Truth:
    """Distinct contexts with their probabilities and sparse target distributions (CSR by context)."""

    keys: np.ndarray  # (C, W) int32, one row per distinct context
    inputs: np.ndarray  # (C, W) bool, which key entries are input symbols (swappable for SE)
    p_ctx: np.ndarray  # (C,) p(context)
    indptr: np.ndarray  # (C + 1,) int64
    sym: np.ndarray  # (E,) int32, target symbols, ascending within a context
    p_cond: np.ndarray  # (E,) p(sym | context) > 0
    vocab_size: int
    exact: bool = True
    n_samples: int = 0  # estimates only: target occurrences counted
    counts: np.ndarray | None = None  # estimates only: samples per context
    # estimates with keep_samples: per counted target, its entry (index into sym), weight and unit, the
    # realized sequence it comes from (sequence * draws + draw)
    samples: dict | None = field(default=None, repr=False)
    _index: tuple | None = field(default=None, repr=False)
    _ctx_of: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_contexts(self) -> int:
        return len(self.p_ctx)

    def _ctx(self) -> np.ndarray:
        """The context of every entry; built once, since every column() needs it."""
        if self._ctx_of is None:
            self._ctx_of = np.repeat(np.arange(self.n_contexts), np.diff(self.indptr))
        return self._ctx_of

    def column(self, a: int) -> np.ndarray:
        """p(a | x) for every context x."""
        out = np.zeros(self.n_contexts)
        hit = self.sym == a
        out[self._ctx()[hit]] = self.p_cond[hit]
        return out

    def accuracy(self) -> float:
        """Bayes-optimal accuracy: predict the most likely target of each context."""
        return float(np.sum(self.p_ctx * np.maximum.reduceat(self.p_cond, self.indptr[:-1])))

    def cross_entropy(self) -> float:
        """Bayes-optimal cross-entropy in nats: H(target | context)."""
        return float(-np.sum(self.p_ctx[self._ctx()] * self.p_cond * np.log(self.p_cond)))

    def dh_violation(self, a: int, b: int) -> float:
        return dh_violation(self.column(a), self.column(b), self.p_ctx)

    def conditional_equivalent(self, a: int, b: int, tol: float = TOL) -> bool:
        return bool(np.max(np.abs(self.column(a) - self.column(b)), initial=0.0) <= tol)

    def swaps(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray, str | None]:
        """(c1, c2, why_none): context c2[n] is c1[n] with one input a replaced by b, or b by a.

        Every input occurrence of either symbol is one swap (a context holding a twice gives two);
        only swaps whose result is itself a context are listed; why_none says why there are none.
        """
        c1, c2 = [], []
        for x, y in ((a, b), (b, a)):
            c, u = np.nonzero(self.inputs & (self.keys == x))
            if len(c) == 0:
                return np.zeros(0, np.int64), np.zeros(0, np.int64), f"symbol {x} never occurs as an input"
            swapped = self.keys[c]
            swapped[np.arange(len(c)), u] = y
            hit = self._lookup(swapped)
            c1.append(c[hit >= 0])
            c2.append(hit[hit >= 0])
        c1, c2 = np.concatenate(c1).astype(np.int64), np.concatenate(c2).astype(np.int64)
        return c1, c2, None if len(c1) else "no context stays possible after swapping the two symbols"

    def semantic_equivalent(self, a: int, b: int, tol: float = TOL) -> tuple[bool | None, str]:
        """(flag, reason); see the module docstring."""
        c1, c2, why_none = self.swaps(a, b)
        if why_none is not None:
            return None, why_none
        gaps = row_gaps(self.indptr, self.sym, self.p_cond, c1, c2)
        if gaps.max() <= tol:
            return True, f"all {len(c1)} possible swaps keep the target distribution"
        bad = int(np.count_nonzero(gaps > tol))
        return False, f"{bad} of {len(c1)} possible swaps change the target distribution (by up to {gaps.max():.3g})"

    def _lookup(self, rows: np.ndarray) -> np.ndarray:
        """Context index of each row, or -1 when no context has those keys."""
        if self._index is None:
            v = _void(self.keys)
            order = np.argsort(v, kind="stable")
            self._index = (order, v[order])
        order, sorted_v = self._index
        q = _void(rows)
        i = np.minimum(np.searchsorted(sorted_v, q), len(sorted_v) - 1)
        return np.where(sorted_v[i] == q, order[i], -1)


def _void(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=np.int32)
    return a.view(np.dtype((np.void, a.itemsize * a.shape[1]))).ravel()


def _unique_rows(keys: np.ndarray):
    """np.unique(keys, axis=0) with first indices and inverse, fast when a row fits in one int64."""
    lo, span = (int(keys.min()), int(keys.max()) - int(keys.min()) + 1) if keys.size else (0, 1)
    if keys.shape[1] * math.log2(span) < 62:  # digits in [0, span): code order is row order
        code = np.zeros(len(keys), np.int64)
        for col in keys.T:
            code = code * span + (col - lo)
        _, first, inv = np.unique(code, return_index=True, return_inverse=True)
        return keys[first], first, inv.astype(np.int64)
    uk, first, inv = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    return uk, first, inv.ravel().astype(np.int64)


def _group(keys, inputs, sym, w, vocab_size, exact, n_samples=0, unit=None) -> Truth:
    """Merge identical contexts and identical (context, target) pairs."""
    if len(sym) == 0:
        raise InputError("no targets to compute ground truth from")
    if sym.min() < 0 or sym.max() >= vocab_size:
        raise InputError("a target is not a vocabulary symbol (a copy without its source?)")
    uk, first, inv = _unique_rows(keys)
    C = len(uk)
    pairs, pinv = np.unique(inv * vocab_size + sym, return_inverse=True)
    p_joint = np.bincount(pinv.ravel(), weights=w, minlength=len(pairs))
    ctx = pairs // vocab_size
    p_ctx = np.bincount(ctx, weights=p_joint, minlength=C)
    return Truth(
        keys=uk.astype(np.int32), inputs=inputs[first], p_ctx=p_ctx,
        indptr=np.concatenate([[0], np.cumsum(np.bincount(ctx, minlength=C))]).astype(np.int64),
        sym=(pairs % vocab_size).astype(np.int32), p_cond=p_joint / p_ctx[ctx], vocab_size=vocab_size,
        exact=exact, n_samples=n_samples, counts=None if exact else np.bincount(inv, minlength=C),
        samples=None if unit is None else {"entry": pinv.ravel().astype(np.int64), "w": w, "unit": unit},
    )


def from_population(ex: Examples, corpus: Corpus) -> Truth:
    """Exact truth from ``enumerate_population``: key = (position, length, visible tokens)."""
    tokens = ex.tokens[0][ex.tgt_seq]
    pos = ex.tgt_pos.astype(np.int32)
    cols = np.arange(tokens.shape[1])[None, :]
    if corpus.task == "causal":  # the model sees the prefix only, not even the length
        seen = cols <= pos[:, None]
        tokens = np.where(seen, tokens, -1)
        lengths = np.zeros_like(pos)
    else:
        lengths = ex.lengths[0][ex.tgt_seq]
        seen = (cols < lengths[:, None]) & (cols != pos[:, None])
    keys = np.concatenate([pos[:, None], lengths[:, None], tokens], axis=1).astype(np.int32)
    inputs = np.concatenate([np.zeros((len(pos), 2), bool), seen], axis=1)
    return _group(keys, inputs, ex.tgt_sym, ex.tgt_w, corpus.vocab_size, exact=True)


def exact(corpus: Corpus, split: str | None = None, max_rows: int = MAX_ROWS) -> Truth:
    return from_population(enumerate_population(corpus, split, max_rows), corpus)


def estimate(corpus: Corpus, split: str | None = None, k: int = 2, seed: int = 0, draws: int = 1,
             max_samples: int = MAX_SAMPLES, keep_samples: bool = False) -> Truth:
    """n-gram estimate from ``draws`` realizations (seeds seed, seed + 1, ...).

    Targets are weighted as in the exact population (sequences equally likely,
    targets of a sequence sharing its weight), so with k >= the sequence
    length and many draws the estimate tends to the exact truth.  Symbols
    beyond a sequence's ends are keyed as -2.  When the split would give more
    than ``max_samples`` targets, a seeded random subset of its sequences is used.
    ``keep_samples`` keeps each counted target's entry, weight and realized
    sequence in ``Truth.samples``, so a resample of them can reweight the estimate.
    """
    if k < 0 or draws < 1 or max_samples < 1:
        raise InputError(f"n-gram estimates need k >= 0, draws >= 1 and max samples >= 1, "
                         f"got k={k}, draws={draws}, max_samples={max_samples}")
    ids = select(corpus, split)
    per_seq = targets_per_sequence(corpus, ids)
    keep = ids[per_seq > 0]
    if len(keep) == 0:
        raise InputError(f"the {split or 'all'} split of the corpus has no targets")
    total = int(per_seq.sum()) * draws
    if total > max_samples:
        n = max(1, int(len(keep) * max_samples / total))
        keep = np.sort(np.random.default_rng(seed).choice(keep, n, replace=False))
    n_tgt = np.zeros(corpus.n_sequences, np.int64)
    n_tgt[ids] = per_seq
    seq_of = np.repeat(np.arange(corpus.n_sequences), corpus.lengths)
    t_in_seq = np.arange(len(corpus.seqs)) - corpus.offsets[seq_of]
    in_keep = np.zeros(corpus.n_sequences, bool)
    in_keep[keep] = True
    chosen = in_keep[seq_of] & (t_in_seq >= 1 if corpus.task == "causal" else corpus.maskable)
    where = np.flatnonzero(chosen)
    rel = np.arange(-k, 0) if corpus.task == "causal" else np.concatenate([np.arange(-k, 0), np.arange(1, k + 1)])
    idx = where[:, None] + rel[None, :]
    s = seq_of[where]
    inside = (idx >= corpus.offsets[s][:, None]) & (idx < corpus.offsets[s + 1][:, None])
    idx = np.clip(idx, 0, max(len(corpus.seqs) - 1, 0))
    if corpus.task == "mlm" and corpus.mask_rate == 0:  # one masked position per sequence
        w = 1.0 / (len(keep) * n_tgt[s] * draws)
    else:  # every target weighs the same, as in a sampled batch
        w = np.full(len(where), 1.0 / (len(where) * draws))
    keys, syms = [], []
    for d in range(draws):
        surf = corpus.realize(seed + d)
        keys.append(np.where(inside, surf[idx], -2).reshape(len(where), len(rel)))
        syms.append(surf[where])
    keys = np.concatenate(keys).astype(np.int32)
    return _group(keys, keys >= 0, np.concatenate(syms), np.tile(w, draws), corpus.vocab_size,
                  exact=False, n_samples=len(keys),
                  unit=(s[None, :] * draws + np.arange(draws)[:, None]).ravel() if keep_samples else None)


# ----------------------------------------------------------------------- report
def _per_split(splits, corpus, make) -> dict:
    """make(split) for each split, reusing "all" for a split that holds every sequence."""
    out = {"all": make("all")}
    for s in splits[:-1]:
        out[s] = out["all"] if len(select(corpus, s)) == corpus.n_sequences else make(s)
    return {s: out[s] for s in splits}


def special_ids(corpus: Corpus) -> set[int]:
    sp = corpus.specials
    return {i for i in [sp.get("mask", -1), sp.get("pad", -1), *sp.get("labels", [])] if i is not None and i >= 0}


def relation_pairs(corpus: Corpus) -> list[tuple[int, int]]:
    """The pairs recorded by construction, else every pair of at most 32 non-special symbols."""
    if corpus.relations:
        return sorted({(min(r["a"], r["b"]), max(r["a"], r["b"])) for r in corpus.relations})
    syms = [s for s in range(corpus.vocab_size) if s not in special_ids(corpus)]
    if len(syms) > MAX_AUTO_PAIRS_SYMBOLS:
        return []
    return [(a, b) for i, a in enumerate(syms) for b in syms[i + 1 :]]


def symbol_meanings(corpus: Corpus) -> list[list[str]]:
    """For each surface symbol, the meanings that can be written with it."""
    out = [[] for _ in corpus.vocab]
    for m, row in enumerate(corpus.real.variants):
        for s in row[row >= 0]:
            if corpus.meanings[m] not in out[s]:
                out[s].append(corpus.meanings[m])
    return out


def report(corpus: Corpus, max_rows: int = MAX_ROWS, k: int = 2, seed: int = 0, draws: int = 1) -> dict:
    """Everything ``tying inspect`` shows, as JSON-ready data.

    Relations are computed over all sequences of the corpus (a property of the
    language, not of a split); Bayes-optimal numbers for each non-empty split
    and for "all".
    """
    why = not_enumerable(corpus, None, max_rows)
    splits = [s for s in SPLITS if np.any(targets_per_sequence(corpus, select(corpus, s)) > 0)] + ["all"]
    if why is None:
        truths = _per_split(splits, corpus, lambda s: exact(corpus, s, max_rows))
        method = {"method": "exact", "n_contexts": truths["all"].n_contexts}
    else:
        truths = _per_split(splits, corpus, lambda s: estimate(corpus, s, k, seed, draws))
        method = {"method": "ngram", "reason": why, "k": k, "seed": seed, "draws": draws,
                  "max_samples": MAX_SAMPLES,
                  "n_samples": truths["all"].n_samples, "n_contexts": truths["all"].n_contexts,
                  "singleton_contexts": int(np.count_nonzero(truths["all"].counts == 1))}
    full = truths["all"]
    built = {(min(r["a"], r["b"]), max(r["a"], r["b"])): r for r in corpus.relations}
    relations = []
    for a, b in relation_pairs(corpus):
        r = built.get((a, b))
        rel = {"a": a, "b": b, "a_name": corpus.vocab[a], "b_name": corpus.vocab[b]}
        if full.exact:
            se, reason = full.semantic_equivalent(a, b)
            rel.update(semantic_equivalent=se, conditional_equivalent=full.conditional_equivalent(a, b),
                       source="exact", se_reason=reason)
        else:
            rel.update(semantic_equivalent=r and r.get("se"), conditional_equivalent=r and r.get("ce"),
                       source="construction")
        rel["dh_violation_nats"] = full.dh_violation(a, b)
        rel["by_construction"] = None if r is None else {"se": r.get("se"), "ce": r.get("ce"), "why": r.get("why")}
        relations.append(rel)
    bayes = {}
    for s, t in truths.items():
        bayes[s] = {"accuracy": t.accuracy(), "cross_entropy": t.cross_entropy(), "n_contexts": t.n_contexts}
        if not t.exact:
            bayes[s]["n_samples"] = t.n_samples
    return {
        "vocab": list(corpus.vocab),
        "symbol_meanings": symbol_meanings(corpus),
        "specials": corpus.specials,
        "task": corpus.task,
        "mask_rate": corpus.mask_rate,
        "n_sequences": corpus.n_sequences,
        "split_sizes": {s: int(np.count_nonzero(corpus.split == i)) for i, s in enumerate(SPLITS)},
        "provenance": corpus.provenance,
        "ground_truth": method,
        "relations": relations,
        "bayes_optimal": bayes,
    }
