"""The experiments layer: specs, sweeps, and the paper's reproduction.

The face of the layer; each name below lives in one module::

    spec         load_spec, expand, Spec, run_id     a TOML spec becomes resolved run configs
    grid         (the grid rule of a spec)           sections, axes, normalisation
    corpora      GENERATORS, generator_function      the generators a spec's [corpus] may name
    runner       sweep, load_results, executor       every run of a spec, resumable
    worker       run_one                             one run, in a worker process
    results      Claim, Group, load_groups           saved runs as the claims read them
    plan         Plan, QUICK, FULL, EXPERIMENTS,     what `tying reproduce paper` runs, its specs
                 plan_specs                          and its time budget
    xor_claims   (the XOR claims)                    criteria fixed before the runs
    split_claims (the claims across data splits)     splits, contrast, contrast-long
    lm_claims    (the twins and quadrant claims)     judged by theory.p6_quadrants' predictions
    report       write_report                        figures, REPORT.md, claims.json
    reproduce    reproduce_paper                     the orchestration
    variants_plan VARIANTS, VariantPlan, V_QUICK,    what `tying reproduce variants` runs, its specs
                 V_FULL, variant_specs
    variants_claims (the variants' claims)           the price of tying, P7's predictions
    reproduce_variants reproduce_variants            its orchestration and report
    audit        write_audit, corpus_from_source     `tying audit`'s files; CORPUS -> Corpus (the text hook)
    analysis     analyze                             any model's embedding tables: distances, claims, figure
    cli          main                                the ``tying`` command (with ``commands/``)

The command line (``cli``, ``commands/``) sits on top of this layer: no module here imports it.
Importing the face loads numpy and numba (as ``tying --help`` already does) but not sympy or
matplotlib: the theory and the figures load inside the functions that need them.
"""
from __future__ import annotations

from .analysis import analyze
from .audit import corpus_from_source, write_audit
from .corpora import GENERATORS, generator_function
from .plan import EXPERIMENTS, FULL, QUICK, Plan, plan_specs
from .report import write_report
from .reproduce import reproduce_paper
from .reproduce_variants import reproduce_variants
from .results import Claim, Group, load_groups
from .runner import executor, load_results, sweep
from .spec import Spec, expand, load_spec, run_id
from .variants_plan import V_FULL, V_QUICK, VARIANTS, VariantPlan, variant_specs
from .worker import run_one

__all__ = [
    "load_spec", "expand", "Spec", "run_id",
    "GENERATORS", "generator_function",
    "sweep", "load_results", "executor", "run_one",
    "Claim", "Group", "load_groups",
    "Plan", "QUICK", "FULL", "EXPERIMENTS", "plan_specs",
    "write_report", "reproduce_paper",
    "VARIANTS", "VariantPlan", "V_QUICK", "V_FULL", "variant_specs", "reproduce_variants",
    "write_audit", "corpus_from_source",
    "analyze",
]
