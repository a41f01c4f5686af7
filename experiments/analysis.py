"""The analysis our runs get, for the embedding tables of any model: distances, claims, figure.

    res = analyze(E_in, E_out, corpus)                        # final tables only
    res = analyze(E_in, E_out, corpus, snapshots={0: (A0, B0), 500: (A1, B1)}, step=1000, out="analysis")

Rows are indexed by the corpus's vocabulary ids.  The tables become a ``models.Run`` that holds only
embeddings, so the distances and the claims are computed by the very functions that judge our own
runs (``Run.distances``, ``lm_claims``): the same tables give the same numbers, bit for bit.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from tying.core import atomic
from tying.core.errors import InputError
from tying.generators import Corpus, relation_pairs
from tying.models import ModelConfig, Run, TrainConfig

from .lm_claims import lm_pair_ratio, reference_pairs, sign_claim, twins_claims
from .results import Group, table_curves

FIGURE_PAIRS = 12  # pairs drawn in the figure (every pair is in the tables)
N_REF = 60  # random pairs of common words, the yardstick of the claims (as in lm_claims.lm_pair_ratio)
REFERENCE = "random pairs (median)"


def _table(x, what: str, V: int) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, on any device
        x = x.detach().cpu().numpy()
    try:
        a = np.array(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise InputError(f"{what} is not a numeric array ({e})") from None
    if a.ndim != 2:
        raise InputError(f"{what} must be a (vocabulary, dim) table, got shape {a.shape}")
    if a.shape[0] != V:
        raise InputError(f"{what} has {a.shape[0]} rows but the corpus has {V} symbols")
    bad = np.argwhere(~np.isfinite(a))
    if len(bad):
        raise InputError(f"{what} has a non-finite entry at row {bad[0][0]} (symbol {bad[0][0]})")
    return a


def _pair_of(E_in, E_out, what: str, V: int) -> tuple:
    a = _table(E_in, f"E_in{what}", V)
    b = a if E_out is None else _table(E_out, f"E_out{what}", V)
    return a, b


def _snapshots(snapshots) -> list:
    """[(step, E_in, E_out)] from {step: (E_in, E_out)} or (steps, E_in stack, E_out stack or None)."""
    if snapshots is None:
        return []
    if isinstance(snapshots, dict):
        items = [(s, *v) if isinstance(v, (tuple, list)) and len(v) == 2 else (s, v, None)
                 for s, v in snapshots.items()]
    elif isinstance(snapshots, (tuple, list)) and len(snapshots) == 3:
        steps, A, B = snapshots
        steps = np.asarray(steps).reshape(-1)
        if len(A) != len(steps) or (B is not None and len(B) != len(steps)):
            raise InputError(f"snapshots: {len(steps)} steps but {len(A)} E_in tables"
                             + ("" if B is None else f" and {len(B)} E_out tables"))
        items = [(s, A[k], None if B is None else B[k]) for k, s in enumerate(steps)]
    else:
        raise InputError("snapshots must be {step: (E_in, E_out)} or (steps, E_in stack, E_out stack)")
    for s, _, _ in items:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)) or s < 0:
            raise InputError(f"snapshot step {s!r} is not an integer >= 0")
    return sorted(items, key=lambda it: it[0])


def tables_run(E_in, E_out, corpus: Corpus, snapshots=None, step: int | None = None) -> tuple[Run, bool]:
    """The tables as a Run that holds only embeddings (one snapshot per step), and whether they are tied."""
    V = corpus.vocab_size
    final = _pair_of(E_in, E_out, "", V)
    snaps = [(int(s), *_pair_of(a, b, f" at step {s}", V)) for s, a, b in _snapshots(snapshots)]
    if len({s for s, _, _ in snaps}) != len(snaps):
        raise InputError("snapshots name a step twice")
    last = snaps[-1][0] if snaps else 0
    step = last if step is None else step
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < last:
        raise InputError(f"step (of the final tables) must be an integer >= the last snapshot's {last}, got {step!r}")
    if snaps and snaps[-1][0] == step:
        if not (np.array_equal(snaps[-1][1], final[0]) and np.array_equal(snaps[-1][2], final[1])):
            raise InputError(f"the snapshot at step {step} differs from the final tables of the same step")
        snaps = snaps[:-1]
    snaps.append((int(step), *final))
    for name, k in (("E_in", 1), ("E_out", 2)):
        dims = {e[k].shape[1] for e in snaps}
        if len(dims) > 1:
            raise InputError(f"the {name} tables have different widths {sorted(dims)}")
    tied = all(np.array_equal(a, b) for _, a, b in snaps)
    run = Run(ModelConfig(tied=tied), TrainConfig(), {"vocab": list(corpus.vocab)},
              emb_steps=np.array([s for s, _, _ in snaps], np.int64),
              E_in=np.stack([a for _, a, _ in snaps]), E_out=np.stack([b for _, _, b in snaps]))
    return run, tied


def _relation(r: dict | None) -> str:
    if r is None:
        return "other"
    return "DH holds" if r.get("se") and r.get("ce") else "DH broken" if r.get("se") else "other"


def analyze(E_in, E_out, corpus: Corpus, snapshots=None, *, step: int | None = None, out=None,
            force: bool = False, title: str | None = None) -> dict:
    """Distances, claims and (with ``out``) a figure for one model's embedding tables.

    ``E_in``, ``E_out``: (V, d) tables of the final model, rows indexed by ``corpus.vocab``; tied when
    ``E_out`` is None or equal to ``E_in``.  ``snapshots``: earlier tables, ``{step: (E_in, E_out)}`` or
    ``(steps, E_in stack, E_out stack)`` (E_out None when tied); ``step``: the step of the final tables
    (default: the last snapshot's, whose tables must then equal the final ones).

    Returns a dict: ``steps`` (R,), ``pairs`` (n, 2) ids of every pair the corpus records
    (``generators.relation_pairs``), ``pair_names``, ``relation`` per pair ("DH holds", "DH broken",
    "other"; by construction), ``se``/``ce`` (1, 0, or -1 when not recorded), ``distances``
    {table: (R, n)} for "tied" or "untied input"/"untied output", ``reference`` {table: (R,)} the median
    distance of ``reference_pairs`` (random pairs of common words, the claims' yardstick), ``claims``
    (rows as in REPORT.md) and ``tied``.  With ``out``, a folder (refused if it exists, unless ``force``) gets ``distances.csv``,
    ``claims.json``, ``analysis.npz`` and ``distances.png``/``.pdf``.
    """
    run, tied = tables_run(E_in, E_out, corpus, snapshots, step)
    pairs = relation_pairs(corpus)
    built = {(min(r["a"], r["b"]), max(r["a"], r["b"])): r for r in corpus.relations}
    rel = [built.get(p) for p in pairs]
    group = Group(corpus, [run])
    names = ["tied"] if tied else ["untied input", "untied output"]
    ref = reference_pairs(corpus, N_REF, 0)
    dist = {t: (table_curves(group, pairs, t)[0] if pairs else np.zeros((len(run.emb_steps), 0))) for t in names}
    res = {"tied": tied, "steps": run.emb_steps.copy(), "pairs": np.array(pairs, np.int64).reshape(-1, 2),
           "pair_names": [(corpus.vocab[a], corpus.vocab[b]) for a, b in pairs],
           "relation": [_relation(r) for r in rel],
           "se": np.array([-1 if r is None else int(bool(r.get("se"))) for r in rel], np.int64),
           "ce": np.array([-1 if r is None else int(bool(r.get("ce"))) for r in rel], np.int64),
           "distances": dist, "reference_pairs": np.array(ref, np.int64).reshape(-1, 2),
           "reference": {t: np.median(table_curves(group, ref, t)[0], axis=1) if ref else
                         np.full(len(run.emb_steps), np.nan) for t in names},
           "claims": [asdict(c) for c in claims(group, tied, pairs, rel)]}
    if out is not None:
        write(res, out, force, title)
    return res


def claims(group: Group, tied: bool, pairs: list, rel: list) -> list:
    """The twins claim (when the corpus has twins) and P6's sign for each pair whose SE and CE are recorded."""
    from tying.theory import predicted_signs  # sympy: only when the claims are evaluated

    c = group.corpus
    out = twins_claims({(0, "model", tied): group}) if any(w.endswith("#1") for w in c.vocab) else []
    for (a, b), r in zip(pairs, rel):
        if r is None or r.get("se") is None or r.get("ce") is None:
            continue
        signs = predicted_signs(r["se"], r["ce"])
        pair = (c.vocab[a], c.vocab[b])
        for t in (["tied"] if tied else ["untied input", "untied output"]):
            out.append(sign_claim("relations", f"{pair} (SE {r['se']}, CE {r['ce']})", t, signs[t],
                                  lm_pair_ratio(group, pair, t)))
    return out


def distances_csv(res: dict) -> str:
    """One row per (table, step, pair): the long form that pandas reads."""
    f = io.StringIO()
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["table", "step", "a", "b", "a_name", "b_name", "relation", "se", "ce", "distance"])
    for t, d in res["distances"].items():
        for k, s in enumerate(res["steps"].tolist()):
            for i, ((a, b), (an, bn)) in enumerate(zip(res["pairs"].tolist(), res["pair_names"])):
                w.writerow([t, s, a, b, an, bn, res["relation"][i], int(res["se"][i]), int(res["ce"][i]),
                            repr(float(d[k, i]))])
    return f.getvalue()


def figure_panels(results: list) -> tuple[dict, dict]:
    """``plot_distances``'s panels and relations for analyses of the same corpus (say a tied and an untied
    model): each table's first ``FIGURE_PAIRS`` pairs and the median of the random pairs."""
    labels = [f"{a}–{b}" for a, b in results[0]["pair_names"]][:FIGURE_PAIRS]
    panels = {t: {**{lab: d[None, :, i] for i, lab in enumerate(labels)}, REFERENCE: r["reference"][t][None]}
              for r in results for t, d in r["distances"].items()}
    return panels, {**dict(zip(labels, results[0]["relation"])), REFERENCE: REFERENCE}


def write(res: dict, out, force: bool, title: str | None) -> Path:
    from tying.figures import plot_distances

    path = atomic.check_target(out, force, folder=True)
    with atomic.directory(path, force) as tmp:
        tmp = Path(tmp)
        (tmp / "distances.csv").write_text(distances_csv(res))
        (tmp / "claims.json").write_text(json.dumps(res["claims"], indent=1) + "\n")
        np.savez_compressed(tmp / "analysis.npz", steps=res["steps"], pairs=res["pairs"], se=res["se"], ce=res["ce"],
                            reference_pairs=res["reference_pairs"],
                            **{t.replace(" ", "_"): d for t, d in res["distances"].items()},
                            **{"reference_" + t.replace(" ", "_"): d for t, d in res["reference"].items()})
        if len(res["pairs"]):
            panels, relation = figure_panels([res])
            plot_distances(res["steps"], panels, relation, out=tmp / "distances", title=title)
    return path
