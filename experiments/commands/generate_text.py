"""``tying generate text``: the lines of a text file as a corpus, then DH transforms.

Registered by ``experiments/commands/generate.py`` on its subparsers.
"""
from __future__ import annotations

from tying.generators import apply_steps, text_corpus

from .corpus_options import (TRANSFORMS_HELP, add_sentence_options, add_text_options, add_transform_options,
                             sentence_args, sentence_parser, text_args)
from .generate import add_output_options, add_seed_option, check_output, write_corpus

TOKENIZERS_HELP = """\
tokenizers:
  words    lowercase; a word is a run of letters, digits or '_', and every other
           non-space character (punctuation) is a token of its own:
           "Don't stop!" -> don ' t stop !
  chars    one token per character, case kept; a run of spaces or tabs inside a
           line is one token \u2423 (U+2423), spaces at either end are dropped
  PATH     a Hugging Face tokenizer.json (needs: pip install 'tying[text]'); its
           tokens, no special tokens added; the [UNK] it writes is our [UNK]

Symbols are ordered by frequency (ties alphabetically); those seen fewer than
--min-count times become [UNK].  Blank lines are skipped; lines longer than
--max-length tokens are dropped, truncated or cut into chunks (--long-lines);
each is counted in the provenance, with the file's sha256.  The lines stay in
file order; the seed draws which split each line is in.  Text corpora have no
parts of speech: an allomorph lists its preceding symbols (the:saw+knew/^).

"""

EPILOG = TOKENIZERS_HELP + TRANSFORMS_HELP.format(pos=";\n                            a text corpus has no parts of speech: list symbols, no @POS") + """
example (the paper's MLM experiment on your own text):
  tying generate text --file sentences.txt --min-count 5 --twins 100:0.5 -o twins.npz
"""


def register(gsub) -> None:
    p = sentence_parser(
        gsub, "text", "the lines of a text file (one sentence per line), with DH transforms",
        "Tokenize a UTF-8 text file, one sentence per line, into a corpus whose meanings are the tokens (each "
        "written as itself)", EPILOG)
    p.add_argument("--file", required=True, metavar="FILE", help="the text file (UTF-8, one sentence per line)")
    add_text_options(p)
    add_sentence_options(p, "lines, drawn with --seed")
    add_seed_option(p, default=0, help="seed of the split and of the coin positions")
    add_transform_options(p)
    add_output_options(p)
    p.set_defaults(func=run)


def run(args) -> int:
    check_output(args)
    corpus = text_corpus(args.file, seed=args.seed, **text_args(args), **sentence_args(args))
    corpus = apply_steps(corpus, args.transforms, args.seed)
    write_corpus(corpus, args)
    r = corpus.provenance["reading"]
    long = {"drop": "dropped", "truncate": "truncated", "chunk": "cut into chunks"}[args.long_lines]
    print(f"read {r['lines_read']} lines of {args.file}: {r['blank']} blank, {r['long']} longer than "
          f"{args.max_length} tokens ({long}); {r['tokens']} tokens of {r['types']} types, {r['unk_tokens']} "
          f"[UNK] ({r['unk_types']} types)")
    return 0
