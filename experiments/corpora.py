"""The generators a spec's ``[corpus]`` may name, and how a corpus entry becomes a corpus.

This module owns ``GENERATORS`` (the names), ``generator_function`` (a name's Python function, whose
keyword defaults define the options a spec may set: ``generators.parity.parity_corpus`` and ``pcfg``
below), ``pcfg`` (a PCFG corpus and its transforms, as ``tying generate pcfg`` builds it) and
``grammar_ref`` (how a spec names a grammar: a built-in name, or a file's absolute path and the sha256
of its text).  The spec format is in ``experiments.spec``; its grid rule in ``experiments.grid``.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from tying.core.errors import InputError
from tying.generators import BUILTIN, FORMS, GRAMMAR_DIR, apply_steps, load_grammar, parity_corpus, pcfg_corpus

# generator names; generator_function gives each one's function, whose keyword defaults define its options
GENERATORS = ("parity", "pcfg")


def generator_function(name):
    if not isinstance(name, str) or name not in GENERATORS:
        raise InputError(f"unknown generator {name!r} (expected one of {', '.join(GENERATORS)})")
    return {"parity": parity_corpus, "pcfg": pcfg}[name]


def grammar_ref(name: str, base: Path) -> tuple[str, str]:
    """(name or absolute path, sha256 of the text) of a built-in grammar or a grammar file."""
    path = GRAMMAR_DIR / BUILTIN[name] if name in BUILTIN else (base / name).resolve()
    if not path.is_file():
        raise InputError(f"grammar file not found: {name} (built-in grammars: {', '.join(BUILTIN)})")
    text = path.read_text(encoding="utf-8")
    return (name if name in BUILTIN else str(path)), hashlib.sha256(text.encode()).hexdigest()


def pcfg(grammar: str = "toy-english", start: str = "", sequences: int = 10000, seed: int = 42,
         task: str = "mlm", mask_rate: float = 0.15, max_length: int = 64, max_depth: int = 100,
         splits=(0.9, 0.1, 0.0), transforms=(), grammar_sha256: str = ""):
    """A PCFG corpus and its transforms, exactly as ``tying generate pcfg`` builds it.

    ``transforms`` are strings "KIND SPEC" with the command line's syntax
    ("twins 100:0.5", "split dog:0.5,0.5", "allomorph the:dog+cat/@V", "merge a,b", "coin").
    """

    g = load_grammar(grammar, start=start or None)
    if grammar_sha256 and g.sha256 != grammar_sha256:
        raise InputError(f"grammar {grammar} changed since the spec was loaded")
    steps = []
    for t in transforms:
        kind, _, spec = str(t).strip().partition(" ")
        if kind not in (*FORMS, "coin") or (kind == "coin") == bool(spec.strip()):
            raise InputError(f"corpus.transforms: {t!r} is not one of: " + ", ".join(
                [f"'{k} {f}'" for k, f in FORMS.items()] + ["'coin'"]))
        steps.append((kind, spec.strip() or None))
    corpus = pcfg_corpus(g, sequences, seed, task=task, mask_rate=mask_rate if task == "mlm" else 0.0,
                         max_length=max_length, max_depth=max_depth, splits=splits)
    return apply_steps(corpus, steps, seed)
