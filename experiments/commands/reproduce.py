"""`tying reproduce paper|variants`: rerun the paper's experiments, or compare tying variants; figures and REPORT.md."""
from tying.core.errors import InputError
from .options import add_executor_args

# the experiment names of experiments.plan and experiments.reproduce_variants, written out so that --help needs
# no numba import (tests/test_reproduce.py keeps them equal)
EXPERIMENTS = ("xor", "xor-long", "xor-seeds", "splits", "contrast", "contrast-long", "twins", "quadrants")
VARIANT_EXPERIMENTS = ("xor", "lm")  # experiments.reproduce_variants.EXPERIMENTS


def register(sub) -> None:
    p = sub.add_parser(
        "reproduce", help="rerun the paper's experiments and write figures and a report of claims",
        description="Rerun Bertolotti & Cazzola (ICML 2024) on the paper's own data split: the XOR experiments (DH, NDH, "
        "YDH settings; transformer, mixer and bilinear; tied and untied; 5 seeds; the paper's 150,000 steps), "
        "the transformer's XOR grid at 600,000 steps, its DH and NDH cells at 10 more seeds, split sensitivity (DH, untied, on 10 random splits of "
        "the paper's shape x 3 seeds), the tied/untied contrast across splits (transformer, DH and NDH, 10 random "
        "splits at 150,000 steps and 5 at 600,000), the twin-word MLM experiment on toy-english, and the four relation "
        "quadrants (transformer). Writes OUT/REPORT.md (one row per claim: criterion, measured mean ± sd over "
        "seeds with 95% intervals for rates, pass/fail), OUT/claims.json, OUT/figures/*.png|pdf and every run "
        "under OUT/sweeps/. Rerunning the same command resumes: finished runs are not run again. On a 2-core "
        "2.1 GHz Xeon the full mode is about 8 h of worker time (4 h on 2 cores); --only runs a part of it.\n\n"
        "`tying reproduce variants` compares the tying variants (untied, tied, input-gradient scale alpha = "
        "0.25, 4, 16, partial tying k = d/2, input multiplier c = sqrt(d), a learned map E_out = E W) on the "
        "paper's XOR settings (DH, NDH; paper-small transformer, 150,000 steps) and on toy-english with 'the' "
        "split into two SE copies at weights q = 0.5 (the DH holds), 0.25, 0.1, 0.03, plus the coin and an "
        "unrelated pair: the price of tying (excess training loss over untied), the DH-broken and DH-holding "
        "pairs' distances, accuracy against Bayes, and the figure 'price of tying against D'. Full mode: about "
        "80 min of worker time; quick mode: toy-english at q = 0.5 and 0.1, one seed, about 4 minutes (251 s from a fresh venv, install included).",
    )
    p.add_argument("target", choices=["paper", "variants"], help="what to reproduce: the paper, or the tying variants")
    p.add_argument("--quick", action="store_true",
                   help="paper: the paper's 150,000-step protocol on the transformer only, DH and NDH, one seed, and "
                   "the twins (about 4 minutes on 2 cores of a 2.1 GHz Xeon, numba compilation included); "
                   "variants: toy-english at q = 0.5 and 0.1, every variant, one seed")
    p.add_argument("--out", default=None, help="output folder (default: tying-paper or tying-variants)")
    p.add_argument("--only", default=None,
                   help="comma-separated subset of the experiments: for paper " + ", ".join(EXPERIMENTS)
                   + "; for variants " + ", ".join(VARIANT_EXPERIMENTS) + " (default: all)")
    add_executor_args(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.set_defaults(func=run)


def run(args) -> int:
    names = EXPERIMENTS if args.target == "paper" else VARIANT_EXPERIMENTS
    only = [x.strip() for x in (args.only or ",".join(names)).split(",") if x.strip()]
    bad = [x for x in only if x not in names]
    if bad or not only:
        raise InputError(f"--only: unknown experiment {bad[0] if bad else '(none)'!r} for {args.target} "
                         f"(expected some of {', '.join(names)})")
    out = args.out or f"tying-{args.target}"
    if args.target == "paper":
        from tying.experiments.reproduce import reproduce_paper as reproduce
    else:
        from tying.experiments.reproduce_variants import reproduce_variants as reproduce
    report = reproduce(out, quick=args.quick, workers=args.workers, dask=args.dask, progress=not args.no_progress,
                       only=tuple(only))
    print(f"wrote {report}")
    return 0
