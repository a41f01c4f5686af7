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
# The docstring above is also the epilog of `tying sweep --help`.  This module owns the format's entry
# point (load_spec, expand: a spec document becomes its resolved run configs) and a run's identity
# (run_id, canonical, content_hash).  The grid rule is experiments.grid; the generators a corpus may
# name are experiments.corpora.
from __future__ import annotations

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
from tying.models import VARIANT_DEFAULTS, ModelConfig, TrainConfig

from .corpora import generator_function, grammar_ref
from .grid import NOT_IN_MODEL, SECTIONS, TOP_KEYS, alternatives, count_alternatives, is_int, normalise, options_of

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


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
    if not isinstance(seeds, list) or not seeds or not all(is_int(s) and s >= 0 for s in seeds):
        raise InputError(f"seeds must be a non-empty list of non-negative integers, got {seeds!r}")
    n = len(seeds) * math.prod(count_alternatives(name, doc.get(name, {})) for name in SECTIONS)
    check_count(n, "TYING_MAX_RUNS", "the spec's grid has {n} runs")  # before the grid is built
    sections = [alternatives(name, doc.get(name, {})) for name in SECTIONS]
    runs, seen = [], set()
    for corpus, model, train, record in itertools.product(*sections):
        for seed in seeds:
            cfg = _resolve(corpus, model, train, record, int(seed), Path.cwd() if base is None else Path(base))
            rid = run_id(cfg)
            if rid not in seen:
                seen.add(rid)
                runs.append(cfg)
    return runs


# ---------------------------------------------------------------------------- one run
def _resolve(corpus: dict, model: dict, train: dict, record: dict, seed: int, base: Path) -> dict:
    corpus = dict(corpus)
    fn = generator_function(corpus["generator"])
    options = options_of(fn)
    for key in corpus:
        if key != "generator" and key not in options:
            raise InputError(f"unknown key corpus.{key} for generator {corpus['generator']!r} "
                             f"(expected one of {', '.join(sorted(options))})")
    defaults = {p.name: p.default for p in inspect.signature(fn).parameters.values() if p.name in options}
    for key, (kind, depth) in options.items():
        if key not in corpus:
            corpus[key] = normalise(f"corpus.{key}", _lists(defaults[key]), kind, depth)
    if corpus["generator"] == "pcfg":
        corpus["grammar"], corpus["grammar_sha256"] = grammar_ref(corpus["grammar"], base)
    tc = TrainConfig(**train, seed=seed, record_every=record.get("every", TrainConfig.record_every),
                     eval_every=record.get("eval_every", TrainConfig.eval_every), progress=False)
    train = {k: v for k, v in tc.to_dict().items() if k not in ("record_every", "eval_every", "progress")}
    # a tying variant at its neutral value is left out, so specs written before the variants keep their run ids
    model = {k: v for k, v in ModelConfig(**model).to_dict().items()
             if k not in NOT_IN_MODEL and not (k in VARIANT_DEFAULTS and v == VARIANT_DEFAULTS[k])}
    pairs = record.get("pairs")
    record = {"every": tc.record_every, "eval_every": tc.eval_every, "pairs": pairs}
    return {"corpus": dict(sorted(corpus.items())), "model": model, "train": train, "record": record}


def _lists(value):
    return [_lists(v) for v in value] if isinstance(value, (list, tuple)) else value
