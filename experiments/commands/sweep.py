"""`tying sweep SPEC -o OUT`: run every run of an experiment spec (a TOML grid)."""
import argparse

from tying.experiments import spec as spec_format
from tying.experiments.runner import sweep

from .options import add_executor_args


def register(sub) -> None:
    p = sub.add_parser(
        "sweep", help="run an experiment spec (TOML grid) in parallel, resumably",
        description="Run every run of an experiment spec. Each run's folder appears only when the run "
        "is complete, so a killed sweep restarted with the same command skips the finished runs. "
        "Writes OUT/runs/<run_id>/ and OUT/results.csv.",
        epilog=spec_format.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("spec", help="the experiment spec (TOML)")
    p.add_argument("-o", "--out", required=True, help="output folder (created; reused to resume)")
    add_executor_args(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    summaries = sweep(args.spec, args.out, workers=args.workers, dask=args.dask, progress=not args.no_progress)
    counts = {}
    for s in summaries:
        counts[s["status"]] = counts.get(s["status"], 0) + 1
    print(f"{len(summaries)} runs in {args.out}: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    return 0
