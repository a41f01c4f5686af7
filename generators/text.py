"""A corpus from a text file: one sentence per line, tokenized, indexed, split.

Tokenizers:

* ``words``: lowercase, then every run of letters/digits/underscore (Unicode
  ``\\w+``) is a word and every other non-space character is a token of its
  own, so punctuation is kept ("Don't!" -> don ' t !).
* ``chars``: one token per character, case kept; a run of whitespace inside a
  line is one token ``␣`` (U+2423; the character itself in the text is read as
  that token too), whitespace at either end of a line is dropped.
* a path to a Hugging Face ``tokenizer.json`` (the optional ``tokenizers``
  package, extra ``text``): its tokens without special tokens added; a token
  ``[UNK]`` it writes is our ``[UNK]``.

The file is streamed in chunks of whole lines; ids are given incrementally by
a dict, kept as int32 arrays per chunk (no Python list of the file's tokens),
and renumbered at the end by one array lookup: by frequency, most frequent
first, ties alphabetically, words seen fewer than ``min_count`` times folded
into ``[UNK]`` (after the words).  Blank lines (no tokens) are skipped.  Lines
of more than ``max_length`` tokens are dropped (``long_lines="drop"``), cut to
their first ``max_length`` tokens (``"truncate"``) or cut into consecutive
pieces of at most ``max_length`` (``"chunk"``); each case is counted in the
provenance.  A fixed file cannot be resampled, so "drop" is the analogue of the
PCFG's rejection.

Splits: the sequences stay in file order; a seeded random permutation of the
split codes (sizes by cumulative rounding, as for the PCFG) says which split
each sequence is in, so consecutive lines of one document land in different
splits and the same seed gives the same corpus bit for bit.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np

from tying.core.errors import InputError
from tying.core.version import package_version
from .corpus import TASKS, Corpus, Realization
from .parity import check_fractions, split_sizes

UNK, MASK, SPACE = "[UNK]", "[MASK]", "\u2423"
_END = "\0"  # a line end among the tokens: no tokenizer writes it, the file has no NUL byte
TOKENIZERS = ("words", "chars")
LONG_LINES = ("drop", "truncate", "chunk")
CHUNK = 1 << 18  # bytes read at a time: the tokens of one chunk are the only per-token Python objects alive

_PUNCT = re.compile(r"([^\w\s])")  # spaced out, then str.split: \w+ runs are words, other non-spaces tokens
_CHARS = re.compile(r"[^\S\n]+|.|\n")  # a whitespace run, any other character, or a line end


class _Tokenizer:
    def __init__(self, spec: str):
        self.name = spec
        if spec in TOKENIZERS:
            self.hf = None
            return
        path = Path(spec)
        if not path.is_file():
            raise InputError(f"unknown tokenizer {spec!r}: expected words, chars or a tokenizer.json file")
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise InputError(f"tokenizer {spec}: needs the optional 'tokenizers' package "
                             "(pip install 'tying[text]')") from None
        try:
            self.hf = Tokenizer.from_file(str(path))
        except Exception as e:  # the Rust side raises its own exception type on a bad file
            raise InputError(f"tokenizer {spec}: not a tokenizer.json ({str(e).splitlines()[0][:80]})") from None
        self.sha256 = hashlib.sha256(path.read_bytes()).hexdigest()

    def tokens(self, text: str) -> list[str]:
        """The tokens of whole lines, each line ended by the token _END."""
        if self.name == "words":  # re.split + str.split run in C: faster than findall (and than sub's templates)
            return " ".join(_PUNCT.split(text.lower())).replace("\n", " \0 ").split()
        if self.name == "chars":
            return [SPACE if t.isspace() and t != "\n" else _END if t == "\n" else t
                    for t in _CHARS.findall("\n".join(s.strip() for s in text.split("\n")))]
        out = []
        for enc in self.hf.encode_batch(text.split("\n")[:-1], add_special_tokens=False):
            out += enc.tokens
            out.append(_END)
        return out


def _chunks(path: Path, sha):
    """Texts of whole lines, each ending in "\\n"; raises on a NUL byte or invalid UTF-8, naming where."""
    pending, line, offset = [], 1, 0  # pending: the blocks of a line not ended yet
    with open(path, "rb") as f:
        while True:
            block = f.read(CHUNK)
            sha.update(block)
            if block:
                cut = block.rfind(b"\n") + 1
                if cut == 0:  # a line longer than a chunk: read on (joined once, not copied per block)
                    pending.append(block)
                    continue
                part, pending = b"".join(pending + [block[:cut]]), [block[cut:]]
            else:
                part = b"".join(pending)
                if not part:
                    return
                part += b"\n" * (not part.endswith(b"\n"))
            nul = part.find(b"\0")
            if nul >= 0:
                where = line + part.count(b"\n", 0, nul)
                raise InputError(f"{path}: a binary file, not text (NUL byte at byte offset {offset + nul}, "
                                 f"line {where})")
            try:
                text = part.decode("utf-8")
            except UnicodeDecodeError as e:
                where = line + part.count(b"\n", 0, e.start)
                raise InputError(f"{path}: line {where}: invalid UTF-8 at byte offset {offset + e.start}") from None
            yield text[1:] if offset == 0 and text.startswith("\ufeff") else text  # a byte-order mark is no token
            line, offset = line + part.count(b"\n"), offset + len(part)
            if not block:
                return


def read_tokens(path, tokenizer: str = "words"):
    """(ids int32, tokens per line int32, names of the ids, the file's sha256, lines read, the tokenizer);
    ids in order of first appearance, 0 for none (it marked the line ends)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"text file not found: {path}")
    tok = _Tokenizer(tokenizer)
    index: dict[str, int] = {_END: 0}  # id 0 marks a line end and is dropped from the ids
    size = path.stat().st_size
    ids, used, lengths, lines = np.zeros(0, np.int32), 0, [], 0
    sha = hashlib.sha256()
    for text in _chunks(path, sha):
        toks = tok.tokens(text)
        for t in dict.fromkeys(toks):  # the chunk's types, in order of first appearance
            if t not in index:
                index[t] = len(index)
        a = np.fromiter(map(index.__getitem__, toks), np.int32, len(toks))
        ends = np.flatnonzero(a == 0)
        lengths.append((np.diff(ends, prepend=-1) - 1).astype(np.int32))
        a = a[a != 0]
        if used + len(a) > len(ids):  # sized from the first chunk's tokens per character, grown rarely
            grow = int(1.05 * len(a) * size / max(len(text), 1)) if used == 0 else int(0.25 * len(ids))
            bigger = np.empty(used + len(a) + max(grow, 1024), np.int32)
            bigger[:used] = ids[:used]
            ids = bigger
        ids[used : used + len(a)] = a
        used += len(a)
        lines += len(ends)
    names = list(index)
    lengths = np.concatenate(lengths) if lengths else np.zeros(0, np.int32)
    return ids[:used], lengths, names, sha.hexdigest(), lines, tok


def text_corpus(path, *, tokenizer: str = "words", min_count: int = 1, task: str = "mlm", mask_rate: float = 0.15,
                max_length: int = 64, splits=(0.9, 0.1, 0.0), seed: int = 0, long_lines: str = "drop") -> Corpus:
    """The lines of a UTF-8 text file as a Corpus whose meanings are the tokens (see the module docstring).

    Each token is written as itself (identity realization); MLM adds ``[MASK]`` last.
    """
    if task not in TASKS:
        raise InputError(f"unknown task {task!r} (expected one of {', '.join(TASKS)})")
    if isinstance(mask_rate, bool) or not isinstance(mask_rate, (int, float)) or not 0.0 <= mask_rate <= 1.0:
        raise InputError(f"mask rate must be in [0, 1], got {mask_rate}")
    for x, name, low in ((min_count, "min count", 1), (max_length, "max length", 1), (seed, "seed", 0)):
        if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < low:
            raise InputError(f"{name} must be an integer >= {low}, got {x!r}")
    if long_lines not in LONG_LINES:
        raise InputError(f"unknown long-lines rule {long_lines!r} (expected one of {', '.join(LONG_LINES)})")
    fr = check_fractions(splits)
    ids, lengths, names, sha, lines, tok = read_tokens(path, tokenizer)
    if MASK in names:
        raise InputError(f"{path}: the tokenizer writes the reserved token {MASK!r}")
    tokens_read = len(ids)
    if tokens_read == 0:
        raise InputError(f"{path}: no tokens ({lines} lines read, all blank)")
    blank = int(np.count_nonzero(lengths == 0))
    lengths = lengths[lengths > 0]
    long = lengths > max_length
    n_long = int(np.count_nonzero(long))
    if long_lines == "drop" and n_long == len(lengths):
        raise InputError(f"{path}: every line is longer than max length {max_length} tokens "
                         "(raise --max-length, or --long-lines truncate|chunk)")
    if long_lines in ("drop", "truncate") and n_long:
        ids = _keep(ids, lengths, long, max_length if long_lines == "truncate" else 0)
        lengths = lengths[~long] if long_lines == "drop" else np.minimum(lengths, max_length)
    elif long_lines == "chunk" and n_long:
        pieces = -(-lengths // max_length)
        starts = np.repeat(np.cumsum(pieces) - pieces, pieces)
        lengths = np.minimum(np.repeat(lengths, pieces) - max_length * (np.arange(pieces.sum()) - starts),
                             max_length)
    counts = np.zeros(len(names), np.int64)
    for b in _blocks(len(ids)):  # bincount and take copy int32 ids to int64: keep those copies small
        counts += np.bincount(ids[b], minlength=len(names))
    rare = (counts < min_count) | (np.asarray([n == UNK for n in names]))
    rare[0] = False
    kept = [i for i in range(1, len(names)) if counts[i] and not rare[i]]
    kept.sort(key=lambda i: (-counts[i], names[i]))
    words = [names[i] for i in kept]
    unk_tokens = int(counts[rare].sum())
    if unk_tokens:
        words.append(UNK)
    remap = np.full(len(names), len(words) - 1, np.int32)  # rare ids land on [UNK], the last word
    remap[kept] = np.arange(len(kept), dtype=np.int32)
    for b in _blocks(len(ids)):
        ids[b] = remap[ids[b]]
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    n = len(lengths)
    split = np.repeat(np.arange(3, dtype=np.int8), split_sizes(n, fr))
    split = split[np.random.default_rng(seed).permutation(n)]
    mlm = task == "mlm"
    vocab = words + [MASK] if mlm else words
    return Corpus(
        vocab=vocab, meanings=words, seqs=ids, offsets=offsets, split=split,
        maskable=np.ones(len(ids), bool), real=Realization.identity(len(words), len(vocab)), task=task,
        mask_rate=float(mask_rate) if mlm else 0.0, specials={"mask": len(words) if mlm else -1, "pad": -1,
                                                               "labels": []},
        provenance={
            "generator": "text", "seed": int(seed), "version": package_version(),
            "parameters": {"file": str(path), "tokenizer": tokenizer, "min_count": int(min_count), "task": task,
                           "mask_rate": float(mask_rate) if mlm else 0.0, "max_length": int(max_length),
                           "long_lines": long_lines, "splits": fr.tolist()},
            "file_sha256": sha,
            **({"tokenizer_sha256": tok.sha256} if tok.hf is not None else {}),
            "reading": {"lines_read": lines, "blank": blank, "long": n_long,  # what befell them: long_lines
                        "sequences": n, "tokens_read": tokens_read, "tokens": len(ids),
                        "types": int(np.count_nonzero(counts[1:])), "unk_tokens": unk_tokens,
                        "unk_types": int(np.count_nonzero(rare & (counts > 0)))},
            "pos": {},
            "transforms": [],
        },
    ).validate()


def _blocks(n: int, step: int = 1 << 16):
    for i in range(0, n, step):
        yield slice(i, min(i + step, n))


def _keep(ids: np.ndarray, lengths: np.ndarray, long: np.ndarray, head: int) -> np.ndarray:
    """The ids without the long lines (head 0) or without their tokens past ``head``, compacted in place
    block by block (the kept tokens of a block never lie past it), so no second array of the ids is made."""
    ends = np.cumsum(lengths)
    w = 0
    for b in _blocks(len(ids)):
        pos = np.arange(b.start, b.stop)
        line = np.searchsorted(ends, pos, side="right")
        keep = ~long[line] if head == 0 else (~long[line]) | (pos - (ends[line] - lengths[line]) < head)
        k = ids[b][keep]
        ids[w : w + len(k)] = k
        w += len(k)
    return ids[:w]
