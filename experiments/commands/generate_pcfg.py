"""``tying generate pcfg``: sentences of a probabilistic grammar, then DH transforms.

Registered by ``experiments/commands/generate.py`` on its subparsers.
"""
from __future__ import annotations

import argparse

from tying.core.errors import InputError
from tying.generators import BUILTIN, load_grammar, pcfg_corpus, FORMS, apply_steps
from tying.core.parsing import float_list

from .generate import add_output_options, add_seed_option, check_output, write_corpus


EPILOG = """\
transforms (repeatable; applied in the order given; they act on surface symbols):
  --split dog:0.5,0.5       dog becomes dog#1, dog#2 drawn independently of context with these
                            weights: uniform -> SE and CE; otherwise SE, not CE (constant ratio)
  --allomorph the:dog+cat/@Vt/^
                            the becomes the#1, the#2, the#3: the#i always after a symbol of group i
                            ('+' joins a group's members, '/' separates groups; @POS = every word of
                            that part of speech, ^ = sentence start), uniform after anything else:
                            not CE, the ratio depends on the context (SE under --task causal; under
                            mlm a masked predecessor breaks SE too); toy-english parts of speech:
                            Det ProS ProO Name N Adj Vt Vi P Adv Conj Rel
  --coin                    (--task causal) a fair coin H/T at a random position and later its copy
                            =H/=T: H and T are CE but not SE
  --merge dog,runs          one symbol dog|runs writes both meanings (homonymy)
  --twins 100:0.5           the 100 most frequent symbols each get a twin used with probability 0.5
                            (the paper's MLM experiment)

Over-long (> --max-length), too deep (> --max-depth) and empty sentences are
resampled, not truncated; the rejections are counted in the provenance.

example:
  tying generate pcfg --grammar toy-english --sequences 100000 --seed 1 --twins 100:0.5 -o twins.npz
"""


class _Step(argparse.Action):
    """Collect every transform option into one ordered list: (kind, spec)."""

    def __call__(self, parser, namespace, values, option_string=None):
        steps = list(getattr(namespace, self.dest) or [])
        steps.append((self.const, values if values != [] else None))
        setattr(namespace, self.dest, steps)


def register(gsub) -> None:
    p = gsub.add_parser(
        "pcfg", help="sentences of a probabilistic context-free grammar, with DH transforms",
        description="Sample sentences from a PCFG (NLTK format, or the built-in toy-english) as a corpus "
        "whose meanings are the words, then apply transforms that make the distributional hypothesis hold "
        "or break on purpose.", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False)
    p.add_argument("--grammar", default="toy-english", metavar="NAME|FILE",
                   help=f"built-in grammar ({', '.join(BUILTIN)}) or a grammar file (default %(default)s)")
    p.add_argument("--start", metavar="SYMBOL", help="start symbol (default: the first rule's left-hand side)")
    p.add_argument("--sequences", type=int, default=10000, metavar="N",
                   help="sentences (default %(default)s; at most 10,000,000, about two minutes, unless the "
                   "environment variable TYING_MAX_SEQUENCES allows more)")
    add_seed_option(p, help="seed of sampling and of the coin positions")
    p.add_argument("--task", choices=("mlm", "causal"), default="mlm", help="training task (default %(default)s)")
    p.add_argument("--mask-rate", type=float, default=None, metavar="R",
                   help="MLM: chance that each word is masked, 0 = exactly one per sentence (default 0.15)")
    p.add_argument("--max-length", type=int, default=64, metavar="L", help="longest sentence (default %(default)s)")
    p.add_argument("--max-depth", type=int, default=100, metavar="D",
                   help="deepest parse tree, in nonterminals from the root (default %(default)s)")
    p.add_argument("--splits", default="0.9,0.1,0", metavar="TRAIN,VAL,TEST",
                   help="fractions of the sentences, in order (default %(default)s)")
    for kind, form in FORMS.items():
        p.add_argument(f"--{kind}", action=_Step, const=kind, dest="transforms", metavar=form,
                       help=f"{kind} transform (repeatable; see below)")
    p.add_argument("--coin", action=_Step, const="coin", dest="transforms", nargs=0,
                   help="coin transform (--task causal; see below)")
    add_output_options(p)
    p.set_defaults(func=run, transforms=[])


def run(args) -> int:
    check_output(args)
    if args.mask_rate is not None and args.task != "mlm":
        raise InputError("--mask-rate applies to --task mlm only")
    grammar = load_grammar(args.grammar, start=args.start)
    corpus = pcfg_corpus(
        grammar, args.sequences, args.seed, task=args.task,
        mask_rate=0.15 if args.mask_rate is None else args.mask_rate, max_length=args.max_length,
        max_depth=args.max_depth, splits=float_list(args.splits, "--splits"))
    corpus = apply_steps(corpus, args.transforms, args.seed)
    write_corpus(corpus, args)
    s = corpus.provenance["sampling"]
    print(f"sampled {args.sequences} sentences from {grammar.source} in {s['tries']} tries (mean length "
          f"{s['mean_length']:.2f}; resampled {s['rejected']['length']} too long, {s['rejected']['depth']} too "
          f"deep, {s['rejected']['empty']} empty)")
    return 0
