"""Texts made in the tests (hand-written lines, toy-english sentences made noisy), a second tokenizer,
and a reader of a corpus's sequences as words: shared by test_text.py and test_text_transforms.py."""
from pathlib import Path

import numpy as np

from tying.generators import Corpus, load_grammar, pcfg_corpus

HAND = "The dog runs.\n\n  \nA cat, the dog!\r\nDon't\t stop"  # blank, whitespace-only, CRLF, no final newline


def words(c: Corpus) -> list[list[str]]:
    return [[c.meanings[m] for m in c.sequence(i)] for i in range(c.n_sequences)]


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def scan(line: str) -> list[str]:
    """A second tokenizer, character by character: runs of alphanumerics/_ are words, other non-space
    characters stand alone (the `words` rule, written without a regex)."""
    out, word = [], ""
    for ch in line.lower():
        if ch.isalnum() or ch == "_":
            word += ch
            continue
        if word:
            out.append(word)
            word = ""
        if not ch.isspace():
            out.append(ch)
    return out + ([word] if word else [])


def noisy_sentences(n: int, seed: int) -> str:
    """Toy-english sentences with capitals, punctuation, accented words, tabs, runs of spaces, CRLF and
    blank lines mixed in by a seeded rule."""
    c = pcfg_corpus(load_grammar("toy-english"), n, seed, task="causal", splits=(1, 0, 0))
    rng = np.random.default_rng(seed)
    lines = []
    for line in c.export("text").splitlines():
        ws = line.split()
        out = []
        for w in ws:
            r = rng.random()
            w = w.capitalize() if r < 0.1 else w + rng.choice([",", ";", "'s", "-x"]) if r < 0.2 else \
                "café" if r < 0.22 else "ÜBER" if r < 0.23 else w
            out.append(w)
        sep = rng.choice([" ", "  ", "\t", " \t "])
        lines.append(sep.join(out) + rng.choice([".", "!", "?", ""]))
        if rng.random() < 0.05:
            lines.append(rng.choice(["", "   ", "\t"]))
    return "".join(line + rng.choice(["\n", "\r\n"]) for line in lines)
