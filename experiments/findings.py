"""What the XOR runs did, where a learning claim fails: per-run outcomes for the claims' notes, and the
findings that the report's Learning section states.

A run that has not learned either ran out of steps (its training-string accuracy still moving at the end)
or has *stalled*: its accuracy has stayed within ``FLAT_TOL`` of its final value for at least the second
half of its steps.  A stalled run sits on a plateau; it is not under-trained in the sense that more of
the same steps would finish the job.  The 600,000-step runs repeat the 150,000-step runs of the same seed
bit for bit over their first 150,000 steps (a counted claim checks it), so they show directly which
runs that had not learned at the paper's length were under-trained and which were stuck.

These statements were read from the runs after they were made: the report prints them as findings, not
as registered claims.
"""
from __future__ import annotations

import numpy as np

FLAT_TOL = 0.01


def flat_since(steps: np.ndarray, acc: np.ndarray, tol: float = FLAT_TOL) -> float:
    """The first evaluated step from which the accuracy stays within ``tol`` of its final value."""
    off = np.flatnonzero(np.abs(np.asarray(acc) - acc[-1]) > tol)
    return float(steps[off[-1] + 1] if len(off) else steps[0])


def first_at(steps: np.ndarray, acc: np.ndarray, bar: float) -> float:
    hit = np.flatnonzero(np.asarray(acc) >= bar)
    return float(steps[hit[0]]) if len(hit) else np.inf


def stalled(run, bar: float) -> bool:
    """Not learned, and flat since at most half of the run's steps."""
    return bool(run.fit_acc[-1] < bar and flat_since(run.fit_steps, run.fit_acc) <= run.final_step / 2)


def outcome(run, bar: float) -> str:
    """One run's end, in a few words: its final training-string accuracy, and when it learned or since when
    it has not moved."""
    acc = float(run.fit_acc[-1])
    if acc >= bar:
        return f"{acc:.3f} (learned at {first_at(run.fit_steps, run.fit_acc, bar):,.0f})"
    since = flat_since(run.fit_steps, run.fit_acc)
    return f"{acc:.3f} (" + ("still moving at the end)" if since >= run.final_step else f"flat since {since:,.0f})")


def outcomes_note(untied: dict, tied: dict, label: str = "seed") -> str:
    """Per key (a seed, or a split), the untied and the tied run's ends: ``untied`` and ``tied`` map the key
    to (its run, the accuracy that counts as learned there)."""
    parts = []
    for side, runs in (("untied", untied), ("tied", tied)):
        parts.append(f"{side}: " + ", ".join(f"{label} {k} {outcome(r, bar)}" for k, (r, bar) in sorted(runs.items())))
    return "; ".join(parts)


def paired_counts(u: np.ndarray, t: np.ndarray) -> str:
    """The four outcomes of paired learned-or-not flags, untied ``u`` against tied ``t``."""
    return (f"untied only {int((u & ~t).sum())}, tied only {int((t & ~u).sum())}, both {int((u & t).sum())}, "
            f"neither {int((~u & ~t).sum())}")


# ------------------------------------------------------------------------------ the Learning section
def stall_finding(cells: dict) -> str:
    """``cells``: {name: [(run, bar), ...]} of the runs at one length. How many of the runs that did not
    learn had stalled, and at which accuracies."""
    missed = [(r, bar) for runs in cells.values() for r, bar in runs if r.fit_acc[-1] < bar]
    if not missed:
        return ""
    stuck = [float(r.fit_acc[-1]) for r, bar in missed if stalled(r, bar)]
    steps = missed[0][0].final_step
    plateaus = ", ".join(f"{a:.3f}" for a in sorted(set(np.round(stuck, 3))))
    return (f"Of the {len(missed)} transformer runs of {steps:,} steps that did not learn, {len(stuck)} had stalled "
            f"(training-string accuracy within {FLAT_TOL} of its final value for at least the last half of the "
            f"run)" + (f", at {plateaus}" if stuck else "") + ".")


def rescued_finding(short: dict, long: dict) -> str:
    """``short``, ``long``: {setting: {seed: (run, bar)}} of the same cells at two lengths. Per setting, how
    many runs that had not learned at the short length learned with the extra steps."""
    parts = []
    for setting, runs in short.items():
        later = long.get(setting, {})
        missed = [s for s, (r, bar) in runs.items() if r.fit_acc[-1] < bar and s in later]
        if not missed:
            continue
        late = sum(later[s][0].fit_acc[-1] >= later[s][1] for s in missed)
        parts.append(f"{setting} {late} of {len(missed)}")
    if not parts:
        return ""
    steps = (next(iter(next(iter(short.values())).values()))[0].final_step,
             next(iter(next(iter(long.values())).values()))[0].final_step)
    return (f"Runs that had not learned at {steps[0]:,} steps and learned by {steps[1]:,} (the same seed, the "
            f"same first {steps[0]:,} steps): " + ", ".join(parts) + ".")


def delay_finding(pairs: list, what: str) -> str:
    """``pairs``: [(untied run, tied run, bar)] of one setting, paired by seed or split. Where both learned,
    how much later the tied run did."""
    both = [(first_at(u.fit_steps, u.fit_acc, bar), first_at(t.fit_steps, t.fit_acc, bar)) for u, t, bar in pairs]
    both = [(a, b) for a, b in both if np.isfinite(a) and np.isfinite(b)]
    if not both:
        return ""
    delay = np.array([b - a for a, b in both])
    return (f"{what}: where both learned ({len(both)} of {len(pairs)} pairs), tied learned later in "
            f"{int((delay > 0).sum())}, by a median of {np.median(delay):,.0f} steps (untied at a median of "
            f"{np.median([a for a, _ in both]):,.0f}).")


# ------------------------------------------------------------------------------ where a parity plateau errs
def parity_cells(tokens: np.ndarray, tgt_seq: np.ndarray, tgt_sym: np.ndarray, tgt_w: np.ndarray,
                 pred: np.ndarray, ones: np.ndarray, bits: int) -> dict:
    """{(ones among the other bits, masked bit): (accuracy, Bayes accuracy)} over a parity population.

    ``tokens`` (rows, T): one masked context per row; targets n sit in row ``tgt_seq[n]`` with weight
    ``tgt_w[n]`` (p(context) p(target | context)); ``pred[n]`` is the model's prediction at that target's
    row; ``ones``: the surface symbols of bit 1.  The Bayes prediction of a row is its heaviest target."""
    other = np.isin(tokens[:, :bits], ones).sum(1)[tgt_seq]
    bit = np.isin(tgt_sym, ones).astype(int)
    best = np.zeros(tokens.shape[0])
    np.maximum.at(best, tgt_seq, tgt_w)
    heavy = np.zeros(len(tgt_w), bool)  # the first heaviest target of each row counts once for Bayes
    seen = np.zeros(tokens.shape[0], bool)
    for n in np.flatnonzero(tgt_w == best[tgt_seq]):
        if not seen[tgt_seq[n]]:
            heavy[n] = seen[tgt_seq[n]] = True
    out = {}
    for k, b in sorted(set(zip(other.tolist(), bit.tolist()))):
        rows = np.unique(tgt_seq[(other == k) & (bit == b)])
        sel = np.isin(tgt_seq, rows)  # every target of those contexts: the cell's whole probability
        total = tgt_w[sel].sum()
        out[k, b] = (float(tgt_w[sel & (pred == tgt_sym)].sum() / total), float(tgt_w[sel & heavy].sum() / total))
    return out


def plateau_text(cells: dict, tol: float = 0.05) -> str:
    """Where a run falls short of Bayes by more than ``tol``, cell by cell, in words."""
    bad = [(k, b) for (k, b), (acc, bayes) in cells.items() if acc < bayes - tol]
    if not bad:
        return "at Bayes in every cell"
    parts = []
    for b in (0, 1):
        ks = sorted(k for k, bb in bad if bb == b)
        if ks:
            span = f"{ks[0]}" if len(ks) == 1 else (f"{ks[0]}–{ks[-1]}" if ks == list(range(ks[0], ks[-1] + 1))
                                                      else ", ".join(map(str, ks)))
            parts.append(f"the masked bit is {b} and {span} of the other bits are 1")
    return "short of Bayes where " + ", and where ".join(parts)


# ------------------------------------------------------------------------------ failing claims by run length
LONGER = {"xor": "xor-long", "contrast": "contrast-long"}  # the same claims at 4x the paper's steps
KINDS = {
    "rescued": "holds at 4x the steps: under-trained at the paper's 150,000",
    "stands": "fails at 4x the steps too",
    "long": "a 600,000-step claim",
    "no longer run": "no longer run of these cells",
}


def longer_twin(c, claims: list):
    """The same claim in the 600,000-step experiment (its text names the length where it states one)."""
    if c.experiment not in LONGER:
        return None
    text = c.claim.replace("150,000", "600,000")
    return next((o for o in claims if o.experiment == LONGER[c.experiment] and o.claim == text and not o.reference),
                None)


def failure_kinds(claims: list) -> list:
    """[(claim, kind, its 600,000-step twin or None)] for every failing counted claim, kind a key of KINDS:
    whether 4x the steps makes it pass (so its 150,000-step failure is under-training), keeps it failing
    (a finding that more of the same steps does not change), or cannot say (no longer run).  None at all
    without 600,000-step claims (the quick mode): there is nothing to set the failures beside."""
    if not any(c.experiment in LONGER.values() for c in claims):
        return []
    out = []
    for c in claims:
        if c.reference or c.passed:
            continue
        twin = longer_twin(c, claims)
        if c.experiment in LONGER.values():
            kind = "long"
        elif twin is None:
            kind = "no longer run"
        else:
            kind = "rescued" if twin.passed else "stands"
        out.append((c, kind, twin))
    return out
