"""``tying export PATH --format text|jsonl -o OUT``: one seeded surface realization as plain files."""
from __future__ import annotations

from tying.core import atomic
from tying.generators import Corpus


def run(args) -> int:
    out = atomic.check_target(args.output, args.force)
    corpus = Corpus.load(args.path)
    atomic.write_text(out, corpus.export(args.format, seed=args.seed))
    print(f"wrote {out}: {corpus.n_sequences} sequences as {args.format}")
    return 0


def register(subparsers) -> None:
    from tying.experiments.commands.generate import add_output_options, add_seed_option

    p = subparsers.add_parser(
        "export", help="export a corpus as text or JSONL",
        description="Write one seeded realization of every sequence: 'text' puts one sequence per line with "
        "symbols separated by spaces; 'jsonl' writes one JSON object per line with split, tokens, ids and "
        "meanings.")
    p.add_argument("path", metavar="PATH", help="corpus file (.npz)")
    p.add_argument("--format", required=True, choices=("text", "jsonl"), help="output format")
    add_seed_option(p, default=0, help="seed of the realization")
    add_output_options(p, what="text or JSONL file")
    p.set_defaults(func=run)
