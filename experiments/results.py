"""Results of the paper's sweeps as the claims read them: runs grouped by cell, their exact truth,
and the claim row that the report prints.

A claim states its prediction (its criterion) in words before any run is judged by it; ``values``
holds one number per seed (or per run), and a *reference* row is shown but not counted.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tying.generators import Corpus, exact as exact_truth
from tying.models import Run

from .spec import load_spec, run_id
from .worker import corpus_file


@dataclass
class Group:
    """The runs of one (corpus, arch, tied) cell, one per seed, with their corpus."""
    corpus: Corpus
    runs: list


def load_groups(out: Path, spec: dict) -> dict:
    """{(corpus index, arch, tied): Group} for every completed run of a spec."""
    entries = spec["corpus"] if isinstance(spec["corpus"], list) else [spec["corpus"]]
    groups: dict = {}
    for ci, entry in enumerate(entries):
        corpus = None
        for cfg in load_spec({**spec, "corpus": entry}).runs:
            folder = out / "runs" / run_id(cfg)
            summary = _summary(folder)
            if summary is None or summary["status"] != "completed":
                continue
            corpus = corpus or Corpus.load(corpus_file(cfg["corpus"], out))
            g = groups.setdefault((ci, cfg["model"]["arch"], cfg["model"]["tied"]), Group(corpus, []))
            g.runs.append(Run.load(folder))
    return groups


def _summary(folder: Path):
    try:
        return json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        return None


def table_curves(group: Group, pairs: list, table: str) -> np.ndarray:
    """(seeds, recorded steps, pairs) distances in one table ("tied" runs have one)."""
    role = "out" if table == "untied output" else "in"
    return np.stack([r.distances(pairs, role) for r in group.runs])


def occurring(corpus: Corpus) -> set:
    """Symbols that are ever written (a weight-0 variant never is)."""
    w = np.where(corpus.real.variants[:, None, :] >= 0, corpus.real.weights, 0.0).max(1)
    return {int(s) for s, x in zip(corpus.real.variants.ravel(), w.ravel()) if s >= 0 and x > 0}


# ------------------------------------------------------------------------------ claims
@dataclass
class Claim:
    experiment: str
    claim: str
    prediction: str
    values: list  # one number per seed
    passed: bool
    note: str = ""
    reference: bool = False  # a control row: shown, not counted (it can hardly fail)

    interval: str = ""  # a rate's or a paired difference's 95% interval, when the claim states one

    def __post_init__(self):  # numpy scalars would not go into claims.json
        self.passed, self.reference = bool(self.passed), bool(self.reference)
        self.values = [float(v) for v in self.values]

    def result(self) -> str:
        """The report's result cell; a reference row with no runs to show (say, none learned) has none."""
        if self.reference:
            return "n/a *ref*" if not self.values else f"{'pass' if self.passed else 'fail'} *ref*"
        return "pass" if self.passed else "**fail**"

    def measured(self) -> str:
        v = np.asarray(self.values, float)
        if v.size == 0:
            return "no runs"
        sd = f" ± {v.std(ddof=1):.3g}" if v.size > 1 else ""
        return f"{v.mean():.3g}{sd} (n={v.size})" + (f"; {self.interval}" if self.interval else "")


_TRUTHS: dict = {}


def truth_of(corpus: Corpus, split: str):
    """The exact ground truth of a corpus split, computed once per corpus content."""
    key = (corpus.digest(), split)
    if key not in _TRUTHS:
        _TRUTHS[key] = exact_truth(corpus, split)
    return _TRUTHS[key]
