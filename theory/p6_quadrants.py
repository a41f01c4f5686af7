"""P6. Tying in the four quadrants.

With tied tables a shared row feels the output forces of P2/P3 and the input
forces of P5 together.  For a pair (a, b) in each relation quadrant:

* SE and CE: the distance shrinks, tied or untied (both forces pull together).
* SE, not CE: untied inputs come close (P5), untied outputs stay apart (P3);
  the tied rows are output rows too, so they stay apart.
* not SE, CE (the causal coin H/T): untied outputs contract (P2), untied inputs
  stay apart (the copy must know which came).  The tied rows feel both forces
  and one must give way: they stay apart, or they merge and the tied model
  loses the copy.
* not SE, not CE: apart everywhere.

The corpus is a small causal PCFG language (``GRAMMAR``) passed through the
generators' transforms: ``split cat 0.5,0.5`` (SE and CE), ``split dog 0.1,0.9``
(SE, not CE), ``coin`` (not SE, CE); the pair ``runs``/``sees`` (an intransitive
and a transitive verb) is neither.  The quadrant of every pair is checked
against the exact ground truth (``generators.truth``).

Numeric: bilinear and transformer models, tied and untied, over 20 seeds, trained
for 1500 steps in population mode with AdamW (the paper's optimizer, with a
faster rate: lr 1e-2, weight decay 0.01, constant schedule).
Distances are measured relative to the median distance between all rows of the
same table, so that the global shrinkage by weight decay does not count as
contraction.  "shrinks": the relative distance falls to at most half its
initial value; "apart": it ends at least 0.1.  "Loses the copy": the tied
model's excess cross-entropy over the untied one is larger on the copy targets
than on all targets (tied models are worse everywhere on this language, so only
the excess says anything about the pair).

Criterion: a predicted sign holds in a cell when a one-sided sign test over the
seeds rejects "no better than a coin" at ALPHA = 0.05 (at least 15 of 20 seeds).
The seeds are 10..29; seeds 0..9 were used to choose the criterion and are not
part of the check.

Negative control: each quadrant's prediction evaluated on the measurements of
the opposite quadrant (both relations flipped) must fail the same test.
"""
from __future__ import annotations

from functools import lru_cache
from math import comb

import numpy as np
import sympy as sp

from tying.generators import transforms, parse_grammar, pcfg_corpus
from tying.models import ModelConfig, TrainConfig, train

from . import lab, sym
from .p5_semantic import generic_quadratic
from .result import Result

ID = "P6"
KEY_NUMBERS = ("matched", "controls_failed", "runs")
STATEMENT = "tied rows feel P2/P3 output forces and P5 input forces: SE&CE shrink; SE&!CE tied stay apart; !SE&CE tied stay apart or lose the copy; !SE&!CE apart"

GRAMMAR = """
S    -> NP VP [1.0]
NP   -> Det N [0.8] | 'she' [0.2]
Det  -> 'the' [0.5] | 'a' [0.5]
N    -> 'dog' [0.3] | 'cat' [0.3] | 'bird' [0.2] | 'fish' [0.2]
VP   -> 'runs' [0.3] | 'sleeps' [0.2] | 'sees' NP [0.5]
"""
QUADRANTS = {  # quadrant: (pair, (SE, CE))
    "SE&CE": (("cat#1", "cat#2"), (True, True)),
    "SE&!CE": (("dog#1", "dog#2"), (True, False)),
    "!SE&CE": (("H", "T"), (False, True)),
    "!SE&!CE": (("runs", "sees"), (False, False)),
}
OPPOSITE = {"SE&CE": "!SE&!CE", "!SE&!CE": "SE&CE", "SE&!CE": "!SE&CE", "!SE&CE": "SE&!CE"}
PREDICTIONS = {
    "SE&CE": {"untied in": "shrinks", "untied out": "shrinks", "tied": "shrinks"},
    "SE&!CE": {"untied in": "shrinks", "untied out": "apart", "tied": "apart"},
    "!SE&CE": {"untied in": "apart", "untied out": "shrinks", "tied": "apart or loses the copy"},
    "!SE&!CE": {"untied in": "apart", "untied out": "apart", "tied": "apart"},
}
# PREDICTIONS in the words of the reproduction's report (experiments.lm_claims), which measures tables
# named "tied", "untied input", "untied output" and reads a sign: "close" (the pair contracts), "apart",
# or "?" where P6 predicts no sign (the coin's tied rows: they stay apart, or merge and the model loses
# the copy).
REPORT_TABLES = {"tied": "tied", "untied input": "untied in", "untied output": "untied out"}
REPORT_SIGNS = {"shrinks": "close", "apart": "apart", "apart or loses the copy": "?"}
SHRINK, APART = 0.5, 0.1
ARCHS = ("bilinear", "transformer")
SEEDS = tuple(range(10, 30))
ALPHA = 0.05
STEPS = 1500
TRAIN = dict(mode="population", optimizer="adamw", lr=1e-2, weight_decay=0.01, schedule="constant")


@lru_cache(maxsize=2)
def quadrant_corpus(sentences: int = 40):
    c = pcfg_corpus(parse_grammar(GRAMMAR, source="theory.p6_quadrants"), sentences, seed=0, task="causal",
                    splits=(1.0, 0.0, 0.0))
    c = transforms.split(c, "cat", [0.5, 0.5])
    c = transforms.split(c, "dog", [0.1, 0.9])
    return lab.setup(transforms.coin(c, 0))


def _rel(E: np.ndarray, a: int, b: int) -> float:
    """|E[a] - E[b]| over the median distance between the table's rows."""
    D = np.linalg.norm(E[:, None] - E[None], axis=-1)
    return float(D[a, b] / np.median(D[np.triu_indices(len(E), 1)]))


def _scores(m, s) -> tuple[np.ndarray, np.ndarray]:
    """(cross-entropy, hit) per population target; the first maximum wins, as in the head kernel."""
    _, z, _ = lab.head(m, s.pop)
    rows = np.arange(len(z))
    return lab.logsumexp(z) - z[rows, s.pop.tgt_sym], np.argmax(z, axis=1) == s.pop.tgt_sym


def _mean(s, x: np.ndarray, mask: np.ndarray) -> float:
    return float(np.sum(s.pop.tgt_w * x * mask) / np.sum(s.pop.tgt_w * mask))


def _targets(s, a: int, b: int, copy: bool) -> np.ndarray:
    """The targets that involve a pair: the copy targets (coin), else those whose context holds a or b."""
    ex, V = s.pop, s.corpus.vocab
    if copy:
        return np.isin(ex.tgt_sym, [V.index("=H"), V.index("=T")])
    rows = ex.tokens[0][ex.tgt_seq]
    seen = np.arange(rows.shape[1])[None, :] <= ex.tgt_pos[:, None]  # the causal prefix
    return np.any(seen & np.isin(rows, [a, b]), axis=1)


def measure(s, arch: str, seed: int, steps: int) -> dict:
    """{quadrant: {"untied in", "untied out", "tied": (initial, final) relative distances,
    "accuracy": (untied, tied) on the pair's targets, "excess": tied-minus-untied cross-entropy on the
    pair's targets less the same over all targets}}, and "loss": (untied, tied) final training loss."""
    V = s.corpus.vocab
    runs = {tied: train(s.corpus, ModelConfig(arch=arch, tied=tied),
                        TrainConfig(steps=steps, seed=seed, record_every=steps, eval_every=steps, progress=False,
                                    **TRAIN), progress=False)
            for tied in (False, True)}
    (ce_u, hit_u), (ce_t, hit_t) = _scores(runs[False].model(), s), _scores(runs[True].model(), s)
    gap_all = _mean(s, ce_t - ce_u, np.ones(len(ce_u), bool))
    out = {}
    for q, ((na, nb), _) in QUADRANTS.items():
        a, b = V.index(na), V.index(nb)
        u, t = runs[False], runs[True]
        mask = _targets(s, a, b, copy=q == "!SE&CE")
        out[q] = {
            "untied in": (_rel(u.E_in[0], a, b), _rel(u.E_in[-1], a, b)),
            "untied out": (_rel(u.E_out[0], a, b), _rel(u.E_out[-1], a, b)),
            "tied": (_rel(t.E_in[0], a, b), _rel(t.E_in[-1], a, b)),
            "accuracy": (_mean(s, hit_u, mask), _mean(s, hit_t, mask)),
            "excess": _mean(s, ce_t - ce_u, mask) - gap_all,
        }
    out["loss"] = (float(runs[False].train_loss[-1]), float(runs[True].train_loss[-1]))
    return out


def predicted_signs(se: bool, ce: bool) -> dict:
    """P6's predicted sign for a pair whose relations are (SE, CE), per table of the report:
    {"tied", "untied input", "untied output": "close", "apart" or "?"} (``REPORT_SIGNS``)."""
    quadrant = next(q for q, (_, relation) in QUADRANTS.items() if relation == (bool(se), bool(ce)))
    return {table: REPORT_SIGNS[PREDICTIONS[quadrant][role]] for table, role in REPORT_TABLES.items()}


def holds(prediction: dict, m: dict) -> dict:
    """Which predicted signs hold for the measurements m of one pair."""
    out = {}
    for role, want in prediction.items():
        first, last = m[role]
        if want == "shrinks":
            out[role] = last <= SHRINK * first
        elif want == "apart":
            out[role] = last >= APART
        else:  # "apart or loses the copy"
            out[role] = last >= APART or m["excess"] > 0
    return out


def _counts(prediction: dict, measured: list) -> dict:
    """{role: in how many seeds its predicted sign holds}."""
    ok = [holds(prediction, m) for m in measured]
    return {role: sum(o[role] for o in ok) for role in prediction}


def needed(n: int, alpha: float = ALPHA) -> int:
    """The fewest successes in n seeds for which a one-sided sign test rejects p = 1/2 at alpha."""
    return next(k for k in range(n + 1) if sum(comb(n, j) for j in range(k, n + 1)) / 2 ** n <= alpha)


def _tied_gap(wa, p_of):
    """d L / d e_a - d L / d e_b at e_a = e_b for a tied generic model.

    Meaning-level contexts 'm c' and 'c m', m written a (weight w_a) or b; the
    hidden state is one generic function g of the two input rows (shared by
    all realizations), the logits z_k = g * e_k use the same rows as outputs,
    and ``p_of(surface of m)`` is the target distribution over (a, b, c).
    """
    ea, eb, ec, x, y, e = sp.symbols("e_a e_b e_c x y e", real=True)
    g = generic_quadratic("g", x, y)
    E, W = {"a": ea, "b": eb, "c": ec}, {"a": wa, "b": 1 - wa}
    L = 0
    for ctx in ("mc", "cm"):
        for s in "ab":
            surf = ctx.replace("m", s)
            h = g.subs({x: E[surf[0]], y: E[surf[1]]}, simultaneous=True)
            z = [h * E[k] for k in "abc"]
            L += W[s] * sum(pk * sym.ce(z, i) for i, pk in enumerate(p_of(s)))
    return (sp.diff(L, ea) - sp.diff(L, eb)).subs({ea: e, eb: e})


def symbolic() -> Result:
    """Tied rows at e_a = e_b get equal gradients in SE&CE only: there the input part (P5 iii) and the
    output part (P2 ii) are both symmetric; removing either premise leaves a net force apart."""
    res = Result(ID, "symbolic", STATEMENT)
    half, tenth, al, be = sp.Rational(1, 2), sp.Rational(1, 10), sp.Rational(1, 5), sp.Rational(1, 3)
    cases = {  # (w_a, target distribution given the surface form of m in the input)
        "SE&CE": (half, lambda s: (al, al, 1 - 2 * al)),
        "SE&!CE": (tenth, lambda s: (2 * al * tenth, 2 * al * (1 - tenth), 1 - 2 * al)),
        "!SE&CE": (half, lambda s: (al, al, 1 - 2 * al) if s == "a" else (be, be, 1 - 2 * be)),
        "!SE&!CE": (half, lambda s: (al, 2 * al, 1 - 3 * al) if s == "a" else (2 * be, be, 1 - 3 * be)),
    }
    for q, (w, p) in cases.items():
        gap = _tied_gap(w, p)
        if q == "SE&CE":
            res.check("SE&CE: tied rows at e_a = e_b get equal gradients (they stay together)", sym.is_zero(gap))
        else:
            res.control(f"{q}: tied rows at e_a = e_b get equal gradients", not sym.nonzero_somewhere(gap))
    res.tol(symbolic="exact (sympy)")
    return res


def numeric(quick: bool = True) -> Result:
    res = Result(ID, "numeric", STATEMENT)
    s = quadrant_corpus()
    # The same protocol in quick and full runs: the predictions are about this training length.  Trained
    # longer (4000 steps) tied transformers catch up on some seeds and bilinear SE&!CE output rows drift
    # below the "apart" threshold, so a longer run would test a different claim.
    steps = STEPS
    res.number(steps=steps, seeds=SEEDS, archs=list(ARCHS), train=TRAIN, shrink=SHRINK, apart=APART,
               bayes_ce=s.truth.cross_entropy())
    res.tol(shrink=SHRINK, apart=APART)
    V = s.corpus.vocab
    for q, ((na, nb), (se, ce)) in QUADRANTS.items():
        a, b = V.index(na), V.index(nb)
        got_se, _ = s.truth.semantic_equivalent(a, b)
        got_ce = s.truth.conditional_equivalent(a, b)
        res.check(f"{q}: ground truth of ({na}, {nb}) is SE={se}, CE={ce}", got_se is se and got_ce == ce,
                  [got_se, got_ce])
    k, n_seeds = needed(len(SEEDS)), len(SEEDS)
    res.tol(seeds_needed=f"{k}/{n_seeds} (one-sided sign test, alpha {ALPHA})")
    matched, controls_failed, n = 0, 0, 0
    for arch in ARCHS:
        ms = [measure(s, arch, seed, steps) for seed in SEEDS]
        n += 2 * n_seeds
        res.number(**{f"{arch} loss untied/tied": [m["loss"] for m in ms]})
        for q in QUADRANTS:
            res.number(**{f"{arch} {q}": [m[q] for m in ms]})
            # reported, not checked: the theory forces no pair-specific cost when d leaves room (docs/theory.md)
            res.number(**{f"{arch} {q} tied excess cost > 0": f"{sum(m[q]['excess'] > 0 for m in ms)}/{n_seeds}"})
            counts = _counts(PREDICTIONS[q], [m[q] for m in ms])
            for role, count in counts.items():
                res.check(f"{arch} {q}: {role} {PREDICTIONS[q][role]}", count >= k, f"{count}/{n_seeds}")
            matched += all(c >= k for c in counts.values())
            # the opposite quadrant's prediction must fail the same test on this pair's measurements
            fits = all(c >= k for c in _counts(PREDICTIONS[OPPOSITE[q]], [m[q] for m in ms]).values())
            controls_failed += not fits
            res.control(f"{arch} {q}: the {OPPOSITE[q]} prediction fits this pair", fits)
    res.number(matched=f"{matched}/{len(ARCHS) * len(QUADRANTS)}",
               controls_failed=f"{controls_failed}/{len(ARCHS) * len(QUADRANTS)}", runs=n)
    return res
