"""`tying reproduce paper`: the paper's experiments, their figures, and a report of claims.

The experiment families, each one sweep (``experiments.runner``) into its own folder:

1. ``xor``: parity-7 learned by masked prediction in the paper's three settings
   (DH: zero 0.1/0.9, one 0.5/0.5; NDH: zero 1/0, one 0.1/0.9; YDH: zero 1/0,
   one 0.5/0.5), for the paper-small transformer, mixer and the bilinear model,
   tied and untied, over five seeds, with the paper's AdamW and cosine schedule,
   on the paper's own data split (``parity_corpus(paper_split=True)``).
2. ``xor-long`` (beyond the paper): the transformer's grid at 4x the steps, to
   see each claim once learning has finished.
   ``xor-seeds`` (beyond the paper): the transformer's DH and NDH cells at 10 more seeds, pooled with
   the grid's 5; added after the grid's NDH verdicts were seen, so its claims are shown, not counted.
3. ``splits`` (beyond the paper): DH, untied, on random splits of the paper's
   shape, against the paper's split: how much learning depends on which strings
   are held out.
4. ``contrast`` and ``contrast-long`` (beyond the paper): the transformer, DH and NDH, tied and
   untied, on random splits at 150,000 and 600,000 steps: how often each learns across splits.
5. ``twins``: the paper's BookCorpus experiment made offline: on ``toy-english``
   the most frequent words get a twin swapped in with p = 0.5 (SE and CE), and
   twin pairs are compared with random pairs of common words.
6. ``quadrants`` (beyond the paper): one pair per relation quadrant, tied vs untied.

Every claim is evaluated from the saved runs and written to ``REPORT.md`` with
its criterion, the measured mean +- sd over seeds (and a 95% interval where it
states a rate or a paired difference), and pass or fail; the XOR criteria are
in ``experiments.xor_claims``.  Quick mode runs the paper's full protocol on
fewer cells and seeds (fixed, not timed, so a quick run is as reproducible as a
full one).

This module owns the orchestration only (``reproduce_paper``: run each experiment's sweep, resuming,
then evaluate the claims, draw the figures and write the report).  The rest lives by topic:

=========================  ====================================================================
``experiments.plan``       ``Plan``, ``QUICK``, ``FULL``, ``EXPERIMENTS``, the spec builders and
                           the time budget of each plan
``experiments.xor_claims`` the XOR claims and their criteria
``experiments.split_claims`` the claims across data splits (splits, contrast, contrast-long)
``experiments.lm_claims``  the twins and quadrant claims (P6's predicted signs from theory)
``experiments.report``     the figures and ``REPORT.md`` / ``claims.json``
=========================  ====================================================================
"""
from __future__ import annotations

import time
from pathlib import Path

from . import runner
from . import xor_claims as X
from .lm_claims import predicted, quadrant_values, twins_claims
from .plan import EXPERIMENTS, FULL, QUICK, Plan, plan_specs
from .report import split_figures, write_report, xor_figures
from .results import Claim, load_groups
from .spec import load_spec
from .split_claims import (contrast_claims, learning_findings, plateau_findings, pool_seeds, post_hoc, rates_table,
                           split_claims, split_first_steps)
from .worker import finished


def warm_up(specs, progress: bool = True) -> None:
    """Compile (or load) the kernels of every architecture these specs train, once, here, so the worker
    processes find a filled numba cache instead of each compiling the same code at the same time.

    The kernels compile per architecture (``models.dispatch_kernels``), so only those the specs use."""
    import sys

    from tying.generators import parity_corpus
    from tying.models import ModelConfig, TrainConfig, compiled, train

    names = sorted({run["model"]["arch"] for spec in specs for run in load_spec(spec).runs})
    cold = [a for a in names if not compiled(a)]
    if progress and cold:
        print(f"compiling kernels for {', '.join(cold)} (first run only)...", file=sys.stderr, flush=True)
    corpus = parity_corpus(bits=2, splits=(0.5, 0.5, 0.0))
    for arch in cold:
        train(corpus, ModelConfig(arch=arch), TrainConfig(steps=2, record_every=1, eval_every=1), progress=False)


def reproduce_paper(out, quick: bool = False, workers=None, dask=None, progress: bool = True,
                    only=EXPERIMENTS, plan: Plan | None = None) -> Path:
    """Run the experiments (resuming what is done), then write figures and the report; ``plan``
    overrides the quick or full plan (for smaller studies and tests)."""
    out = Path(out)
    plan = plan or (QUICK if quick else FULL)
    t0 = time.time()
    specs = {k: v for k, v in plan_specs(plan).items() if k in only}
    warm_up(specs.values(), progress)
    claims, timing = [], {"runs": 0, "reused": 0, "run_seconds": 0.0}
    for name, spec in specs.items():
        runs = out / "sweeps" / name / "runs"
        timing["reused"] += sum(finished(runs / rid) is not None for rid in load_spec(spec).ids)
        summaries = runner.sweep(spec, out / "sweeps" / name, workers=workers, dask=dask, progress=progress)
        timing["runs"] += len(summaries)
        timing["run_seconds"] += sum(s.get("seconds", 0.0) for s in summaries)
        done = sum(s["status"] == "completed" for s in summaries)
        # a run that failed or diverged drops out of every claim below, so say so where it counts
        claims.append(Claim(name, "every run of the experiment completed", f"{len(summaries)} of {len(summaries)}",
                            [done], done == len(summaries),
                            note=", ".join(sorted({s["status"] for s in summaries} - {"completed"}))))
    figdir = out / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    figures, learning = [], []
    groups = {k: load_groups(out / "sweeps" / k, specs[k])
              for k in ("xor", "xor-long", "xor-seeds", "splits", "contrast", "contrast-long") if k in specs}
    for name, tag in (("xor", ""), ("xor-long", "-long")):
        if name in groups:
            claims += X.geometry_claims(groups[name], name) + X.accuracy_claims(groups[name], name, long=bool(tag))
            figures += xor_figures(groups[name], figdir, force=True, tag=tag)
            learning += X.learning_table(groups[name])[(2 if learning else 0):]
    if "xor" in groups and "xor-long" in groups:
        claims += X.long_consistency(groups["xor"], groups["xor-long"], plan.xor_steps)
    if "xor" in groups and groups.get("xor-seeds"):
        more = pool_seeds(groups["xor"], groups["xor-seeds"])
        n = len(next(iter(more.values())).runs)
        claims += post_hoc(X.accuracy_claims(more, "xor-seeds"), f"{n} seeds; seeds {min(plan.extra_seeds)}-"
                           f"{max(plan.extra_seeds)} added after the 5-seed verdicts were seen, so not counted")
        learning += ["", f"The transformer on the paper's split with {n} seeds (the grid's and "
                     f"{len(plan.extra_seeds)} more, run after the grid's NDH verdicts were seen; not counted):",
                     ""] + rates_table(more, {}, {}, {})
    if "splits" in groups:
        first = split_first_steps(groups["splits"], groups.get("xor", {}), plan.split_run_seeds)
        claims += split_claims(first, plan.xor_steps, plan.xor_eval)
        figures += split_figures(first, plan.xor_steps, figdir, force=True)
    for name, steps in (("contrast", plan.xor_steps), ("contrast-long", plan.long_steps)):
        if name in groups:
            claims += contrast_claims(groups[name], name, steps)
    rates = rates_table(groups.get("xor", {}), groups.get("xor-long", {}), groups.get("contrast", {}),
                        groups.get("contrast-long", {}), arch=(plan.contrast_archs or plan.xor_archs)[0])
    if rates:
        learning += ["", ("How often runs reach Bayes on the training strings (runs that learned / runs, 95% Wilson "
                     "interval): on the paper's split, over seeds; on random splits of its shape, over splits "
                     "(one seed each)."), ""] + rates
    found = learning_findings([groups.get("xor", {}), groups.get("contrast", {})],
                              [groups.get("xor-long", {}), groups.get("contrast-long", {})],
                              arch=(plan.contrast_archs or plan.xor_archs)[0])
    if found:
        learning += ["", "Read from these runs after they were made (findings, not registered claims):", ""]
        learning += [f"- {x}" for x in found]
    near = [x for k in ("xor", "xor-long") for x in plateau_findings(groups.get(k, {}))]
    if near:
        learning += ["", "Runs that ended within 0.1 of Bayes without learning, on the paper's split: where they "
                     "fall short on the training population, by the masked bit's value and the number of ones "
                     "among the other bits (read after the runs, not a registered claim):", ""]
        learning += [f"- {x}" for x in near]
    if "twins" in specs:
        claims += twins_claims(load_groups(out / "sweeps" / "twins", specs["twins"]))
    if "quadrants" in specs:
        from tying.figures import plot_quadrants

        values, qc = quadrant_values(load_groups(out / "sweeps" / "quadrants", specs["quadrants"]),
                                     plan.quadrant_archs[0])
        claims += qc
        if values:
            signs = predicted()
            plot_quadrants(values, {q: signs[q] for q in values}, out=figdir / "quadrants", force=True,
                           title=f"{plan.quadrant_archs[0]}: final distance / median distance of random word pairs")
            figures.append("quadrants")
    timing["wall"] = time.time() - t0
    return write_report(out, plan, quick, claims, figures, timing, specs, force=True, learning=learning)
