"""What `tying reproduce variants` measures, and the claims that judge it.

Per run, at its last step:

* the *price* of a variant: its exact loss on the whole training split minus the untied model's, paired
  by seed (same seed: the same stream and the same initial values in every tensor they share), in nats;
* the distance of the DH-broken pair and of the DH-holding pair in each role (input rows, output rows),
  divided by the median distance of reference pairs (XOR: the other pairs of occurring bit symbols;
  toy-english: random pairs of common words), so that tables of different scales compare;
* the exact accuracy on the training strings against their Bayes accuracy (XOR), or the accuracy against
  the untied model's (toy-english, where no exact truth is enumerable).

D is the DH violation of the pair (``generators.truth``: the least extra cross-entropy of merging its
output rows, P4).  On XOR it is exact; on toy-english, where a word is split into two SE copies with
weights (q, 1 - q), it is f * KL(Bern(q) || Bern(1/2)) with f the copies' share of the corpus's tokens
(every position is masked with the same probability, so f is their share of the targets).

The criteria below were written before any run of this experiment was made:

* ``lm`` L1: plain tying pays for a broken DH: price_tied(smallest q) - price_tied(q = 1/2) > 0 (paired).
* ``lm`` L2: its price grows with D: Spearman correlation of D and the mean price over the split family > 0.
* ``lm``/``xor`` P7(a): a larger alpha pulls the tied rows of the DH-broken pair together: the Spearman
  correlation of alpha (0.25, 1, 4, 16) and the pair's mean input-role distance ratio is < 0.
* ``lm``/``xor`` P7(b): with k = d/2 shared columns the output rows of the DH-broken pair end farther apart
  than under full tying (k = d): mean paired difference > 0.
* ``lm`` L3: the DH-holding pair (q = 1/2) ends closer than reference pairs under plain tying (ratio < 1).
* reference rows, not counted: for each variant, its price where the DH breaks and where it holds, and its
  *DH cost*, price(broken) - price(holding), paired by seed, with a 95% bootstrap interval.  A variant
  *removes the cost of tying where the DH breaks* when that interval reaches 0 or below while plain
  tying's lies above 0.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from tying.figures import mean_ci
from tying.generators import Corpus, dh_violation
from tying.models import Run

from .lm_claims import reference_pairs
from .results import Claim, Group, occurring, truth_of
from .spec import load_spec, run_id
from .variants_plan import FAMILIES, VARIANTS, variant_of
from .worker import corpus_file
from .xor_claims import LEARNED_TOL, SETTINGS

TIE_FREE = "untied"


# ------------------------------------------------------------------------------ runs
def load_variant_groups(out: Path, spec: dict) -> dict:
    """{(corpus index, variant): Group} of every completed run of a variants spec."""
    groups: dict = {}
    entries = spec["corpus"] if isinstance(spec["corpus"], list) else [spec["corpus"]]
    for ci, entry in enumerate(entries):
        corpus = None
        for cfg in load_spec({**spec, "corpus": entry}).runs:
            folder = out / "runs" / run_id(cfg)
            if not (folder / "summary.json").is_file():
                continue
            run = Run.load(folder)
            if run.status != "completed":
                continue
            corpus = corpus or Corpus.load(corpus_file(cfg["corpus"], out))
            groups.setdefault((ci, variant_of(cfg["model"])), Group(corpus, [])).runs.append(run)
    return groups


def by_seed(group: Group, values) -> dict:
    return dict(zip((r.train_cfg.seed for r in group.runs), values))


def paired(a: dict, b: dict) -> np.ndarray:
    """a - b over the seeds both have, in seed order."""
    return np.array([a[s] - b[s] for s in sorted(set(a) & set(b))])


def final_loss(group: Group) -> dict:
    return by_seed(group, [r.fit_loss[-1] for r in group.runs])


def final_acc(group: Group) -> dict:
    return by_seed(group, [r.fit_acc[-1] for r in group.runs])


def pair_ratio(group: Group, pair: tuple, ref: list, role: str) -> dict:
    """Final distance of the pair in one role over the median final distance of the reference pairs."""
    out = []
    for r in group.runs:
        d = r.distances([pair] + list(ref), role)[-1]
        out.append(d[0] / np.median(d[1:]))
    return by_seed(group, out)


# ------------------------------------------------------------------------------ the corpora's pairs
def cases(groups: dict, experiment: str) -> dict:
    """{corpus index: dict(label, D, broken, holding, ref)}: each corpus's pairs and its DH violation D."""
    out = {}
    for (ci, _), g in groups.items():
        if ci not in out:
            out[ci] = xor_case(g.corpus) if experiment == "xor" else lm_case(g.corpus)
    return dict(sorted(out.items()))


def xor_case(c) -> dict:
    p = c.provenance["parameters"]
    name = next(k for k, (z, o) in SETTINGS.items() if p["zero"] == z and p["one"] == o)
    live = occurring(c)
    truth = truth_of(c, "train")
    broken = holding = None
    for a, b in ((0, 1), (2, 3)):
        if a in live and b in live:
            if truth.dh_violation(a, b) > 1e-12:
                broken = (a, b)
            else:
                holding = (a, b)
    pairs = [(a, b) for a in range(4) for b in range(a + 1, 4) if a in live and b in live]
    ref = [q for q in pairs if q not in (broken, holding)]
    return {"label": name, "D": truth.dh_violation(*broken) if broken else 0.0, "broken": broken,
            "holding": holding, "ref": ref, "bayes": truth.accuracy()}


def lm_case(c) -> dict:
    split = next((t for t in c.provenance.get("transforms", []) if t["transform"] == "split"), None)
    broken = holding = None
    if split:
        a, b = c.symbol_id(f"{split['symbol']}#1"), c.symbol_id(f"{split['symbol']}#2")
        q = float(split["weights"][0])
        counts = np.bincount(c.realize(0), minlength=c.vocab_size)
        D = dh_violation(q, 1 - q, (counts[a] + counts[b]) / counts.sum())
        pair, label = (a, b), f"split q={q:g}"
        broken, holding = (pair, None) if abs(q - 0.5) > 1e-12 else (None, pair)
    elif "H" in c.vocab and "T" in c.vocab:
        pair, label, D = (c.symbol_id("H"), c.symbol_id("T")), "coin (CE only)", 0.0
    else:
        pair, label, D = (c.symbol_id("dog"), c.symbol_id("house")), "plain (neither SE nor CE)", 0.0
    return {"label": label, "D": float(D), "broken": broken, "holding": holding, "pair": pair,
            "ref": reference_pairs(c, 60, 0, exclude=set(pair)), "bayes": None}


# ------------------------------------------------------------------------------ the table
def _ci(values) -> tuple:
    v = np.asarray(values, float)
    if v.size == 0:
        return (np.nan, np.nan, np.nan)
    return tuple(float(x) for x in mean_ci(v))


def variant_rows(groups: dict, experiment: str) -> list:
    """One row per (corpus, variant): D, the price, the pairs' distance ratios in each role, the accuracy;
    ``*_by_seed`` hold the per-seed values the claims pair by seed."""
    rows = []
    for ci, case in cases(groups, experiment).items():
        base = final_loss(groups[ci, TIE_FREE]) if (ci, TIE_FREE) in groups else None
        for v in VARIANTS:
            g = groups.get((ci, v))
            if g is None:
                continue
            row = {"experiment": experiment, "corpus": case["label"], "D": case["D"], "variant": v, "n": len(g.runs)}
            loss = final_loss(g)
            row["price_by_seed"] = {s: loss[s] - base[s] for s in loss if s in base} if base else {}
            row["price"] = _ci(list(row["price_by_seed"].values()))
            for name in ("broken", "holding", "pair"):
                pair = case.get(name)
                per = {role: pair_ratio(g, pair, case["ref"], role) if pair else {} for role in ("in", "out")}
                row[f"{name}_by_seed"] = per
                for role in ("in", "out"):
                    row[f"{name}_{role}"] = _ci(list(per[role].values()))
            acc = np.array(list(final_acc(g).values()))
            row["acc"] = _ci(acc)
            if case["bayes"] is not None:
                ok = acc >= case["bayes"] - LEARNED_TOL
                row["bayes"], row["learned"] = case["bayes"], (int(ok.sum()), ok.size)
            rows.append(row)
    return rows


def _index(rows: list) -> tuple:
    """({(corpus, variant): row}, {corpus: D}, the split corpus where the DH holds or None)."""
    by = {(r["corpus"], r["variant"]): r for r in rows}
    D = {r["corpus"]: r["D"] for r in rows}
    return by, D, next((c for c in D if c.startswith("split") and D[c] == 0.0), None)


# ------------------------------------------------------------------------------ the claims
def _ranks(v) -> np.ndarray:
    """Ranks with ties sharing their mean rank."""
    v = np.asarray(v, float)
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(len(v))
    _, inverse = np.unique(v, return_inverse=True)
    return np.array([ranks[inverse == inverse[i]].mean() for i in range(len(v))])


def _spearman(x, y) -> float:
    """Spearman's rank correlation; NaN when either side is constant (no order to correlate)."""
    rx, ry = _ranks(x), _ranks(y)
    if np.std(rx) == 0 or np.std(ry) == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def p7_claims(rows: list, experiment: str) -> list:
    """P7's two predictions on every corpus with a DH-broken pair."""
    claims = []
    by, _, _ = _index(rows)
    for corpus in dict.fromkeys(r["corpus"] for r in rows if r["broken_by_seed"]["in"]):
        names, alphas = FAMILIES["alpha"]
        if all((corpus, v) in by for v in names):
            ratios = [by[corpus, v]["broken_in"][0] for v in names]
            rho = _spearman(alphas, ratios)
            claims.append(Claim(
                experiment, f"{corpus}: a larger alpha pulls the tied rows of the DH-broken pair together (P7)",
                "Spearman(alpha, mean d_in / median(reference)) < 0 over alpha = 0.25, 1, 4, 16", [rho], rho < 0,
                note="mean ratios " + ", ".join(f"{a:g}: {r:.3g}" for a, r in zip(alphas, ratios))))
        if (corpus, "k=d/2") in by and (corpus, "tied") in by:
            diff = paired(by[corpus, "k=d/2"]["broken_by_seed"]["out"], by[corpus, "tied"]["broken_by_seed"]["out"])
            _, lo, hi = _ci(diff)
            claims.append(Claim(
                experiment, f"{corpus}: with k = d/2 shared columns the DH-broken pair's output rows end "
                "farther apart than under full tying (P7)", "mean paired [d_out(k=d/2) - d_out(k=d)] > 0, "
                "as ratios to the reference pairs", list(diff), diff.mean() > 0,
                interval=f"95% bootstrap CI [{lo:.3g}, {hi:.3g}]"))
    return claims


def price_claims(rows: list, experiment: str) -> list:
    """Where tying costs (L1, L2), the DH-holding pair (L3), and each variant's DH cost (reference rows)."""
    claims = []
    by, D, holding = _index(rows)
    broken = sorted((c for c in D if D[c] > 0), key=lambda c: D[c])
    if holding and broken and (holding, "tied") in by:
        family = [c for c in [holding] + broken if (c, "tied") in by]
        prices = [by[(c, "tied")]["price"][0] for c in family]
        cost = paired(by[(broken[-1], "tied")]["price_by_seed"], by[(holding, "tied")]["price_by_seed"])
        _, lo, hi = _ci(cost)
        claims.append(Claim(experiment, f"plain tying pays for a broken DH: its price at {broken[-1]} exceeds "
                            f"its price at {holding} (L1)", "mean paired difference > 0", list(cost),
                            cost.mean() > 0, interval=f"95% bootstrap CI [{lo:.3g}, {hi:.3g}]"))
        rho = _spearman([D[c] for c in family], prices)
        claims.append(Claim(experiment, "the price of plain tying grows with the DH violation D (L2)",
                            "Spearman(D, mean price_tied) > 0 over the split family", [rho], rho > 0,
                            note="mean prices: " + ", ".join(f"D = {D[c]:.3g}: {p:.3g}"
                                                             for c, p in zip(family, prices))))
        r = by[(holding, "tied")]
        claims.append(Claim(experiment, f"{holding}: plain tying keeps the DH-holding pair closer than reference "
                            "pairs (L3)", "d / median(reference) < 1", [r["holding_in"][0]],
                            r["holding_in"][0] < 1))
    for c in broken:
        for v in VARIANTS:
            if v == TIE_FREE or (c, v) not in by:
                continue
            r = by[(c, v)]
            if holding and (holding, v) in by:
                values = paired(r["price_by_seed"], by[(holding, v)]["price_by_seed"])
                what = "the DH cost of tying, its price here minus its price where the DH holds"
                note = f"price {r['price'][0]:.3g} here, {by[(holding, v)]['price'][0]:.3g} where the DH holds"
            else:
                values, what, note = np.array(list(r["price_by_seed"].values())), "the price of tying", ""
            _, lo, hi = _ci(values)
            claims.append(Claim(
                experiment, f"{c} (D = {D[c]:.3g}) {v}: {what} (paired by seed; price: excess training loss over "
                "untied)", "shown", list(values), True, note=note, reference=True,
                interval=f"95% bootstrap CI [{lo:.3g}, {hi:.3g}]"))
    return claims


def removes_cost(rows: list) -> dict:
    """{corpus with a broken DH: [variants whose DH-cost interval reaches 0 or below]}, when plain tying's
    lies above 0 (otherwise there is no cost to remove and the corpus is left out)."""
    by, D, holding = _index(rows)
    out = {}
    for c in (c for c in D if D[c] > 0 and holding):
        lows = {}
        for v in VARIANTS:
            if v != TIE_FREE and (c, v) in by and (holding, v) in by:
                cost = paired(by[(c, v)]["price_by_seed"], by[(holding, v)]["price_by_seed"])
                lows[v] = _ci(cost)[1]
        if lows.get("tied", 0) > 0:
            out[c] = [v for v, lo in lows.items() if lo <= 0]
    return out


def no_worse_than_untied(rows: list) -> dict:
    """{corpus with a broken DH: ["variant (price here; price where the DH holds)", ...]} for the variants whose
    price interval where the DH breaks reaches 0 or below (a reading added after the runs were seen)."""
    by, D, holding = _index(rows)
    out = {}
    for c in (c for c in D if D[c] > 0):
        keep = []
        for v in VARIANTS:
            r = by.get((c, v))
            if v == TIE_FREE or r is None or not r["price"][1] <= 0:
                continue
            there = f"; {by[(holding, v)]['price'][0]:.3g} where it holds" if (holding, v) in by else ""
            keep.append(f"{v} ({r['price'][0]:.3g}{there})")
        out[c] = keep
    return out
