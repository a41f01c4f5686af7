"""``tying analyze TABLES --corpus CORPUS --out DIR``: the analysis of our runs, for any model's tables."""
from __future__ import annotations

import argparse
import zipfile

import numpy as np

from tying.core import atomic
from tying.core.errors import InputError
from tying.experiments import analyze
from tying.generators import Corpus

EPILOG = """\
TABLES is a .npz file (numpy.savez) with, rows indexed by the corpus's vocabulary ids:
  E_in                (V, d) the input embedding table
  E_out               (V, d) the output table (leave it out, or equal to E_in, for a tied model)
  steps, E_in_steps,  optional snapshots: steps (S,), E_in_steps (S, V, d), E_out_steps (S, V, d)
  E_out_steps         (E_out_steps left out when tied)
  step                optional: the training step of the final tables (default: the last snapshot's)

writes DIR/distances.csv (one row per table, step and pair), DIR/claims.json, DIR/analysis.npz and
DIR/distances.png/.pdf, the same tables, claim rows and figure as our own runs get.

example (a torch model's tables):
  np.savez("tables.npz", E_in=model.get_input_embeddings().weight.detach().numpy(),
           E_out=model.get_output_embeddings().weight.detach().numpy())
  tying analyze tables.npz --corpus twins.npz --out analysis
"""
KEYS = ("E_in", "E_out", "steps", "E_in_steps", "E_out_steps", "step")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "analyze", help="distances, claims and figure for any model's embedding tables",
        description="Analyze the input and output embedding tables of any model (a torch or Hugging Face model "
        "trained on one of our corpora, say) as our own runs are analyzed: the distance of every pair the corpus "
        "records, the claims judged by P6's predictions, and the figure.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    p.add_argument("tables", metavar="TABLES", help="a .npz file of embedding tables (see below)")
    p.add_argument("--corpus", required=True, metavar="PATH", help="the corpus the model was trained on (.npz)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write")
    p.add_argument("--force", action="store_true", help="replace DIR if it exists")
    p.set_defaults(func=run)


def read_tables(path: str) -> dict:
    """The arrays of a TABLES file, checked for unknown and missing keys."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise InputError(f"tables file not found: {path}") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise InputError(f"cannot read tables file {path}: {e}") from None
    if not isinstance(arrays, dict) or "E_in" not in arrays:
        raise InputError(f"{path} has no array E_in (expected keys: {', '.join(KEYS)})")
    unknown = sorted(set(arrays) - set(KEYS))
    if unknown:
        raise InputError(f"{path} has unknown arrays {', '.join(unknown)} (expected keys: {', '.join(KEYS)})")
    if ("steps" in arrays) != ("E_in_steps" in arrays) or ("E_out_steps" in arrays and "steps" not in arrays):
        raise InputError(f"{path}: snapshots need both steps and E_in_steps (and E_out_steps if untied)")
    return arrays


def run(args) -> int:
    atomic.check_target(args.out, args.force, folder=True)  # fail before the work, not after it
    corpus = Corpus.load(args.corpus)
    t = read_tables(args.tables)
    snaps = (t["steps"].astype(np.int64), t["E_in_steps"], t.get("E_out_steps")) if "steps" in t else None
    step = None
    if "step" in t:
        if t["step"].shape != () or t["step"].dtype.kind not in "iu":
            raise InputError(f"{args.tables}: step must be one integer, got {t['step']!r}")
        step = int(t["step"])
    res = analyze(t["E_in"], t.get("E_out"), corpus, snaps, step=step, out=args.out, force=args.force,
                  title=str(args.tables))
    kind = "tied" if res["tied"] else "untied"
    print(f"{kind} tables, {len(res['steps'])} step(s), {len(res['pairs'])} pairs")
    for c in res["claims"]:
        mark = "ref " if c["reference"] else ("pass" if c["passed"] else "FAIL")
        v = np.mean(c["values"]) if c["values"] else float("nan")
        print(f"  {mark}  {c['claim']}: {c['prediction']} (measured {v:.3g})")
    print(f"wrote {args.out}/distances.csv, claims.json, analysis.npz, distances.png")
    return 0
