"""The grid rule of a spec: how each section's values become the alternatives of a sweep.

This module owns each section's schema (``schema_of``: the options of [corpus] (its generator's),
[model] (ModelConfig's fields), [train] (TrainConfig's) and [record], each with its kind and natural
depth), the rule that tells a grid axis from a single value (``is_axis``: a value one list level deeper
than its natural shape), the expansion of one section into its alternatives (``alternatives``, counted
beforehand by ``count_alternatives``) and the normalisation of each value (``normalise``: 1 -> 1.0 for
real-valued options, errors for values of the wrong shape or kind).  The spec format is described in
``experiments.spec``, which combines the sections into runs.
"""
from __future__ import annotations

import dataclasses
import inspect
import itertools
import math

from tying.core.errors import InputError
from tying.models import ModelConfig, TrainConfig

from .corpora import GENERATORS, generator_function

SECTIONS = ("corpus", "model", "train", "record")
TOP_KEYS = {"name", "description", "seeds", *SECTIONS}
NOT_IN_MODEL = {"objective": "the objective comes from the corpus's task"}
NOT_IN_TRAIN = {
    "seed": "set the training seeds with the top-level `seeds = [...]`",
    "record_every": "use `every` in [record]",
    "eval_every": "use `eval_every` in [record]",
    "progress": "a sweep shows one progress bar over runs",
}
# list-valued dataclass fields, and input_multiplier, a number or "sqrt(d)"
NATURAL = {"merge_out": ("int", 2), "betas": ("float", 1), "input_multiplier": ("any", 0)}


def alternatives(name: str, value) -> list[dict]:
    """The alternatives of one section: the product of its axes, over each of its tables."""
    tables = value if isinstance(value, list) else [value]
    if not tables or not all(isinstance(t, dict) for t in tables):
        raise InputError(f"[{name}] must be a table or an array of tables")
    out = []
    for table in tables:
        schema = schema_of(name, table)
        keys, axes = [], []
        for key, val in table.items():
            if key not in schema:
                raise InputError(_unknown(name, key, schema))
            kind, depth = schema[key]
            values = val if is_axis(val, depth) else [val]
            keys.append(key)
            axes.append([normalise(f"{name}.{key}", v, kind, depth) for v in values])
        out += [dict(zip(keys, combo)) for combo in itertools.product(*axes)]
    return out


def count_alternatives(name: str, value) -> int:
    """How many alternatives ``alternatives`` will build, without building them (unknown keys count once)."""
    tables = value if isinstance(value, list) else [value]
    if not all(isinstance(t, dict) for t in tables):
        return 1  # alternatives names the problem
    total = 0
    for table in tables:
        schema = schema_of(name, table)
        total += math.prod(len(v) if k in schema and is_axis(v, schema[k][1]) else 1 for k, v in table.items())
    return total


def schema_of(name: str, table: dict) -> dict[str, tuple[str, int]]:
    """{option: (kind, natural depth)} of a section (for [corpus], of its generator)."""
    if name == "corpus":
        gen = table.get("generator")
        names = gen if isinstance(gen, list) else [gen]
        if gen is None:
            raise InputError("[corpus] needs a generator (one of: " + ", ".join(GENERATORS) + ")")
        schema = {"generator": ("str", 0)}
        for g in names:
            schema.update(options_of(generator_function(g)))
        return schema
    if name == "model":
        return {k: v for k, v in _from_dataclass(ModelConfig).items() if k not in NOT_IN_MODEL}
    if name == "train":
        return {k: v for k, v in _from_dataclass(TrainConfig).items() if k not in NOT_IN_TRAIN}
    return {"every": ("int", 0), "eval_every": ("int", 0), "pairs": ("any", 2)}


def _unknown(section: str, key: str, schema: dict) -> str:
    why = {"model": NOT_IN_MODEL, "train": NOT_IN_TRAIN}.get(section, {}).get(key)
    if why:
        return f"key {section}.{key} is not allowed here: {why}"
    return f"unknown key {section}.{key} (expected one of {', '.join(sorted(schema))})"


def options_of(fn) -> dict:
    """{option: (kind, natural depth)} of a generator function: its keyword parameters with defaults."""
    schema = {}
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is not p.empty:
            schema[p.name] = _kind_of(p.default)
    return schema


def _kind_of(value) -> tuple[str, int]:
    if isinstance(value, (list, tuple)):
        if not value:
            return "any", 1
        if isinstance(value[0], (list, tuple)):
            return _kind_of(value[0])[0], 2
        kinds = {_kind_of(v)[0] for v in value}
        return ("float" if "float" in kinds else kinds.pop() if len(kinds) == 1 else "any"), 1
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind.__name__, 0
    return "any", 0


def _from_dataclass(cls) -> dict:
    schema = {}
    for f in dataclasses.fields(cls):
        base = str(f.type).split("|")[0].strip()
        schema[f.name] = NATURAL.get(f.name, (base if base in ("int", "float", "bool", "str") else "any", 0))
    return schema


def is_axis(value, depth: int) -> bool:
    """Is value one list level deeper than its natural shape?"""
    return isinstance(value, list) and len(value) > 0 and all(_deep(v, depth) for v in value)


def _deep(value, depth: int) -> bool:
    if depth == 0:
        return True
    return isinstance(value, list) and all(_deep(v, depth - 1) for v in value)


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def normalise(where: str, value, kind: str, depth: int):
    """value as an option of this kind and depth (1 -> 1.0 for a float); InputError naming where if it is not one."""
    if depth:
        if not isinstance(value, list):
            raise InputError(f"{where}: expected a list, got {value!r}")
        return [normalise(where, v, kind, depth - 1) for v in value]
    if isinstance(value, (list, dict)):
        raise InputError(f"{where}: expected a single {kind} value, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):  # TOML has inf and nan; no option takes them
        raise InputError(f"{where}: expected a finite number, got {value!r}")
    if kind == "float" and (is_int(value) or isinstance(value, float)):
        return float(value)
    if kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind == "any" and isinstance(value, (str, int, float)) or (kind == "int" and is_int(value)) \
            or (kind not in ("any", "int") and type(value).__name__ == kind):
        return value
    if kind == "any":
        raise InputError(f"{where}: expected a string or a number, got {value!r}")
    raise InputError(f"{where}: expected {'an' if kind == 'int' else 'a'} {kind}, got {value!r}")
