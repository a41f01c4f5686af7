"""``tying audit CORPUS --out DIR``: should these symbols be tied?  Distances from SE and CE with CIs."""
from __future__ import annotations

import argparse

from tying.core import atomic
from tying.experiments.audit import corpus_from_source, summary, write_audit
from tying.generators import SPLITS, audit
from tying.generators.audit import CE_MIN, MIN_TARGETS, SE_MAX

from .corpus_options import add_text_options, text_args

EPILOG = f"""\
For every pair of the K most frequent target symbols, estimated from the
N-symbol contexts of the targets (N on each side for mlm, N before for causal):

  se_dist   distance from SE: the mean, over swaps x -> x' (one input a of a
            context x replaced by b, or b by a, with x and x' both observed;
            each swap weighs p(x)), of ||p(.|x) - p(.|x')||^2, the squared L2
            distance between the two target distributions; 0 exactly when the
            pair is SE.  Estimated without bias, so it may come out negative.
  ce_dist   distance from CE: D(a, b) = sum_x p(x) (p(a|x) + p(b|x))
            KL(Bern(rho_x) || Bern(1/2)) nats, rho_x = p(a|x) / (p(a|x) + p(b|x)),
            what merging the pair's output rows costs per prediction; the
            plug-in estimate, jackknifed, and still too large where most
            contexts were seen once (ce_plugin: without the jackknife).
  ce_gap    sum_x p(x) (p(a|x) - p(b|x))^2, unbiased, 0 exactly when CE.

CIs: percentile intervals of B bootstrap resamples of the realized sequences.
Flags: se is no when the CI of se_dist excludes 0, yes when it reaches 0 and
ends below --se-max (default {SE_MAX:g}: the data pin the pair near SE rather
than fail to tell), else undecided, as it is with fewer than {MIN_TARGETS}
counted targets in the contexts of the pair's swaps.  ce is no when the CI of
ce_gap excludes 0, else yes.  A pair is listed as close to SE but far from CE
(tying costs the most) when se is yes, ce is no and the CI of D lies above
--ce-min nats (default {CE_MIN:g}: merging the two output rows raises the
perplexity by at least 0.1%).

A CORPUS that is not a .npz is read as text, one sentence per line, with the
tokenizers of tying generate text (see its --help), seed 0 for the split.

writes DIR/audit.csv, DIR/audit.json (with the definitions), DIR/audit.png/.pdf

example:
  tying generate pcfg --sequences 20000 --split the:0.5,0.5 --split dog:0.1,0.9 -o c.npz
  tying audit c.npz --top-k 20 --k 2 --boot 200 --out audit-c
  tying audit sentences.txt --min-count 5 --out audit-text
"""


def register(subparsers) -> None:
    from .generate import add_seed_option
    from .options import int_at_least

    p = subparsers.add_parser(
        "audit", help="estimate how far frequent symbol pairs are from SE and from CE, with CIs",
        description="Should I tie on this data? For the most frequent symbols of a corpus, estimate from "
        "samples how far each pair is from semantic equivalence (SE) and from conditional equivalence (CE), "
        "with sample counts and bootstrap intervals, and list the pairs where tying costs the most.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    p.add_argument("corpus", metavar="CORPUS",
                   help="a corpus file (.npz, from tying generate) or a UTF-8 text file, one sentence per line "
                   "(read as tying generate text reads it)")
    p.add_argument("--top-k", type=int_at_least(2), default=20, metavar="K",
                   help="audit every pair of the K most frequent targets (default %(default)s)")
    p.add_argument("--k", type=int_at_least(0), default=2, metavar="N",
                   help="context: N symbols on each side of an mlm target, N before a causal one "
                   "(default %(default)s)")
    p.add_argument("--boot", type=int_at_least(2), default=200, metavar="B",
                   help="bootstrap resamples of the sequences (default %(default)s)")
    add_seed_option(p, default=0, help="seed of the realization and of the resamples")
    p.add_argument("--split", choices=(*SPLITS, "all"), default="all", help="sequences to audit (default all)")
    p.add_argument("--draws", type=int_at_least(1), default=1, metavar="N",
                   help="seeded realizations of the corpus to count (default %(default)s)")
    p.add_argument("--ce-min", type=float, default=CE_MIN, metavar="NATS",
                   help="D above which a pair is far from CE (default %(default)s)")
    p.add_argument("--se-max", type=float, default=SE_MAX, metavar="D",
                   help="largest upper CI end of se_dist for an SE verdict (default %(default)s)")
    text = p.add_argument_group("a text file CORPUS (ignored for a .npz)")
    text.add_argument("--task", choices=("mlm", "causal"), default="mlm", help="training task (default %(default)s)")
    text.add_argument("--max-length", type=int_at_least(1), default=64, metavar="L",
                      help="longest line in tokens (default %(default)s)")
    add_text_options(text)
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write")
    p.add_argument("--force", action="store_true", help="replace DIR if it exists")
    p.set_defaults(func=run)


def run(args) -> int:
    atomic.check_target(args.out, args.force, folder=True)  # fail before the work, not after it
    corpus = corpus_from_source(args.corpus, task=args.task, max_length=args.max_length, **text_args(args))
    table = audit(corpus, top_k=args.top_k, k=args.k, boot=args.boot, seed=args.seed,
                  split=None if args.split == "all" else args.split, draws=args.draws, ce_min=args.ce_min,
                  se_max=args.se_max)
    out = write_audit(table, args.out, args.force, title=str(args.corpus))
    print("\n".join(summary(table)))
    print(f"wrote {out}/audit.csv, audit.json, audit.png")
    return 0
