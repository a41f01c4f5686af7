"""Options shared by the generators of sentence corpora (``generate pcfg``, ``generate text``):
task, mask rate, splits, longest sentence, and the DH transforms."""
from __future__ import annotations

import argparse

from tying.core.errors import InputError
from tying.core.parsing import float_list
from tying.generators import FORMS, LONG_LINES

from .options import int_at_least

TRANSFORMS_HELP = """\
transforms (repeatable; applied in the order given; they act on surface symbols):
  --split dog:0.5,0.5       dog becomes dog#1, dog#2 drawn independently of context with these
                            weights: uniform -> SE and CE; otherwise SE, not CE (constant ratio)
  --allomorph the:dog+cat/@Vt/^
                            the becomes the#1, the#2, the#3: the#i always after a symbol of group i
                            ('+' joins a group's members, '/' separates groups; @POS = every word of
                            that part of speech, ^ = sentence start), uniform after anything else:
                            not CE, the ratio depends on the context (SE under --task causal; under
                            mlm a masked predecessor breaks SE too){pos}
  --coin                    (--task causal) a fair coin H/T at a random position and later its copy
                            =H/=T: H and T are CE but not SE
  --merge dog,runs          one symbol dog|runs writes both meanings (homonymy)
  --twins 100:0.5           the 100 most frequent symbols each get a twin used with probability 0.5
                            (the paper's MLM experiment)
"""


class Step(argparse.Action):
    """Collect every transform option into one ordered list: (kind, spec)."""

    def __call__(self, parser, namespace, values, option_string=None):
        steps = list(getattr(namespace, self.dest) or [])
        steps.append((self.const, values if values != [] else None))
        setattr(namespace, self.dest, steps)


def sentence_parser(gsub, name: str, help: str, source: str, epilog: str) -> argparse.ArgumentParser:
    """The subparser of a sentence generator; ``source`` says what becomes the corpus."""
    return gsub.add_parser(
        name, help=help, description=f"{source}, then apply transforms that make the distributional hypothesis "
        "hold or break on purpose.", epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False)


def add_sentence_options(p: argparse.ArgumentParser, what: str = "sentences") -> None:
    """--task, --mask-rate, --max-length L, --splits."""
    p.add_argument("--task", choices=("mlm", "causal"), default="mlm", help="training task (default %(default)s)")
    p.add_argument("--mask-rate", type=float, default=None, metavar="R",
                   help="MLM: chance that each word is masked, 0 = exactly one per sentence (default 0.15)")
    p.add_argument("--max-length", type=int, default=64, metavar="L", help="longest sentence (default %(default)s)")
    p.add_argument("--splits", default="0.9,0.1,0", metavar="TRAIN,VAL,TEST",
                   help=f"fractions of the {what} (default %(default)s)")


def add_text_options(p: argparse.ArgumentParser, note: str = "") -> None:
    """--tokenizer, --min-count, --long-lines: how a text file becomes a corpus (text_corpus)."""
    p.add_argument("--tokenizer", default="words", metavar="words|chars|PATH",
                   help=f"how lines become tokens{note} (default %(default)s; see below)")
    p.add_argument("--min-count", type=int_at_least(1), default=1, metavar="N",
                   help=f"tokens seen fewer than N times (in the lines kept) become [UNK]{note} (default %(default)s)")
    p.add_argument("--long-lines", choices=LONG_LINES, default="drop",
                   help="a line of more than --max-length tokens is dropped, cut to its first L tokens, or cut "
                   f"into chunks of at most L{note} (default %(default)s)")


def text_args(args) -> dict:
    return {"tokenizer": args.tokenizer, "min_count": args.min_count, "long_lines": args.long_lines}


def add_transform_options(p: argparse.ArgumentParser) -> None:
    for kind, form in FORMS.items():
        p.add_argument(f"--{kind}", action=Step, const=kind, dest="transforms", metavar=form,
                       help=f"{kind} transform (repeatable; see below)")
    p.add_argument("--coin", action=Step, const="coin", dest="transforms", nargs=0,
                   help="coin transform (--task causal; see below)")
    p.set_defaults(transforms=[])


def sentence_args(args) -> dict:
    """The keyword arguments of pcfg_corpus / text_corpus that add_sentence_options gives."""
    if args.mask_rate is not None and args.task != "mlm":
        raise InputError("--mask-rate applies to --task mlm only")
    return {"task": args.task, "mask_rate": 0.15 if args.mask_rate is None else args.mask_rate,
            "max_length": args.max_length, "splits": float_list(args.splits, "--splits")}
