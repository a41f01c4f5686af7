"""`tying reproduce variants`: which tying variants run on which corpora, as plans and sweep specs.

This module owns

* ``VARIANTS``: the one registry of compared models, {name: the ModelConfig fields that make it, given d}:
  the untied and tied poles and, between them, input-gradient scaling alpha (Lopardo et al. 2026), the input
  multiplier c = sqrt(d) (the original Transformer, T5, Gemma), partial tying of k = d/2 columns, and a learned
  map E_out = E W (Pappas et al. 2018).  alpha = 1, c = 1 and k = d are plain tying and k = 0 is untied, so
  those values are the poles themselves and are not run twice;
* ``VariantPlan`` and the standard plans ``V_QUICK`` and ``V_FULL``, with their measured cost beside them;
* the two corpus families and their spec builders (``xor_variant_spec``, ``lm_variant_spec``,
  ``variant_specs``): the paper's XOR settings on its split, where the DH-broken pair is (0, 1) in DH and
  (2, 3) in NDH and the DH-holding pair is (2, 3) in DH; and toy-english with its most frequent word, "the", split into two SE
  copies at weights (q, 1 - q), a family whose DH violation D grows as q moves away from 1/2 (q = 1/2: the
  DH holds), plus the coin (CE, not SE) and an unrelated pair (neither) of the four DH quadrants.

What the runs are judged by is in ``experiments.variants_claims``; the orchestration and the report in
``experiments.reproduce_variants``.
"""
from __future__ import annotations

from dataclasses import dataclass

from tying.models import VARIANT_DEFAULTS

from .plan import lm_train, parity_entry, pcfg_entry

# name -> fields given d; every name but "untied" is tied.  Order: the poles, then each family by value.
VARIANTS = {
    "untied": lambda d: {"tied": False},
    "tied": lambda d: {"tied": True},
    "alpha=0.25": lambda d: {"tied": True, "input_grad_scale": 0.25},
    "alpha=4": lambda d: {"tied": True, "input_grad_scale": 4.0},
    "alpha=16": lambda d: {"tied": True, "input_grad_scale": 16.0},
    "k=d/2": lambda d: {"tied": True, "tied_dims": d // 2},
    "c=sqrt(d)": lambda d: {"tied": True, "input_multiplier": "sqrt(d)"},
    "map": lambda d: {"tied": True, "tie_map": True},
}
# each swept family as (variant names in the order of its value, the values): for the figures and the
# monotonicity claims; the poles stand at the ends they equal (alpha = 1 and k = d: tied; k = 0: untied)
FAMILIES = {
    "alpha": (("alpha=0.25", "tied", "alpha=4", "alpha=16"), (0.25, 1.0, 4.0, 16.0)),
    "k": (("untied", "k=d/2", "tied"), (0.0, 0.5, 1.0)),  # k / d
    "c": (("tied", "c=sqrt(d)"), (1.0, None)),
}

LM_WORD = "the"  # the most frequent word (7% of tokens), so that its split has a D worth measuring
LM_COIN = "coin"  # the quadrant "not SE & CE": H and T in a causal corpus
LM_PLAIN = "plain"  # the quadrant "not SE & not CE": dog and house in the corpus without transforms


@dataclass(frozen=True)
class VariantPlan:
    variants: tuple  # names from VARIANTS
    seeds: tuple
    xor_settings: tuple  # "DH", "NDH" (names of experiments.xor_claims.SETTINGS)
    xor_steps: int
    xor_eval: int
    lm_splits: tuple  # the weights q of the#1 (the#2: 1 - q); 0.5 keeps the DH
    lm_quadrants: tuple  # LM_COIN and/or LM_PLAIN
    lm_steps: int
    lm_sequences: int
    lm_batch: int
    lm_d: int


# Costs measured on the 2-core 2.1 GHz Xeon (2026-12-01, shared with other work): a 150,000-step paper-small
# transformer run ~33 s; a 10,000-step toy-english transformer run (d = 16) ~25-40 s.
# Quick: the toy-english family at q = 0.5 and 0.1 (the DH holding and broken), every variant, one seed
# (16 runs of 6,000 steps); no XOR, whose runs need the paper's 150,000 steps.
V_QUICK = VariantPlan(variants=tuple(VARIANTS), seeds=(0,), xor_settings=(), xor_steps=150_000, xor_eval=5000,
                      lm_splits=(0.5, 0.1), lm_quadrants=(), lm_steps=6000, lm_sequences=6000, lm_batch=64,
                      lm_d=16)
# Full: the XOR settings DH and NDH x 8 variants x 2 seeds (32 runs, 1,180 s of worker time measured) and
# toy-english at q = 0.5, 0.25, 0.1, 0.03, the coin and the plain pair x 8 variants x 2 seeds (96 runs,
# 3,889 s): 5,069 s of worker time, about 45 min on 2 cores.
V_FULL = VariantPlan(variants=tuple(VARIANTS), seeds=(0, 1), xor_settings=("DH", "NDH"), xor_steps=150_000,
                     xor_eval=5000, lm_splits=(0.5, 0.25, 0.1, 0.03), lm_quadrants=(LM_COIN, LM_PLAIN),
                     lm_steps=10_000, lm_sequences=10_000, lm_batch=64, lm_d=16)


def model_tables(base: dict, variants, d: int) -> list:
    """One [model] table per variant: the base fields and the variant's (the spec's array of tables)."""
    return [{**base, **VARIANTS[v](d)} for v in variants]


def variant_of(model: dict) -> str:
    """The VARIANTS name of a resolved run's model fields (neutral variant fields are left out of them)."""
    d = model.get("d") or 0
    for name, make in VARIANTS.items():
        want = make(d)
        if all(model.get(k) == v for k, v in want.items()) and not any(
                k in model for k in VARIANT_DEFAULTS if k not in want):
            return name
    raise ValueError(f"no variant has the model fields {model}")


def xor_variant_spec(plan: VariantPlan) -> dict:
    """The paper's XOR settings on its split, the paper-small transformer (d = 4), each variant."""
    return {
        "name": "variants-xor",
        "seeds": list(plan.seeds),
        "corpus": [parity_entry(s) for s in plan.xor_settings],
        "model": model_tables({"arch": "transformer"}, plan.variants, 4),
        "train": {"steps": plan.xor_steps},
        "record": {"every": plan.xor_eval, "eval_every": plan.xor_eval},
    }


def lm_corpora(plan: VariantPlan) -> list:
    entries = [pcfg_entry("mlm", [f"split {LM_WORD}:{q:g},{1 - q:g}"], plan.lm_sequences) for q in plan.lm_splits]
    if LM_COIN in plan.lm_quadrants:
        entries.append(pcfg_entry("causal", ["coin"], plan.lm_sequences))
    if LM_PLAIN in plan.lm_quadrants:
        entries.append(pcfg_entry("mlm", [], plan.lm_sequences))
    return entries


def lm_variant_spec(plan: VariantPlan) -> dict:
    """toy-english: the split family and the other two quadrants, a small transformer, each variant."""
    steps = plan.lm_steps
    return {
        "name": "variants-lm",
        "seeds": list(plan.seeds),
        "corpus": lm_corpora(plan),
        "model": model_tables({"arch": "transformer", "d": plan.lm_d, "ff": 2 * plan.lm_d, "positional": True},
                              plan.variants, plan.lm_d),
        "train": lm_train(steps, plan.lm_batch),
        "record": {"every": max(steps // 10, 1), "eval_every": max(steps // 5, 1)},
    }


def variant_specs(plan: VariantPlan) -> dict:
    """{experiment: spec} of the plan (one with no runs is left out)."""
    specs = {}
    if plan.xor_settings:
        specs["xor"] = xor_variant_spec(plan)
    if plan.lm_splits or plan.lm_quadrants:
        specs["lm"] = lm_variant_spec(plan)
    return specs
