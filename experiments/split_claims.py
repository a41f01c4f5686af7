"""The experiments across data splits: when a run learns on each split (``splits``), and how often the transformer
reaches Bayes, tied and untied (``contrast``, ``contrast-long``).

The paper ran one data split; ``contrast`` and ``contrast-long`` run the transformer on random splits of the
paper's shape, DH and NDH, tied and untied, one seed per split, at the paper's 150,000 steps and at 4x.
A tied and an untied run of the same split and seed start from the same values in every tensor they share,
so the comparison is paired by split.  The criteria, fixed before these runs were made:

* reference rows: the rate of runs that learn (final training-string accuracy within ``LEARNED_TOL`` of
  the split's own Bayes accuracy) for each setting and model, with a 95% Wilson interval;
* counted, where the DH is broken (DH, NDH): untied learns on more splits than tied (paired by split), and
  the mean paired difference of final training-string accuracy, untied minus tied, is > 0.

``rates_table`` puts every learning rate side by side: the paper's split (the XOR grids, 5 seeds) and the
random splits, at both lengths.
"""
from __future__ import annotations

import numpy as np
from tying.figures import group_permutation_test, mean_ci

from .findings import (delay_finding, outcomes_note, paired_counts, parity_cells, plateau_text, rescued_finding,
                       stall_finding)
from .results import Claim, Group
from .xor_claims import LEARNED_TOL, bayes_train, final_fit, first_learned, groups_settings, learned, rate_text


def pooled(groups: dict) -> dict:
    """{(setting, arch, tied): {(split seed, run seed): (learned, final training-string accuracy, run, the
    accuracy that counts as learned)}}."""
    names = groups_settings(groups)
    out: dict = {}
    for (ci, arch, tied), g in groups.items():
        split = g.corpus.provenance["parameters"]["split_seed"]
        bar = bayes_train(g.corpus) - LEARNED_TOL
        cell = out.setdefault((names[ci], arch, tied), {})
        for r, ok, acc in zip(g.runs, learned(g), final_fit(g)):
            cell[(split, r.train_cfg.seed)] = (bool(ok), float(acc), r, bar)
    return out


def contrast_claims(groups: dict, experiment: str, steps: int) -> list:
    claims = []
    cells = pooled(groups)
    for (setting, arch, tied), runs in sorted(cells.items()):
        ok = np.array([v[0] for v in runs.values()])
        claims.append(Claim(
            experiment, f"{setting} {arch} {'tied' if tied else 'untied'}: learns within {steps:,} steps, across "
            f"{len({k[0] for k in runs})} random splits", f"acc_train >= the split's Bayes - {LEARNED_TOL}; "
            "rate reported", list(ok.astype(float)), True, reference=True,
            interval=rate_text(int(ok.sum()), ok.size)))
    for (setting, arch, tied), untied in sorted(cells.items()):
        if tied or (setting, arch, True) not in cells or setting not in ("DH", "NDH"):
            continue
        tied_runs = cells[(setting, arch, True)]
        both = sorted(set(untied) & set(tied_runs))
        u = np.array([untied[k][0] for k in both])
        t = np.array([tied_runs[k][0] for k in both])
        ends = outcomes_note(*({k[0]: runs[k][2:] for k in both} for runs in (untied, tied_runs)), label="split")
        claims.append(Claim(
            experiment, f"{setting} {arch}: untied learns on more splits than tied (paired by split, {steps:,} "
            "steps)", "#(untied learns, tied not) > #(tied learns, untied not)", list(u.astype(float) - t),
            bool((u & ~t).sum() > (t & ~u).sum()),
            note=f"{paired_counts(u, t)}; {ends}"))
        diff = np.array([untied[k][1] - tied_runs[k][1] for k in both])
        _, lo, hi = mean_ci(diff)
        claims.append(Claim(
            experiment, f"{setting} {arch}: tied falls short of untied in training-string accuracy (paired by "
            f"split, {steps:,} steps)", "mean(acc_untied - acc_tied) > 0", list(diff), bool(diff.mean() > 0),
            interval=f"95% bootstrap CI [{lo:.3f}, {hi:.3f}]", note=ends))
    return claims


def rates_table(paper: dict, paper_long: dict, splits: dict, splits_long: dict, arch: str = "transformer") -> list:
    """Markdown rows: for each setting and tied/untied, the rate of runs that learn, with a 95% Wilson
    interval, on the paper's split and across random splits, at the paper's steps and at 4x."""
    columns = [("paper's split", paper), ("paper's split", paper_long), ("random splits", splits),
               ("random splits", splits_long)]
    cells, heads = [], []
    for where, groups in columns:
        if not groups:
            continue
        c = pooled(groups)
        steps = next(iter(groups.values())).runs[0].final_step
        heads.append(f"{where}, {steps:,} steps")
        cells.append(c)
    if not cells:
        return []
    rows = ["| setting | model | " + " | ".join(heads) + " |", "|---|---|" + "---|" * len(heads)]
    keys = sorted({(s, t) for c in cells for (s, a, t) in c if a == arch and s in ("DH", "NDH", "YDH")},
                  key=lambda k: (("DH", "NDH", "YDH").index(k[0]), k[1]))  # untied first
    for setting, tied in keys:
        out = []
        for c in cells:
            runs = c.get((setting, arch, tied))
            ok = [v[0] for v in runs.values()] if runs else []
            out.append(rate_text(sum(ok), len(ok)) if ok else "")
        rows.append(f"| {setting} | {arch} {'tied' if tied else 'untied'} | " + " | ".join(out) + " |")
    return rows


# ------------------------------------------------------------------------------ the splits experiment
def split_first_steps(split_groups: dict, paper_groups: dict, run_seeds) -> dict:
    """{arch: {label: first-learned steps per seed}} for the random splits and the paper's split
    (DH untied), the paper's taken from the XOR grid's runs of the same seeds."""
    out: dict = {}
    for (ci, arch, tied), g in sorted(split_groups.items()):
        label = f"split {g.corpus.provenance['parameters']['split_seed']}"
        out.setdefault(arch, {})[label] = first_learned(g)
    names = groups_settings(paper_groups) if paper_groups else []
    for (ci, arch, tied), g in paper_groups.items():
        if names[ci] == "DH" and not tied and arch in out:
            keep = [i for i, r in enumerate(g.runs) if r.train_cfg.seed in set(run_seeds)]
            out[arch]["paper split"] = first_learned(Group(g.corpus, [g.runs[i] for i in keep]))
    return out


def split_claims(first: dict, steps: int, eval_every: int) -> list:
    claims = []
    for arch, by_split in first.items():
        labels = list(by_split)
        censored = {k: np.where(np.isinf(v), steps + eval_every, v) for k, v in by_split.items()}
        first_steps = np.concatenate([censored[k] for k in labels])
        group = np.concatenate([[i] * len(censored[k]) for i, k in enumerate(labels)])
        p = group_permutation_test(first_steps, group, n_perm=10000, seed=0)
        p_learned = group_permutation_test(np.isfinite(np.concatenate([by_split[k] for k in labels])), group,
                                           n_perm=10000, seed=0)
        claims.append(Claim(
            "splits", f"{arch} (DH, untied): whether and when it learns within {steps:,} steps depends on which "
            "strings are held out", "permutation test of the split labels on the first step that has "
            "learned (never: censored), p < 0.05", [p], p < 0.05,
            note=f"{len(labels)} splits x {len(first_steps) // max(len(labels), 1)} seeds; the same test on "
            f"learned or not: p = {p_learned:.3g}; {_disagree(by_split)}"))
        rand = np.concatenate([v for k, v in by_split.items() if k != "paper split"])
        k = int(np.isfinite(rand).sum())
        claims.append(Claim("splits", f"{arch} (DH, untied): runs on random splits that learn within "
                            f"{steps:,} steps", "rate of runs that reach Bayes - 0.02 at some evaluated step, "
                            "reported", list(np.isfinite(rand).astype(float)), True,
                            reference=True, interval=rate_text(k, rand.size)))
        if "paper split" in by_split:
            mine = by_split["paper split"]
            means = {lab: float(np.mean(censored[lab])) for lab in labels}
            rank = sum(means[lab] < means["paper split"] for lab in labels if lab != "paper split")
            claims.append(Claim(
                "splits", f"{arch} (DH, untied): the paper's split against the random ones",
                "shown: its runs that learn, and how many random splits learn sooner on average",
                list(np.isfinite(mine).astype(float)), True, reference=True,
                interval=rate_text(int(np.isfinite(mine).sum()), mine.size),
                note=f"{rank} of {len(labels) - 1} random splits learn sooner (mean first step, never censored "
                f"at {steps + eval_every:,}); first steps on the paper's split: "
                + ", ".join("never" if np.isinf(s) else f"{s:,.0f}" for s in mine)))
    return claims


def _disagree(by_split: dict) -> str:
    """How much of the spread the seeds make on their own: the splits whose seeds disagree on learning."""
    mixed = [k for k, v in by_split.items() if 0 < np.isfinite(v).sum() < len(v)]
    return (f"on {len(mixed)} of {len(by_split)} splits the seeds disagree on whether the run learns, so the "
            "seed matters beside the split")


# ------------------------------------------------------------------------------ findings for the Learning section
def learning_findings(short: list, long: list, arch: str = "transformer") -> list:
    """Sentences read from the runs (not registered claims): how many runs that did not learn had stalled, at
    each length; which of the paper-length runs that had not learned did with 4x the steps; and, where the
    DH is broken, how much later tied runs learned than untied ones.  ``short`` and ``long``: the groups of
    the experiments at the paper's length and at 4x (the XOR grid and the contrast runs), same seeds."""
    def cells(groups_list):
        out: dict = {}
        for groups in groups_list:
            for (setting, a, tied), runs in pooled(groups).items():
                if a == arch:
                    out.setdefault(f"{setting} {'tied' if tied else 'untied'}", {}).update(
                        {k: (v[2], v[3]) for k, v in runs.items()})
        return out
    s, l = cells(short), cells(long)
    lines = [stall_finding({k: list(v.values()) for k, v in c.items()}) for c in (s, l) if c]
    if s and l:
        lines.append(rescued_finding(s, l))
    for setting in ("DH", "NDH"):
        u, t = l.get(f"{setting} untied", {}), l.get(f"{setting} tied", {})
        pairs = [(u[k][0], t[k][0], u[k][1]) for k in sorted(set(u) & set(t))]
        lines.append(delay_finding(pairs, f"{setting} {arch}, paired by seed and split"))
    return [x for x in lines if x]


NEAR_MISS = 0.1  # a run this close to Bayes without learning sits on a partial solution worth locating


def plateau_findings(groups: dict, arch: str = "transformer") -> list:
    """For every run of ``groups`` (the paper's split) that ended within NEAR_MISS of Bayes without learning:
    where, on the training population, it falls short, by the number of ones among the other bits and
    the masked bit's value."""
    from tying.generators import enumerate_population

    names = groups_settings(groups)
    where: dict = {}  # the same shortfall, found in several runs, is one line
    for (ci, a, tied), g in sorted(groups.items()):
        bayes = bayes_train(g.corpus)
        near = [r for r in g.runs if a == arch and bayes - NEAR_MISS <= r.fit_acc[-1] < bayes - LEARNED_TOL]
        if not near:
            continue
        pop = enumerate_population(g.corpus, "train")
        bits = int(g.corpus.provenance["parameters"]["bits"])
        for r in near:
            m = r.model()
            pred = (m.hidden(pop) @ m.E_out().T + m.b_out()).argmax(1)
            cells = parity_cells(pop.tokens[0], pop.tgt_seq, pop.tgt_sym, pop.tgt_w, pred, g.corpus.real.variants[1],
                                 bits)
            where.setdefault(plateau_text(cells), []).append(
                f"{names[ci]} {'tied' if tied else 'untied'} seed {r.train_cfg.seed} at {r.fit_acc[-1]:.3f} "
                f"(Bayes {bayes:.3f})")
    steps = next(iter(groups.values())).runs[0].final_step if groups else 0
    return [f"{arch}, {steps:,} steps, {len(runs)} run(s): {text[0].lower() + text[1:]} ({'; '.join(runs)})"
            for text, runs in sorted(where.items(), key=lambda kv: -len(kv[1]))]


# ------------------------------------------------------------------------------ more seeds on the paper's split
def pool_seeds(grid: dict, more: dict) -> dict:
    """The xor-seeds cells with the XOR grid's runs of the same setting, arch and tying put in front:
    {(corpus index of ``more``, arch, tied): Group of every seed}."""
    names, grid_names = groups_settings(more), groups_settings(grid)
    out = {}
    for (ci, arch, tied), g in sorted(more.items()):
        first = next((h.runs for (cj, a, t), h in grid.items()
                      if grid_names[cj] == names[ci] and a == arch and t == tied), [])
        runs = sorted(first + g.runs, key=lambda r: r.train_cfg.seed)
        out[ci, arch, tied] = Group(g.corpus, runs)
    return out


def post_hoc(claims: list, why: str) -> list:
    """The same criteria on more runs, chosen after earlier verdicts were seen: shown beside, never counted."""
    for c in claims:
        c.reference = True
        c.claim = f"{c.claim} [{why}]"
    return claims
