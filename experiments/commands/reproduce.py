"""`tying reproduce paper`: rerun the paper's experiments, draw its figures, write REPORT.md."""
from generators.errors import InputError
from experiments.sweep import add_executor_args

EXPERIMENTS = ("xor", "twins", "quadrants")


def register(sub) -> None:
    p = sub.add_parser(
        "reproduce", help="rerun the paper's experiments and write figures and a report of claims",
        description="Rerun Bertolotti & Cazzola (ICML 2024): the XOR experiments (DH, NDH, YDH settings; "
        "transformer, mixer and bilinear; tied and untied; 5 seeds), the twin-word MLM experiment on "
        "toy-english, and the four relation quadrants. Writes OUT/REPORT.md (one row per claim: prediction, "
        "measured mean ± sd over seeds, pass/fail), OUT/claims.json, OUT/figures/*.png|pdf and every run "
        "under OUT/sweeps/. Rerunning the same command resumes: finished runs are not run again. The full "
        "mode (the paper's 150,000 steps) takes about 50 minutes on 2 cores; docs/results/full-mode in the "
        "project holds its report.",
    )
    p.add_argument("target", choices=["paper"], help="what to reproduce")
    p.add_argument("--quick", action="store_true",
                   help="short runs (under 5 minutes on 2 cores); geometry claims only")
    p.add_argument("--out", default="tying-paper", help="output folder (default: %(default)s)")
    p.add_argument("--only", default=",".join(EXPERIMENTS),
                   help="comma-separated subset of: " + ", ".join(EXPERIMENTS))
    add_executor_args(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.set_defaults(func=run)


def run(args) -> int:
    from experiments.reproduce import reproduce_paper

    only = [x.strip() for x in args.only.split(",") if x.strip()]
    bad = [x for x in only if x not in EXPERIMENTS]
    if bad or not only:
        raise InputError(f"--only: unknown experiment {bad[0] if bad else '(none)'!r} "
                         f"(expected some of {', '.join(EXPERIMENTS)})")
    report = reproduce_paper(args.out, quick=args.quick, workers=args.workers, dask=args.dask,
                             progress=not args.no_progress, only=tuple(only))
    print(f"wrote {report}")
    return 0
