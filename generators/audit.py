"""A DH audit of a corpus: for pairs of frequent symbols, how far from SE and from CE, with bootstrap CIs.

Everything is estimated from the n-gram truth (``truth.estimate``: k symbols on
each side of an MLM target, k before a causal one), so "context" below means
that n-gram context x, p(x) its share of the counted targets and p(.|x) the
target distribution there.

* ce_dist = D(a, b), the DH violation of ``truth``: sum_x p(x) (p(a|x) + p(b|x))
  KL(Bern(rho_x) || Bern(1/2)) nats, rho_x = p(a|x) / (p(a|x) + p(b|x)).  It is
  the least extra cross-entropy per prediction of a model whose output rows of a
  and b are merged (theory P4).  The plug-in estimate (ce_plugin, which is
  ``estimate(...).dh_violation(a, b)``) is biased upwards where contexts are
  rare; ce_dist is its delete-a-group jackknife, which removes the part of the
  bias that falls as 1/n but not that of contexts seen once (each such context
  holding a or b still adds about p(x) ln 2), and its CI is the bootstrap's
  shifted by the same correction.  So D's CI does not decide CE; ce_gap does.
* ce_gap = sum_x p(x) (p(a|x) - p(b|x))^2: 0 exactly when the pair is CE.
* se_dist = the mean over swaps of ||p(.|x) - p(.|x')||^2 (squared L2 distance
  between the two target distributions, in [0, 2]), where a swap takes a
  context x holding a (or b) as an input and replaces one occurrence by the
  other symbol, giving x'; each swap weighs p(x), and only swaps whose x' is
  also observed count.  0 exactly when the pair is SE in the population.

ce_gap and se_dist are estimated without bias from contexts with at least two
counted targets (a squared difference of frequencies minus its variance: the
pairs i != j of targets of one context), so a pair that is CE (SE) gives
estimates scattered around 0, not above it; contexts counted once are left
out of them.  The CIs are percentile intervals of ``boot`` bootstrap
resamples of the realized sequences (seeded; with ``draws`` > 1 each
realization of a sequence is one; a resampled sequence brings every target it
holds, and a target drawn m times counts as one of weight m, so the estimates
stay unbiased within a resample).

Flags: se is False when the CI of se_dist excludes 0, True when it reaches 0
and ends below ``se_max`` (the data pin the pair near SE), None otherwise (too
little evidence, or fewer than ``min_targets`` counted targets in the
contexts of its swaps: a few swaps of contexts that always give the same
target would otherwise look SE with a CI of width 0).  ce is False when the
CI of ce_gap excludes 0, True when it reaches 0, None with no context of two counted
targets.  tie_cost: se True, ce False and the lower end of D's CI above
``ce_min`` nats: the DH would tie these two, yet merging their output rows
costs at least ``ce_min`` nats per prediction.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .audit_kernels import pair_sums, row_dots
from .corpus import Corpus
from tying.core import interrupt
from tying.core.errors import InputError
from .truth import MAX_SAMPLES, estimate, special_ids

CE_MIN = 1e-3  # nats per prediction: a 0.1% rise in perplexity, the least tying cost worth a warning
CI = 95.0
JACKKNIFE = 10  # groups of the jackknife that corrects D's bias
MIN_TARGETS = 30  # counted targets behind a pair's swaps, below which its SE verdict is None
SE_MAX = 0.05  # squared L2: the target distribution moves by about 0.2 in L2 norm, at most, on a swap
VALID = 1e-12  # a context needs (sum w)^2 - sum w^2 above this share of (sum w)^2: two targets at least


@dataclass
class AuditTable:
    """One row per pair: ``columns`` maps a column name to an array; ``meta`` says how it was estimated."""

    columns: dict
    meta: dict

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def __len__(self) -> int:
        return len(self.columns["a"])

    def rows(self) -> list[dict]:
        return [{k: _plain(v[i]) for k, v in self.columns.items()} for i in range(len(self))]


def _plain(x):
    """A JSON value: numpy scalars as Python numbers, NaN as None."""
    if isinstance(x, (np.floating, float)):
        return None if np.isnan(x) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def top_symbols(counts: np.ndarray, corpus: Corpus, top_k: int) -> np.ndarray:
    """The top_k non-special symbols by count (ties: lower id first), counted at least once."""
    order = np.argsort(-counts, kind="stable")
    special = special_ids(corpus)
    return np.array([s for s in order if counts[s] > 0 and s not in special][:top_k], np.int64)


def _group_sums(x: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Sums of x over the consecutive groups x[start[n]:start[n + 1]], 0 for an empty group."""
    sums = np.add.reduceat(np.append(x, 0.0), start[:-1])  # the 0 keeps a trailing empty group in range
    return np.where(np.diff(start) > 0, sums, 0.0)


def _entry_at(ctx_of_entries: np.ndarray, entries: np.ndarray, contexts: np.ndarray) -> np.ndarray:
    """For each context, the index of its entry among ``entries`` (sorted by context), or -1."""
    i = np.minimum(np.searchsorted(ctx_of_entries, contexts), max(len(entries) - 1, 0))
    hit = (ctx_of_entries[i] == contexts) if len(entries) else np.zeros(len(contexts), bool)
    return np.where(hit, entries[i] if len(entries) else -1, -1)


class _Stats:
    """The three estimates of every pair, for any reweighting of the counted targets.

    The contexts where a or b is a target (for D and ce_gap) and the swaps (for se_dist) are
    found once, on the whole sample, and laid out pair after pair, so a resample costs a few
    array passes; a context a resample leaves out simply weighs 0 in it.
    """

    def __init__(self, truth, pairs):
        self.t = truth
        self.ctx = np.repeat(np.arange(truth.n_contexts), np.diff(truth.indptr))
        entries = {int(x): np.flatnonzero(truth.sym == x) for x in np.unique(pairs)}
        sub, ea, eb, c1, c2 = [], [], [], [], []
        for a, b in pairs:
            e = entries[int(a)], entries[int(b)]
            contexts = np.union1d(self.ctx[e[0]], self.ctx[e[1]])
            sub.append(contexts)
            ea.append(_entry_at(self.ctx[e[0]], e[0], contexts))
            eb.append(_entry_at(self.ctx[e[1]], e[1], contexts))
            s1, s2, _ = truth.swaps(int(a), int(b))
            c1.append(s1)
            c2.append(s2)
        self.sub_start = np.concatenate([[0], np.cumsum([len(x) for x in sub])]).astype(np.int64)
        self.sub, self.ea, self.eb = (np.concatenate(x).astype(np.int64) for x in (sub, ea, eb))
        self.swap_start = np.concatenate([[0], np.cumsum([len(x) for x in c1])])
        self.c1, self.c2 = np.concatenate(c1).astype(np.int64), np.concatenate(c2).astype(np.int64)
        n1, n2 = truth.counts[self.c1], truth.counts[self.c2]  # the targets behind each swap, in the whole sample
        self.swap_targets = _group_sums(np.where((n1 >= 2) & (n2 >= 2), n1 + n2, 0.0), self.swap_start)

    def __call__(self, w: np.ndarray):
        """(D, ce_gap, se_dist, swaps used, contexts used) per pair; w: the weight of each counted target."""
        t, entry = self.t, self.t.samples["entry"]
        E, C = len(t.sym), t.n_contexts
        J = np.bincount(entry, weights=w, minlength=E)  # weight of each (context, target)
        Q = np.bincount(entry, weights=w * w, minlength=E)
        W = np.bincount(self.ctx, weights=J, minlength=C)
        S2 = np.bincount(self.ctx, weights=Q, minlength=C)
        p_ctx = W / W.sum()
        denom = W * W - S2  # sum over ordered pairs i != j of targets of a context of w_i w_j
        valid = denom > VALID * W * W
        safe = np.where(valid, denom, 1.0)
        U = np.where(valid, (np.bincount(self.ctx, weights=J * J, minlength=C) - S2) / safe, 0.0)
        p_cond = J / np.where(W > 0, W, 1.0)[self.ctx]

        D, gap, used = pair_sums(self.sub_start, self.sub, self.ea, self.eb, p_cond, J, Q, p_ctx, valid, safe)
        valid_mass = p_ctx[valid].sum()
        gap = gap / valid_mass if valid_mass > 0 else np.full(len(gap), np.nan)

        c1, c2 = self.c1, self.c2
        ok = valid[c1] & valid[c2]
        dots = row_dots(t.indptr, t.sym, J, c1, c2) / np.where(ok, W[c1] * W[c2], 1.0)
        weight = np.where(ok, p_ctx[c1], 0.0)
        num = _group_sums(weight * (U[c1] + U[c2] - 2.0 * dots), self.swap_start)
        den = _group_sums(weight, self.swap_start)
        se = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
        swaps = _group_sums(ok.astype(np.float64), self.swap_start).astype(np.int64)
        return D, gap, se, swaps, used


def exact_distances(truth, a: int, b: int) -> tuple[float, float, float]:
    """(se_dist, ce_gap, D) of the pair in a ``Truth`` taken as the population (no sampling, so no bias
    correction): the values the audit's estimates aim at.  se_dist is NaN when no swap is possible."""
    ctx = np.repeat(np.arange(truth.n_contexts), np.diff(truth.indptr))
    pa, pb = truth.column(a), truth.column(b)
    gap = float(np.sum(truth.p_ctx * (pa - pb) ** 2))
    c1, c2, why_none = truth.swaps(a, b)
    if why_none is not None:
        return np.nan, gap, truth.dh_violation(a, b)
    sq = np.bincount(ctx, weights=truth.p_cond ** 2, minlength=truth.n_contexts)
    d = sq[c1] + sq[c2] - 2.0 * row_dots(truth.indptr, truth.sym, truth.p_cond, c1, c2)
    return float(np.sum(truth.p_ctx[c1] * d) / np.sum(truth.p_ctx[c1])), gap, truth.dh_violation(a, b)


def _flag(lo: float, hi: float, high: float):
    """False: the CI excludes 0; True: it reaches 0 and ends at most ``high``; None: neither, or no estimate."""
    if np.isnan(lo):
        return None
    return False if lo > 0 else (True if hi <= high else None)


def _jackknife_D(stats, w, pos, n_units, D, rng) -> np.ndarray:
    """Delete-a-group jackknife of the plug-in D over JACKKNIFE groups of realized sequences: it removes
    the bias that falls as 1/n (the plug-in's, from contexts seen a few times), not that of contexts seen once."""
    K = min(JACKKNIFE, n_units)
    if K < 2:
        return D
    group = rng.permutation(n_units) % K
    rest = np.mean([stats(w * (group[pos] != j))[0] for j in range(K)], axis=0)
    return K * D - (K - 1) * rest


def audit(corpus: Corpus, top_k: int = 20, k: int = 2, boot: int = 200, seed: int = 0, split: str | None = None,
          draws: int = 1, max_samples: int = MAX_SAMPLES, pairs=None, ce_min: float = CE_MIN,
          se_max: float = SE_MAX, ci: float = CI, min_targets: int = MIN_TARGETS) -> AuditTable:
    """Audit every pair of the ``top_k`` most frequent targets (or the given ``pairs`` of symbol ids),
    one row per pair, sorted by (a, b) with a < b.

    ``k``, ``seed``, ``split``, ``draws``, ``max_samples``: as in ``truth.estimate``; ``boot``
    resamples of the sequences, seeded by ``seed``, for the CIs (``ci`` percent); module docstring
    for the columns and flags.
    """
    if top_k < 2 and pairs is None:
        raise InputError(f"an audit needs at least 2 symbols, got top k = {top_k}")
    if boot < 2 or not 0 < ci < 100:
        raise InputError(f"an audit needs at least 2 bootstrap resamples and a CI in (0, 100), "
                         f"got boot={boot}, ci={ci}")
    for name, x in (("CE threshold", ce_min), ("SE threshold", se_max)):
        if not (np.isfinite(x) and x >= 0):
            raise InputError(f"the {name} must be a finite number >= 0, got {x}")
    t = estimate(corpus, split, k, seed, draws, max_samples, keep_samples=True)
    s = t.samples
    counts = np.bincount(t.sym[s["entry"]], minlength=corpus.vocab_size)
    if pairs is None:
        syms = top_symbols(counts, corpus, top_k)
        if len(syms) < 2:
            raise InputError(f"the corpus has {len(syms)} non-special target symbol(s); an audit needs 2")
        pairs = [(a, b) for i, a in enumerate(syms) for b in syms[i + 1:]]
    pairs = np.array(sorted({(min(a, b), max(a, b)) for a, b in pairs if a != b}), np.int64).reshape(-1, 2)
    if len(pairs) == 0 or pairs.min() < 0 or pairs.max() >= corpus.vocab_size:
        raise InputError(f"audit pairs must be two different symbols of the vocabulary of {corpus.vocab_size}")
    stats = _Stats(t, pairs)
    D, gap, se, swaps, used = stats(s["w"])
    useq, pos = np.unique(s["unit"], return_inverse=True)
    rng = np.random.default_rng([seed, 0xA0D17])  # its own stream: the realizations use seed itself
    reps = []
    with interrupt.deferred():  # Ctrl-C between resamples, never inside a kernel
        for _ in range(boot):
            interrupt.check()
            m = np.bincount(rng.integers(0, len(useq), len(useq)), minlength=len(useq)).astype(np.float64)
            reps.append(stats(s["w"] * m[pos])[:3])
        bias = D - _jackknife_D(stats, s["w"], pos, len(useq), D, rng)
    reps = np.array(reps)  # (boot, 3, P)
    with warnings.catch_warnings():  # a pair with no estimate in any resample: its NaN says so already
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanpercentile(reps, [50 - ci / 2, 50 + ci / 2], axis=0)
    D_jk, lo[0], hi[0] = D - bias, lo[0] - bias, hi[0] - bias
    recorded = {(min(r["a"], r["b"]), max(r["a"], r["b"])): r for r in corpus.relations}
    a, b = pairs[:, 0], pairs[:, 1]
    swap_targets = stats.swap_targets.astype(np.int64)
    se_flag = np.array([None if swap_targets[n] < min_targets else _flag(lo[2, n], hi[2, n], se_max)
                        for n in range(len(pairs))], object)
    ce_flag = np.array([_flag(lo[1, n], hi[1, n], np.inf) for n in range(len(pairs))], object)
    tie_cost = np.array([se_flag[n] is True and ce_flag[n] is False and lo[0, n] > ce_min
                         for n in range(len(pairs))], bool)
    cols = {
        "a": a, "b": b,
        "a_name": np.array([corpus.vocab[x] for x in a], object),
        "b_name": np.array([corpus.vocab[x] for x in b], object),
        "count_a": counts[a], "count_b": counts[b],
        "se_dist": se, "se_lo": lo[2], "se_hi": hi[2], "n_swaps": swaps, "swap_targets": swap_targets,
        "ce_dist": D_jk, "ce_lo": lo[0], "ce_hi": hi[0], "ce_plugin": D,
        "ce_gap": gap, "ce_gap_lo": lo[1], "ce_gap_hi": hi[1], "n_contexts": used,
        "se": se_flag, "ce": ce_flag, "tie_cost": tie_cost,
        "se_recorded": np.array([recorded.get((x, y), {}).get("se") for x, y in pairs], object),
        "ce_recorded": np.array([recorded.get((x, y), {}).get("ce") for x, y in pairs], object),
    }
    meta = {"k": k, "seed": seed, "boot": boot, "ci": ci, "split": split or "all", "draws": draws,
            "task": corpus.task, "n_samples": t.n_samples, "n_contexts": t.n_contexts,
            "n_units": int(len(useq)), "singleton_contexts": int(np.count_nonzero(t.counts == 1)),
            "ce_min": ce_min, "se_max": se_max, "min_targets": min_targets, "max_samples": max_samples}
    return AuditTable(cols, meta)

