"""`tying reproduce paper`: rerun the paper's experiments, draw its figures, write REPORT.md."""
from tying.core.errors import InputError
from .options import add_executor_args

# the experiment names of experiments.reproduce, written out so that --help needs no numba import
EXPERIMENTS = ("xor", "xor-long", "splits", "contrast", "contrast-long", "twins", "quadrants")


def register(sub) -> None:
    p = sub.add_parser(
        "reproduce", help="rerun the paper's experiments and write figures and a report of claims",
        description="Rerun Bertolotti & Cazzola (ICML 2024) on the paper's own data split: the XOR experiments (DH, NDH, "
        "YDH settings; transformer, mixer and bilinear; tied and untied; 5 seeds; the paper's 150,000 steps), "
        "the transformer's XOR grid at 600,000 steps, split sensitivity (DH, untied, on 10 random splits of "
        "the paper's shape x 3 seeds), the twin-word MLM experiment on toy-english, and the four relation "
        "quadrants (transformer). Writes OUT/REPORT.md (one row per claim: criterion, measured mean ± sd over "
        "seeds with 95% intervals for rates, pass/fail), OUT/claims.json, OUT/figures/*.png|pdf and every run "
        "under OUT/sweeps/. Rerunning the same command resumes: finished runs are not run again. On a 2-core "
        "2.1 GHz Xeon the full mode is about 7 h of worker time (3.5 h on 2 cores); --only runs a part of it.",
    )
    p.add_argument("target", choices=["paper"], help="what to reproduce")
    p.add_argument("--quick", action="store_true",
                   help="the paper's 150,000-step protocol on the transformer only, DH and NDH, one seed, and "
                   "the twins (about 4 minutes on 2 cores of a 2.1 GHz Xeon, numba compilation included)")
    p.add_argument("--out", default="tying-paper", help="output folder (default: %(default)s)")
    p.add_argument("--only", default=",".join(EXPERIMENTS),
                   help="comma-separated subset of: " + ", ".join(EXPERIMENTS))
    add_executor_args(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.set_defaults(func=run)


def run(args) -> int:
    from tying.experiments.reproduce import reproduce_paper

    only = [x.strip() for x in args.only.split(",") if x.strip()]
    bad = [x for x in only if x not in EXPERIMENTS]
    if bad or not only:
        raise InputError(f"--only: unknown experiment {bad[0] if bad else '(none)'!r} "
                         f"(expected some of {', '.join(EXPERIMENTS)})")
    report = reproduce_paper(args.out, quick=args.quick, workers=args.workers, dask=args.dask,
                             progress=not args.no_progress, only=tuple(only))
    print(f"wrote {report}")
    return 0
