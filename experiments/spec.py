"""Experiment specs: one TOML file becomes a list of fully resolved run configs.

A spec::

    name = "xor-dh"              # free text, not part of any run id
    seeds = [0, 1, 2, 3, 4]      # training seeds: one run per seed (default [0])

    [corpus]                     # a generator and the options of its Python function
    generator = "parity"         # (generators.parity.parity_corpus, or `pcfg` below)
    bits = 7
    zero = [0.1, 0.9]
    one = [0.5, 0.5]

or a grammar and its transforms, written as on the ``tying generate pcfg`` command line::

    [corpus]
    generator = "pcfg"
    grammar = "toy-english"      # or a grammar file, relative to the spec's folder
    sequences = 20000
    transforms = ["twins 100:0.5", "split the:0.3,0.7"]   # also "allomorph ...", "merge A,B", "coin"

    [model]                      # ModelConfig fields (objective comes from the corpus)
    arch = ["transformer", "mixer"]
    tied = [true, false]

    [train]                      # TrainConfig fields (seed comes from `seeds`)
    steps = 1000

    [record]
    every = 100                  # embedding snapshots and train curve (TrainConfig.record_every)
    eval_every = 100             # validation curve
    pairs = [["0a", "0b"]]       # symbol pairs (names or ids) whose final distances go into the
                                 # summary; default: the corpus's recorded relations

The grid rule.  Every option has a natural shape: a scalar (arch, lr, bits), a
list (zero, one, splits, betas) or a list of pairs (merge_out, pairs).  A value
one list level deeper than its natural shape is a grid axis, and each of its
elements is one value::

    tied = [true, false]                  # an axis of 2 values
    zero = [0.1, 0.9]                     # one value
    zero = [[0.1, 0.9], [1.0, 0.0]]       # an axis of 2 values

Likewise a section written as an array of tables (``[[corpus]]`` twice) is an
axis whose values are the tables; use it for settings that must change
together (the paper's DH / NDH / YDH weight pairs), since axes otherwise
combine as a full product.  Seeds vary fastest, then the later options.

Each run's config is resolved: the generator's, ModelConfig's and
TrainConfig's defaults are filled in and numbers are normalised (1 -> 1.0 for
real-valued options), so two specs that describe the same run give it the same
``run_id``: the first 12 hex digits of the sha256 of the config's canonical JSON.
A grammar file is named by its absolute path and the sha256 of its text
(``grammar_sha256``, filled in), so editing the grammar changes the ids.

A spec may describe at most 10,000 runs (counted before duplicates are
dropped); set the environment variable TYING_MAX_RUNS to allow more.
"""
from __future__ import annotations

import dataclasses
import hashlib
import inspect
import itertools
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from tying.core.errors import InputError
from tying.core.limits import check_count
from tying.generators import BUILTIN, FORMS, GRAMMAR_DIR, apply_steps, load_grammar, parity_corpus, pcfg_corpus
from tying.models import ModelConfig, TrainConfig

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# generator names; generator_function gives each one's function, whose keyword defaults define its options
GENERATORS = ("parity", "pcfg")
SECTIONS = ("corpus", "model", "train", "record")
TOP_KEYS = {"name", "description", "seeds", *SECTIONS}
NOT_IN_MODEL = {"objective": "the objective comes from the corpus's task"}
NOT_IN_TRAIN = {
    "seed": "set the training seeds with the top-level `seeds = [...]`",
    "record_every": "use `every` in [record]",
    "eval_every": "use `eval_every` in [record]",
    "progress": "a sweep shows one progress bar over runs",
}
NATURAL = {"merge_out": ("int", 2), "betas": ("float", 1)}  # list-valued dataclass fields


@dataclass
class Spec:
    name: str
    runs: list  # resolved run configs, in grid order, without duplicates
    source: dict  # the parsed TOML

    @property
    def ids(self) -> list[str]:
        return [run_id(c) for c in self.runs]


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def content_hash(obj) -> str:
    return hashlib.sha256(canonical(obj).encode()).hexdigest()[:12]


def run_id(config: dict) -> str:
    return content_hash(config)


def load_spec(spec) -> Spec:
    """A Spec from a TOML path, a parsed dict (paths in it relative to the working folder), or a Spec."""
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, dict):
        doc, name, base = spec, "sweep", Path.cwd()
    else:
        path = Path(spec)
        if not path.is_file():
            raise InputError(f"experiment spec not found: {path}")
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise InputError(f"{path}: not valid TOML ({e})") from None
        name, base = path.stem, path.parent
    return Spec(name=str(doc.get("name", name)), runs=expand(doc, base), source=doc)


def expand(doc: dict, base: Path | None = None) -> list[dict]:
    """Every run config of a spec document (see the module docstring)."""
    for key in doc:
        if key not in TOP_KEYS:
            raise InputError(f"unknown key {key!r} in the spec (expected one of {', '.join(sorted(TOP_KEYS))})")
    if "corpus" not in doc:
        raise InputError("the spec has no [corpus] section")
    seeds = doc.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(_is_int(s) and s >= 0 for s in seeds):
        raise InputError(f"seeds must be a non-empty list of non-negative integers, got {seeds!r}")
    n = len(seeds) * math.prod(_count(name, doc.get(name, {})) for name in SECTIONS)
    check_count(n, "TYING_MAX_RUNS", "the spec's grid has {n} runs")  # before the grid is built
    sections = [_section(name, doc.get(name, {})) for name in SECTIONS]
    runs, seen = [], set()
    for corpus, model, train, record in itertools.product(*sections):
        for seed in seeds:
            cfg = _resolve(corpus, model, train, record, int(seed), Path.cwd() if base is None else Path(base))
            rid = run_id(cfg)
            if rid not in seen:
                seen.add(rid)
                runs.append(cfg)
    return runs


# ---------------------------------------------------------------------------- sections
def _section(name: str, value) -> list[dict]:
    """The alternatives of one section: the product of its axes, over each of its tables."""
    tables = value if isinstance(value, list) else [value]
    if not tables or not all(isinstance(t, dict) for t in tables):
        raise InputError(f"[{name}] must be a table or an array of tables")
    out = []
    for table in tables:
        schema = _schema(name, table)
        keys, axes = [], []
        for key, val in table.items():
            if key not in schema:
                raise InputError(_unknown(name, key, schema))
            kind, depth = schema[key]
            values = val if _is_axis(val, depth) else [val]
            keys.append(key)
            axes.append([_normalise(f"{name}.{key}", v, kind, depth) for v in values])
        out += [dict(zip(keys, combo)) for combo in itertools.product(*axes)]
    return out


def _count(name: str, value) -> int:
    """How many alternatives _section will build, without building them (unknown keys count once)."""
    tables = value if isinstance(value, list) else [value]
    if not all(isinstance(t, dict) for t in tables):
        return 1  # _section names the problem
    total = 0
    for table in tables:
        schema = _schema(name, table)
        total += math.prod(len(v) if k in schema and _is_axis(v, schema[k][1]) else 1 for k, v in table.items())
    return total


def _schema(name: str, table: dict) -> dict[str, tuple[str, int]]:
    """{option: (kind, natural depth)} of a section (for [corpus], of its generator)."""
    if name == "corpus":
        gen = table.get("generator")
        names = gen if isinstance(gen, list) else [gen]
        if gen is None:
            raise InputError("[corpus] needs a generator (one of: " + ", ".join(GENERATORS) + ")")
        schema = {"generator": ("str", 0)}
        for g in names:
            schema.update(_from_defaults(generator_function(g)))
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


def generator_function(name):
    if not isinstance(name, str) or name not in GENERATORS:
        raise InputError(f"unknown generator {name!r} (expected one of {', '.join(GENERATORS)})")
    return {"parity": parity_corpus, "pcfg": pcfg}[name]


def _from_defaults(fn) -> dict:
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


def _is_axis(value, depth: int) -> bool:
    """Is value one list level deeper than its natural shape?"""
    return isinstance(value, list) and len(value) > 0 and all(_deep(v, depth) for v in value)


def _deep(value, depth: int) -> bool:
    if depth == 0:
        return True
    return isinstance(value, list) and all(_deep(v, depth - 1) for v in value)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _normalise(where: str, value, kind: str, depth: int):
    if depth:
        if not isinstance(value, list):
            raise InputError(f"{where}: expected a list, got {value!r}")
        return [_normalise(where, v, kind, depth - 1) for v in value]
    if isinstance(value, (list, dict)):
        raise InputError(f"{where}: expected a single {kind} value, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):  # TOML has inf and nan; no option takes them
        raise InputError(f"{where}: expected a finite number, got {value!r}")
    if kind == "float" and (_is_int(value) or isinstance(value, float)):
        return float(value)
    if kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind == "any" and isinstance(value, (str, int, float)) or (kind == "int" and _is_int(value)) \
            or (kind not in ("any", "int") and type(value).__name__ == kind):
        return value
    if kind == "any":
        raise InputError(f"{where}: expected a string or a number, got {value!r}")
    raise InputError(f"{where}: expected {'an' if kind == 'int' else 'a'} {kind}, got {value!r}")


# ---------------------------------------------------------------------------- one run
def _resolve(corpus: dict, model: dict, train: dict, record: dict, seed: int, base: Path) -> dict:
    corpus = dict(corpus)
    fn = generator_function(corpus["generator"])
    options = _from_defaults(fn)
    for key in corpus:
        if key != "generator" and key not in options:
            raise InputError(f"unknown key corpus.{key} for generator {corpus['generator']!r} "
                             f"(expected one of {', '.join(sorted(options))})")
    defaults = {p.name: p.default for p in inspect.signature(fn).parameters.values() if p.name in options}
    for key, (kind, depth) in options.items():
        if key not in corpus:
            corpus[key] = _normalise(f"corpus.{key}", _lists(defaults[key]), kind, depth)
    if corpus["generator"] == "pcfg":
        corpus["grammar"], corpus["grammar_sha256"] = _grammar(corpus["grammar"], base)
    tc = TrainConfig(**train, seed=seed, record_every=record.get("every", TrainConfig.record_every),
                     eval_every=record.get("eval_every", TrainConfig.eval_every), progress=False)
    train = {k: v for k, v in tc.to_dict().items() if k not in ("record_every", "eval_every", "progress")}
    model = {k: v for k, v in ModelConfig(**model).to_dict().items() if k not in NOT_IN_MODEL}
    pairs = record.get("pairs")
    record = {"every": tc.record_every, "eval_every": tc.eval_every, "pairs": pairs}
    return {"corpus": dict(sorted(corpus.items())), "model": model, "train": train, "record": record}


def _lists(value):
    return [_lists(v) for v in value] if isinstance(value, (list, tuple)) else value


# ---------------------------------------------------------------------------- generators
def _grammar(name: str, base: Path) -> tuple[str, str]:
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
