"""``python -m benchmarks [--quick] [--jax] [--out DIR]``: run every benchmark and write DIR/latest.{json,md,png,pdf}.

The full run takes several minutes on a 2-core machine; ``--quick`` (about a
minute, fewer repeats and scaling points) writes DIR/quick.* instead, so it
never replaces the committed full results.  Exit codes: 0 done, 1 ours and
torch disagree (nothing is reported), 2 bad input (no torch, bad folder).
``--jax`` runs only ours against the JAX reference (the ``jax`` extra; torch not needed) and writes
DIR/jax.{json,md} (DIR/jax_quick.* with --quick).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="about a minute: fewer repeats and scaling points")
    ap.add_argument("--out", type=Path, default=HERE / "results", metavar="DIR",
                    help="results folder (default benchmarks/results)")
    ap.add_argument("--jax", action="store_true",
                    help="only ours end to end against the JAX reference (needs pip install '.[jax]')")
    args = ap.parse_args(argv)
    if args.jax:
        return jax_main(args)
    if importlib.util.find_spec("torch") is None:
        print("benchmarks: error: torch is not installed; install the benchmark extra: pip install '.[bench]'",
              file=sys.stderr)
        return 2
    if not args.out.parent.is_dir():
        print(f"benchmarks: error: output folder's parent does not exist: {args.out.parent}", file=sys.stderr)
        return 2
    from .reference_torch import AgreementError
    from .report import write
    from .suite import finite, run_all

    try:
        result = finite(run_all(args.quick))
    except AgreementError as e:
        print(f"benchmarks: refusing to report: {e}", file=sys.stderr)
        return 1
    for path in write(result, args.out, "quick" if args.quick else "latest"):
        print(f"wrote {path}")
    return 0


def jax_main(args) -> int:
    if importlib.util.find_spec("jax") is None:
        print("benchmarks: error: jax is not installed; install the jax extra: pip install '.[jax]'", file=sys.stderr)
        return 2
    if not args.out.parent.is_dir():
        print(f"benchmarks: error: output folder's parent does not exist: {args.out.parent}", file=sys.stderr)
        return 2
    if hasattr(os, "sched_setaffinity"):  # one core for every thread: XLA still runs its work on pool threads
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # before jax loads, so its threads inherit it
    from . import bench_jax
    from .reference_jax import JaxAgreementError

    try:
        result = bench_jax.run(args.quick)
    except JaxAgreementError as e:
        print(f"benchmarks: refusing to report: {e}", file=sys.stderr)
        return 1
    for path in bench_jax.write(result, args.out, "jax_quick" if args.quick else "jax"):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
