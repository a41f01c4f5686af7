"""DH transforms written as text, as on the command line and in specs: ("split", "dog:0.5,0.5"), ...

``FORMS`` gives each kind's syntax; ``apply_steps`` applies a list of them in order.
"""
from __future__ import annotations

from tying.core.errors import InputError
from tying.core.parsing import float_list

from . import transforms

FORMS = {"split": "SYMBOL:W1,W2,...", "allomorph": "SYMBOL:GROUP/GROUP/...", "merge": "A,B", "twins": "TOPK:P"}


def apply_steps(corpus, steps, seed: int):
    """Apply ``[(kind, spec), ...]`` in order, specs as on the command line; coin step i uses seed [seed, i]."""
    for i, (kind, spec) in enumerate(steps):
        corpus = apply_step(corpus, kind, spec, coin_seed=[int(seed), i])
    return corpus


def apply_step(corpus, kind: str, spec: str | None, coin_seed=0):
    if kind == "coin":
        return transforms.coin(corpus, coin_seed)
    option = f"--{kind} {spec}"
    if kind == "merge":
        parts = spec.split(",")
        if len(parts) != 2 or not all(parts):
            raise InputError(f"{option}: expected {FORMS[kind]}")
        return transforms.merge(corpus, *parts)
    # split/twins cut at the last ':' (a symbol may contain one); allomorph at the first (a group member may)
    head, sep, tail = spec.rpartition(":") if kind != "allomorph" else spec.partition(":")
    if not (sep and head and tail):
        raise InputError(f"{option}: expected {FORMS[kind]}")
    if kind == "split":
        return transforms.split(corpus, head, float_list(tail, f"--split {head}"))
    if kind == "twins":
        try:
            topk, p = int(head), float(tail)
        except ValueError:
            raise InputError(f"{option}: expected {FORMS[kind]} with an integer TOPK and a number P") from None
        return transforms.twins(corpus, topk, p)
    return transforms.allomorph(corpus, head, [g.split("+") for g in tail.split("/")])
