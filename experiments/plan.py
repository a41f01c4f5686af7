"""The paper's experiments as plans and specs: what `tying reproduce paper` runs, and what it costs.

This module owns

* ``Plan``: the knobs of one reproduction (seeds, settings, architectures, steps, corpus sizes), and the
  two standard plans ``QUICK`` and ``FULL``, with their measured time budget beside them;
* ``EXPERIMENTS``: the experiment families, in the order they run;
* the corpora of the language-model experiments (``TWINS_TOPK``, ``TWINS_P``, ``QUADRANTS``: one pair
  of toy-english words per relation quadrant and the transforms that make it so);
* the spec builders (``xor_spec``, ``splits_spec``, ``twins_spec``, ``quadrant_spec``, ``plan_specs``):
  a plan becomes one sweep spec (``experiments.spec``) per experiment.

What the runs are judged by is in ``experiments.xor_claims`` and ``experiments.lm_claims``; the report in
``experiments.report``; the orchestration in ``experiments.reproduce``.
"""
from __future__ import annotations

from dataclasses import dataclass

from tying.generators import PAPER_SPLIT_SEED

from .xor_claims import SETTINGS

EXPERIMENTS = ("xor", "xor-long", "xor-seeds", "splits", "contrast", "contrast-long", "twins", "quadrants")


@dataclass(frozen=True)
class Plan:
    seeds: tuple
    xor_settings: tuple  # names from SETTINGS
    xor_archs: tuple
    xor_steps: int
    xor_record: int  # embedding snapshots
    xor_eval: int  # exact accuracy on the training strings and the held-out strings
    long_archs: tuple  # the XOR grid again at long_steps (beyond the paper's protocol); () for none
    long_steps: int
    split_seeds: tuple  # random splits of the paper's shape (split_seed of the parity generator); () for none
    split_archs: tuple
    split_run_seeds: tuple
    contrast_archs: tuple  # DH and NDH, tied and untied, on random splits; () for none
    contrast_split_seeds: tuple
    contrast_long_split_seeds: tuple  # the same at long_steps
    contrast_run_seeds: tuple
    twins_steps: int
    twins_sequences: int
    twins_batch: int
    quadrant_archs: tuple
    quadrant_steps: int
    quadrant_sequences: int
    quadrant_batch: int
    # more seeds of the transformer's DH and NDH cells on the paper's split (xor-seeds), pooled with the grid's
    # seeds: added after the 5-seed NDH verdicts were seen, so its claims are shown, not counted
    extra_seeds: tuple = ()


# Every XOR run uses the paper's data split (PAPER_SPLIT_SEED), as every run of the paper did; the split
# experiment compares it with random splits of the same shape.  Costs measured on a 2-core 2.1 GHz Xeon
# (2026-12): a 150,000-step paper-small run takes ~110 s (transformer), ~50 s (mixer), ~20 s (bilinear).
# Quick: the paper's full protocol on the transformer for the two settings where the DH is broken, one
# seed, tied and untied (4 runs, ~70 s on 2 workers), the twins (~6 s) and ~85 s of numba compilation
# (the transformer's kernels only) on a fresh install: 167 s, 213 s with `pip install .` in a fresh venv
# (2026-12-02; before the kernels compiled per architecture the command alone took 222 s, and 226 s with
# the install on 2026-12-01).  Fewer steps would not do: on the paper's split, parity is learned
# between ~30,000 and ~140,000 steps, or not at all.  The quadrants need more steps than fit; they are
# in the full mode only.
QUICK = Plan(seeds=(0,), xor_settings=("DH", "NDH"), xor_archs=("transformer",), xor_steps=150_000,
             xor_record=1000, xor_eval=5000, long_archs=(), long_steps=0, split_seeds=(), split_archs=(),
             split_run_seeds=(), contrast_archs=(), contrast_split_seeds=(), contrast_long_split_seeds=(),
             contrast_run_seeds=(), twins_steps=2000, twins_sequences=4000, twins_batch=64, quadrant_archs=(),
             quadrant_steps=800, quadrant_sequences=3000, quadrant_batch=64)
# Full: the paper's grid on its split (90 runs, ~95 min of worker time), the transformer grid at 4x the
# steps (30 runs of ~7.5 min: ~225 min), 10 random splits x 3 seeds x 2 archs (60 runs, ~80 min), the
# twins and the transformer's quadrants: ~7 h of worker time, ~3.5 h on 2 cores at these speeds.
# The contrast experiments (the transformer, DH and NDH, tied and untied, one seed, on the random splits:
# 40 runs at 150,000 steps, ~35 min, and 20 at 600,000 steps on 5 of the splits, ~75 min) were added after
# the 2.6x speed-up; the costs above were measured before it (a 150,000-step transformer run now ~50 s).
# xor-seeds (10 more seeds of the transformer's DH and NDH cells, 40 runs of 150,000 steps, ~35 min of worker
# time) came after the grid's 5-seed NDH verdicts disagreed with the paper's own code at two seeds.
FULL = Plan(seeds=(0, 1, 2, 3, 4), xor_settings=tuple(SETTINGS), xor_archs=("transformer", "mixer", "bilinear"),
            xor_steps=150_000, xor_record=1000, xor_eval=5000, long_archs=("transformer",), long_steps=600_000,
            split_seeds=tuple(range(10)), split_archs=("transformer", "mixer"), split_run_seeds=(0, 1, 2),
            contrast_archs=("transformer",), contrast_split_seeds=tuple(range(10)), contrast_long_split_seeds=tuple(range(5)), contrast_run_seeds=(0,),
            twins_steps=20_000, twins_sequences=20_000, twins_batch=64, quadrant_archs=("transformer",),
            quadrant_steps=20_000, quadrant_sequences=20_000, quadrant_batch=64, extra_seeds=tuple(range(5, 15)))

TWINS_TOPK, TWINS_P = 100, 0.5
# one pair of toy-english words per relation quadrant, its relation (SE, CE), and the transforms that
# make it so; what the theory predicts for each relation is theory.p6_quadrants.predicted_signs
QUADRANTS = {
    "SE & CE": dict(task="mlm", transforms=["split dog:0.5,0.5"], pair=("dog#1", "dog#2"), relation=(True, True)),
    "SE & not CE": dict(task="mlm", transforms=["split dog:0.1,0.9"], pair=("dog#1", "dog#2"),
                        relation=(True, False)),
    "not SE & CE": dict(task="causal", transforms=["coin"], pair=("H", "T"), relation=(False, True)),
    "not SE & not CE": dict(task="mlm", transforms=[], pair=("dog", "house"), relation=(False, False)),
}


# ------------------------------------------------------------------------------ specs
def parity_entry(setting: str, split_seed: int = PAPER_SPLIT_SEED) -> dict:
    """The parity corpus of an XOR setting on the paper's split (or a random one of its shape)."""
    zero, one = SETTINGS[setting]
    return {"generator": "parity", "bits": 7, "zero": zero, "one": one, "paper_split": True,
            "split_seed": split_seed}


def xor_spec(plan: Plan, long: bool = False) -> dict:
    """The paper's XOR grid on its split; ``long``: the same grid for plan.long_archs at plan.long_steps."""
    return {
        "name": "xor-long" if long else "xor",
        "seeds": list(plan.seeds),
        "corpus": [parity_entry(s) for s in plan.xor_settings],
        "model": {"arch": list(plan.long_archs if long else plan.xor_archs), "tied": [True, False]},
        "train": {"steps": plan.long_steps if long else plan.xor_steps},
        "record": {"every": plan.xor_record, "eval_every": plan.xor_eval},
    }


def seeds_spec(plan: Plan) -> dict:
    """The XOR grid's transformer cells where the DH is broken (DH, NDH), tied and untied, at more seeds."""
    return {
        "name": "xor-seeds",
        "seeds": list(plan.extra_seeds),
        "corpus": [parity_entry(s) for s in ("DH", "NDH")],
        "model": {"arch": plan.xor_archs[0], "tied": [True, False]},
        "train": {"steps": plan.xor_steps},
        "record": {"every": plan.xor_record, "eval_every": plan.xor_eval},
    }


def splits_spec(plan: Plan) -> dict:
    """DH, untied, on random splits of the paper's shape; the paper's own split is in the xor grid."""
    return {
        "name": "splits",
        "seeds": list(plan.split_run_seeds),
        "corpus": [parity_entry("DH", k) for k in plan.split_seeds],
        "model": {"arch": list(plan.split_archs), "tied": False},
        "train": {"steps": plan.xor_steps},
        "record": {"every": plan.xor_eval, "eval_every": plan.xor_eval},
    }


def contrast_spec(plan: Plan, long: bool = False) -> dict:
    """plan.contrast_archs (the transformer) on random splits, DH and NDH, tied and untied: how often each reaches Bayes across
    splits (the DH untied runs of seed 0 share their run ids with the splits experiment's)."""
    return {
        "name": "contrast-long" if long else "contrast",
        "seeds": list(plan.contrast_run_seeds),
        "corpus": [parity_entry(s, k) for s in ("DH", "NDH")
                   for k in (plan.contrast_long_split_seeds if long else plan.contrast_split_seeds)],
        "model": {"arch": list(plan.contrast_archs), "tied": [True, False]},
        "train": {"steps": plan.long_steps if long else plan.xor_steps},
        "record": {"every": plan.xor_eval, "eval_every": plan.xor_eval},
    }


def pcfg_entry(task: str, transforms: list, sequences: int) -> dict:
    return {"generator": "pcfg", "grammar": "toy-english", "sequences": sequences, "seed": 42, "task": task,
            "transforms": transforms, "splits": [0.9, 0.1, 0.0]}


def lm_train(steps: int, batch: int) -> dict:
    # the paper's optimizer, with a rate suited to the larger vocabulary and a shorter run
    return {"steps": steps, "batch_size": batch, "lr": 5e-3, "t_max": steps, "eta_min": 1e-5}


def twins_spec(plan: Plan) -> dict:
    return {
        "name": "twins",
        "seeds": list(plan.seeds),
        "corpus": pcfg_entry("mlm", [f"twins {TWINS_TOPK}:{TWINS_P}"], plan.twins_sequences),
        "model": {"arch": "transformer", "d": 16, "ff": 32, "positional": True, "tied": [True, False]},
        "train": lm_train(plan.twins_steps, plan.twins_batch),
        "record": {"every": max(plan.twins_steps // 20, 1), "eval_every": max(plan.twins_steps // 10, 1)},
    }


def quadrant_spec(plan: Plan) -> dict:
    return {
        "name": "quadrants",
        "seeds": list(plan.seeds),
        "corpus": [pcfg_entry(q["task"], q["transforms"], plan.quadrant_sequences) for q in QUADRANTS.values()],
        "model": {"arch": list(plan.quadrant_archs), "d": 16, "ff": 32, "hidden": 16, "positional": True,
                  "tied": [True, False]},
        "train": lm_train(plan.quadrant_steps, plan.quadrant_batch),
        "record": {"every": max(plan.quadrant_steps // 20, 1), "eval_every": max(plan.quadrant_steps // 10, 1)},
    }


def plan_specs(plan: Plan) -> dict:
    """{experiment: spec} of every experiment the plan runs (one with no runs is left out)."""
    specs = {"xor": xor_spec(plan), "xor-long": xor_spec(plan, long=True), "xor-seeds": seeds_spec(plan),
             "splits": splits_spec(plan),
             "contrast": contrast_spec(plan), "contrast-long": contrast_spec(plan, long=True),
             "twins": twins_spec(plan), "quadrants": quadrant_spec(plan)}
    empty = {"xor-long": not (plan.long_archs and plan.long_steps), "xor-seeds": not plan.extra_seeds,
             "splits": not plan.split_seeds,
             "contrast": not (plan.contrast_archs and plan.contrast_split_seeds),
             "contrast-long": not (plan.contrast_archs and plan.contrast_long_split_seeds and plan.long_steps),
             "quadrants": not plan.quadrant_archs}
    return {k: v for k, v in specs.items() if not empty.get(k)}
