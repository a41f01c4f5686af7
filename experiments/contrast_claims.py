"""The contrast experiments: how often the transformer reaches Bayes, tied and untied, across data splits.

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
from tying.figures import mean_ci

from .results import Claim
from .xor_claims import LEARNED_TOL, _rate, final_fit, groups_settings, learned


def pooled(groups: dict) -> dict:
    """{(setting, arch, tied): {(split seed, run seed): (learned, final training-string accuracy)}}."""
    names = groups_settings(groups)
    out: dict = {}
    for (ci, arch, tied), g in groups.items():
        split = g.corpus.provenance["parameters"]["split_seed"]
        cell = out.setdefault((names[ci], arch, tied), {})
        for r, ok, acc in zip(g.runs, learned(g), final_fit(g)):
            cell[(split, r.train_cfg.seed)] = (bool(ok), float(acc))
    return out


def contrast_claims(groups: dict, experiment: str, steps: int) -> list:
    claims = []
    cells = pooled(groups)
    for (setting, arch, tied), runs in sorted(cells.items()):
        ok = np.array([v[0] for v in runs.values()])
        claims.append(Claim(
            experiment, f"{setting} {arch} {'tied' if tied else 'untied'}: learns within {steps:,} steps, across "
            f"{len({k[0] for k in runs})} random splits", f"acc_train >= the split's Bayes - {LEARNED_TOL}; "
            "rate reported", list(ok.astype(float)), True, reference=True, interval=_rate(int(ok.sum()), ok.size)))
    for (setting, arch, tied), untied in sorted(cells.items()):
        if tied or (setting, arch, True) not in cells or setting not in ("DH", "NDH"):
            continue
        both = sorted(set(untied) & set(cells[(setting, arch, True)]))
        u = np.array([untied[k][0] for k in both])
        t = np.array([cells[(setting, arch, True)][k][0] for k in both])
        claims.append(Claim(
            experiment, f"{setting} {arch}: untied learns on more splits than tied (paired by split, {steps:,} "
            "steps)", "#(untied learns, tied not) > #(tied learns, untied not)", list(u.astype(float) - t),
            bool((u & ~t).sum() > (t & ~u).sum()),
            note=f"untied only {int((u & ~t).sum())}, tied only {int((t & ~u).sum())}, both {int((u & t).sum())}, "
            f"neither {int((~u & ~t).sum())}"))
        diff = np.array([untied[k][1] - cells[(setting, arch, True)][k][1] for k in both])
        _, lo, hi = mean_ci(diff)
        claims.append(Claim(
            experiment, f"{setting} {arch}: tied falls short of untied in training-string accuracy (paired by "
            f"split, {steps:,} steps)", "mean(acc_untied - acc_tied) > 0", list(diff), bool(diff.mean() > 0),
            interval=f"95% bootstrap CI [{lo:.3f}, {hi:.3f}]"))
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
            out.append(_rate(sum(ok), len(ok)) if ok else "")
        rows.append(f"| {setting} | {arch} {'tied' if tied else 'untied'} | " + " | ".join(out) + " |")
    return rows
