"""``tying generate pcfg``: sentences of a probabilistic grammar, then DH transforms.

Registered by ``experiments/commands/generate.py`` on its subparsers.
"""
from __future__ import annotations

from tying.generators import BUILTIN, load_grammar, pcfg_corpus, apply_steps

from .corpus_options import (TRANSFORMS_HELP, add_sentence_options, add_transform_options, sentence_args,
                             sentence_parser)
from .generate import add_output_options, add_seed_option, check_output, write_corpus


EPILOG = TRANSFORMS_HELP.format(pos="; toy-english parts of speech:\n"
                                  "                            Det ProS ProO Name N Adj Vt Vi P Adv Conj Rel") + """
Over-long (> --max-length), too deep (> --max-depth) and empty sentences are
resampled, not truncated; the rejections are counted in the provenance.

example:
  tying generate pcfg --grammar toy-english --sequences 100000 --seed 1 --twins 100:0.5 -o twins.npz
"""


def register(gsub) -> None:
    p = sentence_parser(
        gsub, "pcfg", "sentences of a probabilistic context-free grammar, with DH transforms",
        "Sample sentences from a PCFG (NLTK format, or the built-in toy-english) as a corpus whose meanings are "
        "the words", EPILOG)
    p.add_argument("--grammar", default="toy-english", metavar="NAME|FILE",
                   help=f"built-in grammar ({', '.join(BUILTIN)}) or a grammar file (default %(default)s)")
    p.add_argument("--start", metavar="SYMBOL", help="start symbol (default: the first rule's left-hand side)")
    p.add_argument("--sequences", type=int, default=10000, metavar="N",
                   help="sentences (default %(default)s; at most 10,000,000, about two minutes, unless the "
                   "environment variable TYING_MAX_SEQUENCES allows more)")
    add_seed_option(p, help="seed of sampling and of the coin positions")
    add_sentence_options(p, "sentences, in order")
    p.add_argument("--max-depth", type=int, default=100, metavar="D",
                   help="deepest parse tree, in nonterminals from the root (default %(default)s)")
    add_transform_options(p)
    add_output_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    check_output(args)
    kw = sentence_args(args)
    grammar = load_grammar(args.grammar, start=args.start)
    corpus = pcfg_corpus(grammar, args.sequences, args.seed, max_depth=args.max_depth, **kw)
    corpus = apply_steps(corpus, args.transforms, args.seed)
    write_corpus(corpus, args)
    s = corpus.provenance["sampling"]
    print(f"sampled {args.sequences} sentences from {grammar.source} in {s['tries']} tries (mean length "
          f"{s['mean_length']:.2f}; resampled {s['rejected']['length']} too long, {s['rejected']['depth']} too "
          f"deep, {s['rejected']['empty']} empty)")
    return 0
