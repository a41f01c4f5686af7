"""``tying generate GENERATOR ...``: write a corpus file (.npz).

Shared option helpers for generator subcommands (``generate_pcfg`` and ``generate_text`` use them):
``add_output_options``, ``add_seed_option``, ``weight_list``,
``check_output`` and ``write_corpus``.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from tying.core import atomic
from tying.generators import SPLITS, Corpus, MAX_BITS, PAPER_SPLIT_SEED, check_weights, parity_corpus
from tying.core.errors import InputError
from tying.core.parsing import float_list

from .options import Parser, int_at_least


def add_output_options(p: argparse.ArgumentParser, what: str = "corpus file (.npz)") -> None:
    """-o/--output PATH (required) and --force."""
    p.add_argument("-o", "--output", required=True, metavar="PATH", help=f"the {what} to write")
    p.add_argument("--force", action="store_true", help="overwrite PATH if it exists")


def add_seed_option(p: argparse.ArgumentParser, default: int = 42, help: str = "random seed") -> None:
    """--seed S: a non-negative integer (argparse rejects anything else with exit code 2)."""
    p.add_argument("--seed", type=int_at_least(0), default=default, metavar="S", help=f"{help} (default {default})")


def weight_list(text: str, option: str) -> np.ndarray:
    """Weights that are finite, non-negative and sum to 1 within 1e-9."""
    return check_weights(float_list(text, option), option)


def check_output(args) -> Path:
    """Fail fast, before any work, when the output exists and --force is not given."""
    return atomic.check_target(args.output, args.force)


SHOWN = 40  # symbols named in the summary line; a text corpus may have tens of thousands (tying inspect lists all)


def write_corpus(corpus: Corpus, args) -> Path:
    """Save atomically and print a one-line summary."""
    path = corpus.save(args.output, force=args.force)
    sizes = ", ".join(f"{s} {np.count_nonzero(corpus.split == i)}" for i, s in enumerate(SPLITS))
    shown = " ".join(corpus.vocab[:SHOWN]) + (f" ... ({corpus.vocab_size - SHOWN} more)" if corpus.vocab_size > SHOWN
                                              else "")
    print(f"wrote {path}: {corpus.provenance.get('generator', 'corpus')}, {corpus.n_sequences} sequences "
          f"({sizes}), {corpus.vocab_size} symbols: {shown}")
    return path


def run_parity(args) -> int:
    if args.paper_split and (args.splits is not None or args.seed is not None):
        raise InputError("--paper-split fixes the split: it takes --split-seed, not --splits or --seed")
    if args.split_seed is not None and not args.paper_split:
        raise InputError("--split-seed goes with --paper-split (without it, --seed seeds the split)")
    check_output(args)
    corpus = parity_corpus(
        bits=args.bits, zero=weight_list(args.zero, "--zero"), one=weight_list(args.one, "--one"),
        splits=float_list(args.splits or "0.9,0.1,0", "--splits"), seed=42 if args.seed is None else args.seed,
        paper_split=args.paper_split, split_seed=PAPER_SPLIT_SEED if args.split_seed is None else args.split_seed,
    )
    write_corpus(corpus, args)
    return 0


def register(subparsers) -> None:

    p = subparsers.add_parser(
        "generate", help="generate a corpus", description="Generate a corpus and save it as one .npz file "
        "(sequences of meanings, realization rules, ground-truth relations, provenance, sha256).")
    gsub = p.add_subparsers(dest="generator", required=True, metavar="GENERATOR", parser_class=Parser)
    pp = gsub.add_parser(
        "parity", help="the paper's parity (XOR) task",
        description="All 2^BITS bit strings followed by their parity label; MLM with exactly one masked bit. "
        "Each bit value is written as one of several surface symbols drawn independently with the given "
        "weights. Vocabulary: zero-variants, one-variants, L0, L1, [MASK]. The paper: --zero 0.1,0.9 "
        "--one 0.5,0.5 (DH), --zero 1,0 --one 0.1,0.9 (NDH), --zero 1,0 --one 0.5,0.5 (YDH).",
    )
    pp.add_argument("--bits", type=int, default=7, help=f"bits per string, 1..{MAX_BITS} (default %(default)s)")
    for bit, default in (("zero", "0.1,0.9"), ("one", "0.5,0.5")):
        pp.add_argument(f"--{bit}", default=default, metavar="W,W,...",
                        help=f"weights of the surface variants of bit {bit} (default %(default)s)")
    pp.add_argument("--splits", default=None, metavar="TRAIN,VAL,TEST",
                    help="fractions of the 2^BITS strings, rounded cumulatively; 1,0,0 puts the whole "
                    "population in train (default 0.9,0.1,0)")
    pp.add_argument("--seed", type=int_at_least(0), default=None, metavar="S",
                    help="seed of the split shuffle (default 42)")
    pp.add_argument("--paper-split", action="store_true",
                    help="the split of the paper's code, shared by all its runs: the all-ones string left out, "
                    "the other 2^BITS - 1 shuffled by Python's random.Random(14) and cut 90%%/10%%/rest by "
                    "truncation (114/12/1 strings for 7 bits)")
    pp.add_argument("--split-seed", type=int_at_least(0), default=None, metavar="S",
                    help="with --paper-split: another shuffle seed, for a random split of the paper's shape "
                    "(default 14, the paper's)")
    add_output_options(pp)
    pp.set_defaults(func=run_parity)

    from . import generate_pcfg, generate_text  # they import this module's helpers, so not at the top

    generate_pcfg.register(gsub)
    generate_text.register(gsub)
