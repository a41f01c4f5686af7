"""`tying reproduce variants`: tying variants compared where the DH holds and where it breaks.

Runs the sweeps of ``experiments.variants_plan`` (resuming), then writes ``REPORT.md`` (the claims of
``experiments.variants_claims`` with their criteria, a table of every corpus x variant, which variant removes
the cost of tying where the DH breaks), ``claims.json``, ``variants.csv`` (the table, for pandas) and the
figures: the price of tying against D, one line per variant, and the DH-broken pair's distances per variant.
"""
from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import numpy as np

from tying.core import atomic

from . import runner
from .report import cell, claim_table, figures_and_setup, write_files
from .reproduce import warm_up
from .results import Claim
from .variants_claims import (TIE_FREE, VARIANTS, load_variant_groups, no_worse_than_untied, p7_claims,  # noqa: I001
                              price_claims, removes_cost, variant_rows)
from .variants_plan import V_FULL, V_QUICK, VariantPlan, variant_specs

EXPERIMENTS = ("xor", "lm")
TITLES = {"xor": "XOR (the paper's settings and split, paper-small transformer)",
          "lm": "toy-english (a word split into two SE copies; the coin; an unrelated pair)"}


def reproduce_variants(out, quick: bool = False, workers=None, dask=None, progress: bool = True,
                       only=EXPERIMENTS, plan: VariantPlan | None = None) -> Path:
    out = Path(out)
    plan = plan or (V_QUICK if quick else V_FULL)
    t0 = time.time()
    specs = {k: v for k, v in variant_specs(plan).items() if k in only}
    warm_up(specs.values(), progress)
    claims, rows, seconds, n_runs = [], [], 0.0, 0
    for name, spec in specs.items():
        summaries = runner.sweep(spec, out / "sweeps" / name, workers=workers, dask=dask, progress=progress)
        n_runs += len(summaries)
        seconds += sum(s.get("seconds", 0.0) for s in summaries)
        done = sum(s["status"] == "completed" for s in summaries)
        claims.append(Claim(name, "every run of the experiment completed", f"{len(summaries)} of {len(summaries)}",
                            [done], done == len(summaries)))
    figdir = out / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    figures = []
    for name, spec in specs.items():
        groups = load_variant_groups(out / "sweeps" / name, spec)
        these = variant_rows(groups, name)
        rows += these
        claims += p7_claims(these, name) + price_claims(these, name)
        figures += _figures(these, name, figdir)
    timing = {"wall": time.time() - t0, "runs": n_runs, "run_seconds": seconds}
    return write_variant_report(out, plan, quick, claims, rows, figures, timing, specs)


def _figures(rows: list, experiment: str, figdir: Path) -> list:
    from tying.figures import plot_by_variant, plot_price

    written = []
    family = sorted({r["corpus"]: r["D"] for r in rows if r["corpus"].startswith("split")}.items(),
                    key=lambda kv: kv[1])
    if len(family) >= 2:
        prices = {}
        for v in VARIANTS:
            cells = [next((r for r in rows if r["corpus"] == c and r["variant"] == v), None) for c, _ in family]
            if all(cells):
                seeds = sorted(set.intersection(*(set(r["price_by_seed"]) for r in cells)))
                prices[v] = np.array([[r["price_by_seed"][s] for r in cells] for s in seeds])
        name = f"variants-{experiment}-price"
        plot_price([d for _, d in family], prices, out=figdir / name, force=True,
                   title="price of tying against DH violation D")
        written.append(name)
    else:  # one corpus per setting: the price per variant, a marker per corpus
        values = {}
        for r in rows:
            if r["variant"] != TIE_FREE:
                values.setdefault(r["variant"], {})[r["corpus"]] = np.array(list(r["price_by_seed"].values()))
        name = f"variants-{experiment}-price"
        plot_by_variant(values, "price of tying (nats over untied)", out=figdir / name, force=True, reference=0.0,
                        title=TITLES[experiment].split(" (")[0] + ": price of tying")
        written.append(name)
    for corpus in dict.fromkeys(r["corpus"] for r in rows):
        cells = [r for r in rows if r["corpus"] == corpus and r["broken_by_seed"]["in"]]
        if cells:
            name = f"variants-{experiment}-{_slug(corpus)}-distances"
            plot_by_variant({r["variant"]: {"input rows": list(r["broken_by_seed"]["in"].values()),
                                            "output rows": list(r["broken_by_seed"]["out"].values())}
                             for r in cells},
                            "final distance / median distance of reference pairs", out=figdir / name, force=True,
                            reference=1.0, title=f"{corpus}: the DH-broken pair")
            written.append(name)
    return written


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text).strip("-").replace("--", "-")


def _fmt(ci) -> str:
    m, lo, hi = ci
    return "" if np.isnan(m) else f"{m:.3g} [{lo:.3g}, {hi:.3g}]"


COLUMNS = ("experiment", "corpus", "D", "variant", "n", "price", "broken_in", "broken_out", "holding_in",
           "holding_out", "pair_in", "pair_out", "acc")


def write_variant_report(out: Path, plan: VariantPlan, quick: bool, claims: list, rows: list, figures: list,
                         timing: dict, specs: dict) -> Path:
    counted = [c for c in claims if not c.reference]
    lines = [f"# Tying variants where the DH holds and where it breaks — {'quick' if quick else 'full'} mode", "",
             (f"{sum(c.passed for c in counted)} of {len(counted)} claims pass (reference rows, marked *ref*, are "
             "not counted)."), "",
             (f"Wall time of this invocation: {timing['wall']:.0f} s. The {timing['runs']} runs took "
             f"{timing['run_seconds']:.0f} s of worker time in all."), "",
             ("The *price* of a variant is its exact loss on the whole training split minus the untied model's, "
             "paired by seed (nats). Distances are final distances over the median distance of reference pairs. "
             "The criteria were written before the runs; `experiments/variants_claims.py` states them in full. "
             "With few seeds, the intervals (95% bootstrap over seeds) are wide: read the means with them."), ""]
    lines += claim_table(claims)
    lines += ["", "## Which variant removes the cost of tying where the DH breaks", "",
              "By the criterion fixed before the runs (its DH cost, price where the DH breaks minus price where "
              "it holds, has an interval reaching 0 or below, where plain tying's lies above 0):", ""]
    for name in specs:
        per = removes_cost([r for r in rows if r["experiment"] == name])
        for corpus, vs in per.items():
            lines.append(f"- {name}, {corpus}: " + (", ".join(vs) if vs else "none"))
        if not per:
            lines.append(f"- {name}: plain tying has no DH cost to remove here, or there is no DH-holding corpus "
                         "to compare with")
    lines += ["", "That criterion also credits a variant that pays more everywhere, where the DH holds as well "
              "(a negative DH cost). Added after seeing the runs, a stricter reading: the variant's own price where "
              "the DH breaks has an interval reaching 0 or below (no worse than untied), and its price where the "
              "DH holds is shown beside it:", ""]
    for name in specs:
        for corpus, vs in no_worse_than_untied([r for r in rows if r["experiment"] == name]).items():
            lines.append(f"- {name}, {corpus}: " + (", ".join(vs) if vs else "none"))
    lines += ["", "## Every corpus and variant", "",
              "Mean [95% CI] over seeds; *broken*/*holding*: the DH-broken and DH-holding pair, *pair*: the "
              "quadrant's pair (coin: H, T; plain: dog, house); *in*/*out*: the input and output rows; *acc*: "
              "exact accuracy on the training split" + ("" if "xor" not in specs else
                                                        " (XOR: Bayes in the learned column)") + ".", ""]
    lines += ["| " + " | ".join(COLUMNS) + " | learned |", "|" + "---|" * (len(COLUMNS) + 1)]
    for r in rows:
        cells = [_fmt(r[k]) if isinstance(r[k], tuple) else (f"{r[k]:.3g}" if isinstance(r[k], float) else r[k])
                 for k in COLUMNS]
        learned = f"{r['learned'][0]}/{r['learned'][1]} (Bayes {r['bayes']:.3f})" if "learned" in r else ""
        lines.append("| " + " | ".join(cell(c) for c in cells) + f" | {learned} |")
    atomic.write_text(out / "variants.csv", _csv(rows))
    return write_files(out, lines + figures_and_setup(figures, plan, specs), claims)


def _csv(rows: list) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    head = ["experiment", "corpus", "D", "variant", "n"]
    stats = [k for k in COLUMNS if k not in head]
    w.writerow(head + [f"{k}_{p}" for k in stats for p in ("mean", "lo", "hi")])
    for r in rows:
        w.writerow([r[k] for k in head] + [f"{x:.6g}" for k in stats for x in r[k]])
    return buf.getvalue()
