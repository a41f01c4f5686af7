"""The language-model claims of `tying reproduce paper`: twins and the relation quadrants.

This module owns the claims evaluated on the toy-english runs (``experiments.plan`` builds their specs):

* ``twins_claims``: twin pairs (SE and CE) end closer than random pairs of common words;
* ``quadrant_values``: per relation quadrant and table, the pair's final distance over the median
  distance of random pairs of common words, judged against the sign that P6 predicts (``predicted``,
  read from ``theory.p6_quadrants``, the one definition of the prediction), and ``split_contrasts``,
  the controlled form of the 'apart' claims;
* the measurements they share (``lm_pair_ratio``, ``reference_pairs``).
"""
from __future__ import annotations

import numpy as np

from tying.generators import Corpus

from .plan import QUADRANTS
from .results import Claim, Group, table_curves
from .xor_claims import WELL_BELOW


def predicted() -> dict:
    """{quadrant of ``plan.QUADRANTS``: {table: "close", "apart" or "?"}}: P6's predicted sign for the
    pair of each quadrant (``theory.predicted_signs``, defined in ``theory.p6_quadrants``).  "?": the theory predicts no sign
    (the coin's tied rows stay apart, or merge and the model loses the copy)."""
    from tying.theory import predicted_signs  # sympy: only when the claims are evaluated

    return {name: predicted_signs(*q["relation"]) for name, q in QUADRANTS.items()}


def lm_pair_ratio(group: Group, pair: tuple, table: str, n_ref: int = 60, seed: int = 0) -> np.ndarray:
    """Final distance of the pair over the median distance of random pairs of common words, per seed."""
    c = group.corpus
    a, b = c.symbol_id(pair[0]), c.symbol_id(pair[1])
    ref = reference_pairs(c, n_ref, seed, exclude={a, b})
    d = table_curves(group, [(a, b)] + ref, table)[:, -1, :]
    return d[:, 0] / np.median(d[:, 1:], axis=1)


def reference_pairs(c: Corpus, n: int, seed: int, exclude=()) -> list:
    """Random pairs among the 60 most frequent plain words (no twin, no special symbol)."""
    counts = np.bincount(c.realize(seed), minlength=c.vocab_size)
    special = {c.specials.get("mask", -1), c.specials.get("pad", -1)}
    plain = [s for s in np.argsort(-counts, kind="stable")
             if s not in special and s not in exclude and "#" not in c.vocab[s] and counts[s] > 0][:60]
    rng = np.random.default_rng(seed)
    pairs = set()
    while len(pairs) < min(n, len(plain) * (len(plain) - 1) // 2):
        a, b = sorted(rng.choice(plain, 2, replace=False).tolist())
        pairs.add((a, b))
    return sorted(pairs)


def twins_claims(groups: dict) -> list:
    claims = []
    for (_, _, tied), g in sorted(groups.items(), key=lambda kv: not kv[0][2]):
        c = g.corpus
        twins = [(c.vocab.index(f"{w}#1"), c.vocab.index(f"{w}#2")) for w in _twinned(c)]
        ref = reference_pairs(c, 200, 0)
        for t in (["tied"] if tied else ["untied input", "untied output"]):
            d_tw = table_curves(g, twins, t)[:, -1, :].mean(1)
            d_ref = table_curves(g, ref, t)[:, -1, :].mean(1)
            v = d_tw / d_ref
            claims.append(Claim("twins", f"{t}: twin pairs (SE and CE) closer than random pairs of common words",
                                "mean d(twins) / mean d(random) < 1", list(v), bool(np.all(v < 1)),
                                note=f"{len(twins)} twin pairs, {len(ref)} random pairs"))
    return claims


def _twinned(c: Corpus) -> list:
    return [w[:-2] for w in c.vocab if w.endswith("#1") and f"{w[:-2]}#2" in c.vocab]


def quadrant_values(groups: dict, figure_arch: str) -> tuple:
    """Claims for every architecture, and the figure's values for figure_arch."""
    values, claims, ratios, keys = {}, [], {}, []
    signs = predicted()
    for (ci, arch, tied), g in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0], not kv[0][2])):
        name = list(QUADRANTS)[ci]
        pair = QUADRANTS[name]["pair"]
        seeds = [r.train_cfg.seed for r in g.runs]
        for t in (["tied"] if tied else ["untied input", "untied output"]):
            v = lm_pair_ratio(g, pair, t)
            ratios[name, arch, t] = dict(zip(seeds, v))
            if arch == figure_arch:  # the figure shows one architecture
                values.setdefault(name, {})[t] = v
            claims.append(sign_claim("quadrants", f"{arch}, {name} {pair}", t, signs[name][t], v,
                                     reference=name == "not SE & not CE"))
            keys.append((name, arch, t))
    for c, key in zip(claims, keys):
        if not c.passed and not c.reference:
            c.note = _miss_note(ratios, *key)
    return values, claims + split_contrasts(ratios)


def _miss_note(ratios: dict, name: str, arch: str, table: str) -> str:
    """Where a sign claim misses its line: the seeds on the wrong side, and for the DH-broken pair its
    distance against the same pair where the DH holds (the controlled contrast of ``split_contrasts``)."""
    v = ratios[name, arch, table]
    text = f"per seed {', '.join(f'{x:.3f}' for x in v.values())} against the line {WELL_BELOW}"
    twin = ratios.get(("SE & CE", arch, table)) if name == "SE & not CE" else None
    if twin:
        paired = [x / twin[s] for s, x in v.items() if s in twin]
        text += (f"; {np.mean(paired):.3g}x the same pair split 0.5/0.5 (mean over seeds, paired): apart from its "
                 "DH-intact form, as P6 predicts, by less than the line asks")
    return text


def sign_claim(experiment: str, what: str, table: str, want: str, v, reference: bool = False) -> Claim:
    """The claim that a pair's d / median(random pairs), one value per seed, has P6's sign ``want``
    ("close", "apart", or "?": no sign, a reference row)."""
    if want == "?":
        return Claim(experiment, f"{what}: {table} rows", "no sign: apart, or merged at the cost of the copy (P6)",
                     list(v), True, reference=True)
    ok = bool(np.all(v <= WELL_BELOW)) if want == "close" else bool(np.all(v > WELL_BELOW))
    return Claim(experiment, f"{what}: {table} rows {want}",
                 f"d / median(random pairs) {'<=' if want == 'close' else '>'} {WELL_BELOW}",
                 list(v), ok, reference=reference)


def split_contrasts(ratios: dict) -> list:
    """The same pair split 0.1/0.9 (DH broken) against 0.5/0.5 (DH intact), paired by seed: the tables
    that hold output rows should keep the skewed pair further apart.  Only CE differs between the two
    corpora, so this is the controlled form of the 'apart' claims above.  ``ratios`` maps (quadrant,
    arch, table) to {seed: d / median(random pairs)}."""
    pair = QUADRANTS["SE & not CE"]["pair"]
    claims = []
    for arch in sorted({arch for _, arch, _ in ratios}):
        for t in ("tied", "untied output"):
            skewed, balanced = ratios.get(("SE & not CE", arch, t)), ratios.get(("SE & CE", arch, t))
            if not (skewed and balanced):
                continue
            v = [float(x / balanced[seed]) for seed, x in skewed.items() if seed in balanced]
            claims.append(Claim("quadrants", f"{arch}, split 0.1/0.9 against 0.5/0.5 {pair}: {t} rows further "
                                "apart when the DH is broken", "[d / median(random pairs)] skewed / balanced > 1",
                                v, bool(v) and bool(np.all(np.array(v) > 1)), note="paired by seed"))
    return claims
