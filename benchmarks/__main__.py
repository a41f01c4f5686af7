"""``python -m benchmarks [--quick] [--out DIR]``: run every benchmark and write DIR/latest.{json,md,png,pdf}.

The full run takes several minutes on a 2-core machine; ``--quick`` (about a
minute, fewer repeats and scaling points) writes DIR/quick.* instead, so it
never replaces the committed full results.  Exit codes: 0 done, 1 ours and
torch disagree (nothing is reported), 2 bad input (no torch, bad folder).
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="about a minute: fewer repeats and scaling points")
    ap.add_argument("--out", type=Path, default=HERE / "results", metavar="DIR",
                    help="results folder (default benchmarks/results)")
    args = ap.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
