"""Probabilistic context-free grammars: NLTK-format text in, a validated Grammar
compiled to arrays, fast seeded sampling, and a Corpus of sampled sentences.

Grammar text (NLTK's PCFG format)::

    # comments start with '#'
    S  -> NP VP [1.0]
    NP -> Det N [0.7] | 'she' [0.3]     # alternatives, each with its own [p]
    N  -> 'dog' [0.6]
    N  -> 'cat' [0.4]                   # a left-hand side may span several lines
        | 'cow' [0.0]                   # a line starting with '|' continues the last one

Quoted symbols ('...' or "...") are terminals, bare symbols are nonterminals,
an alternative with no symbols is the empty string.  The start symbol is the
first rule's left-hand side unless given.  Validation raises ``InputError`` for:
a malformed line (``line 7: ...``), probabilities of a left-hand side that do
not sum to 1 within 1e-6, an undefined nonterminal or start symbol, and a
grammar that does not terminate with probability 1 and finite expected length
(spectral radius of the expected-offspring matrix >= 1).  Probabilities are
renormalized per left-hand side after that check.

Sampling guards: a sentence longer than ``max_length``, a tree deeper than
``max_depth`` (nonterminals on a root-to-leaf path), or an empty sentence is
*rejected and drawn again*, never truncated, so the sentences follow the PCFG
conditioned on the guards; the rejections are counted and recorded.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tying.core import interrupt
from tying.core.version import package_version
from .corpus import TASKS, Corpus, Realization
from tying.core.errors import InputError
from tying.core.limits import check_count
from .parity import check_fractions, split_sizes
from .pcfg_kernels import sample_sentences

SUM_TOL = 1e-6
GRAMMAR_DIR = Path(__file__).parent / "grammars"
BUILTIN = {"toy-english": "toy_english.pcfg"}
MASK = "[MASK]"
_NO_YIELD = 2**40  # least yield of a nonterminal that cannot terminate

_TOKEN = re.compile(
    r"""\s*(?:(?P<arrow>->)|(?P<bar>\|)|\[(?P<prob>[^\]]*)\]|'(?P<sq>[^']*)'|"(?P<dq>[^"]*)"|"""
    r"""(?P<name>(?:(?!->)[^\s'"\[\]|#])+))"""  # a bare name stops before '->', quotes, brackets, '|', '#'
)


@dataclass
class Rule:
    lhs: str
    rhs: tuple  # of (is_terminal, name)
    prob: float
    line: int


@dataclass
class Sample:
    seqs: np.ndarray  # flat int32 terminal ids
    offsets: np.ndarray  # (n+1,) int64
    rule_counts: np.ndarray  # (R,) int64, uses of each rule in the accepted trees
    rejected: dict  # {"length": n, "depth": n, "empty": n}
    tries: int  # trees drawn, accepted or not


class Grammar:
    """A validated PCFG compiled to arrays.

    Rules are grouped by left-hand side: the rules of nonterminal A are
    ``lhs_start[A]:lhs_start[A+1]`` (file order within A), with probabilities
    ``prob``, Walker alias tables ``alias_p``/``alias_r``, and right-hand sides
    ``rhs[rhs_off[r]:rhs_off[r+1]]`` (terminal t as t >= 0, nonterminal B as -B - 1).
    """

    def __init__(self, rules: list[Rule], start: str | None = None, source: str = "<grammar>", text: str = ""):
        if not rules:
            raise InputError(f"{source}: the grammar has no rules")
        self.source = source
        self.sha256 = hashlib.sha256(text.encode()).hexdigest()
        self.nonterminals = list(dict.fromkeys(r.lhs for r in rules))
        nt = {a: i for i, a in enumerate(self.nonterminals)}
        for r in rules:
            for is_t, s in r.rhs:
                if not is_t and s not in nt:
                    raise InputError(f"{source}: line {r.line}: nonterminal {s!r} is used but never defined")
        start = rules[0].lhs if start is None else start
        if start not in nt:
            raise InputError(f"{source}: start symbol {start!r} is not defined in the grammar")
        self.start = nt[start]
        self.terminals = list(dict.fromkeys(s for r in rules for is_t, s in r.rhs if is_t))
        tid = {t: i for i, t in enumerate(self.terminals)}

        rules = sorted(rules, key=lambda r: nt[r.lhs])  # stable: file order within a left-hand side
        self.rules = rules
        self.lhs = np.array([nt[r.lhs] for r in rules], np.int32)
        prob = np.array([r.prob for r in rules])
        N = len(self.nonterminals)
        self.lhs_start = np.searchsorted(self.lhs, np.arange(N + 1)).astype(np.int64)
        for a in range(N):
            s = prob[self.lhs_start[a] : self.lhs_start[a + 1]].sum()
            if abs(s - 1.0) > SUM_TOL:
                lines = sorted({r.line for r in rules[self.lhs_start[a] : self.lhs_start[a + 1]]})
                lines = ", ".join(map(str, lines))
                raise InputError(f"{source}: probabilities of {self.nonterminals[a]!r} sum to {s:.9g}, "
                                 f"not 1 (lines {lines})")
        self.prob = prob / np.add.reduceat(prob, self.lhs_start[:-1])[self.lhs]
        self.alias_p, self.alias_r = np.ones(len(rules)), np.arange(len(rules), dtype=np.int64)
        for a in range(N):
            _alias(self.prob, self.lhs_start[a], self.lhs_start[a + 1], self.alias_p, self.alias_r)
        self.rhs_off = np.zeros(len(rules) + 1, np.int64)
        self.rhs_off[1:] = np.cumsum([len(r.rhs) for r in rules])
        self.rhs = np.array([tid[s] if is_t else -nt[s] - 1 for r in rules for is_t, s in r.rhs], np.int32)

        self.reachable = self._reachable()
        self.min_yield = self._min_yield()
        rho = self.spectral_radius()
        if rho >= 1.0 - 1e-9:
            raise InputError(
                f"{source}: the grammar does not terminate with probability 1 and finite expected length: "
                f"the expected-offspring matrix has spectral radius {rho:.6g} >= 1")

    # ------------------------------------------------------------ analysis
    def _reachable(self) -> np.ndarray:
        seen = np.zeros(len(self.nonterminals), bool)
        todo = [self.start]
        seen[self.start] = True
        while todo:
            a = todo.pop()
            for r in range(self.lhs_start[a], self.lhs_start[a + 1]):
                if self.prob[r] > 0:
                    for y in self.rhs[self.rhs_off[r] : self.rhs_off[r + 1]]:
                        if y < 0 and not seen[-y - 1]:
                            seen[-y - 1] = True
                            todo.append(-y - 1)
        return np.flatnonzero(seen)

    def _min_yield(self) -> np.ndarray:
        """Fewest terminals each nonterminal can derive (a fixed point; _NO_YIELD if none)."""
        my = np.full(len(self.nonterminals), _NO_YIELD, np.int64)
        changed = True
        while changed:
            changed = False
            for r in np.flatnonzero(self.prob > 0):
                ys = self.rhs[self.rhs_off[r] : self.rhs_off[r + 1]]
                v = min(int(np.sum(ys >= 0)) + int(sum(my[-y - 1] for y in ys if y < 0)), _NO_YIELD)
                if v < my[self.lhs[r]]:
                    my[self.lhs[r]] = v
                    changed = True
        return my

    def offspring(self) -> tuple[np.ndarray, np.ndarray]:
        """(M, t) over all nonterminals: M[A, B] = expected count of B in one expansion of A,
        t[A] = expected count of terminals in one expansion of A."""
        N = len(self.nonterminals)
        M, t = np.zeros((N, N)), np.zeros(N)
        for r in range(len(self.rules)):
            for y in self.rhs[self.rhs_off[r] : self.rhs_off[r + 1]]:
                if y >= 0:
                    t[self.lhs[r]] += self.prob[r]
                else:
                    M[self.lhs[r], -y - 1] += self.prob[r]
        return M, t

    def spectral_radius(self) -> float:
        """Of the expected-offspring matrix restricted to the nonterminals reachable from the start."""
        R = self.reachable
        M = self.offspring()[0][np.ix_(R, R)]
        return float(np.max(np.abs(np.linalg.eigvals(M))))

    def expected_expansions(self) -> np.ndarray:
        """Expected number of times each nonterminal is expanded in one (unguarded) tree:
        n = e_start (I - M)^-1, summing the generations e_start M^k."""
        R = self.reachable
        M = self.offspring()[0][np.ix_(R, R)]
        e = (R == self.start).astype(np.float64)
        n = np.zeros(len(self.nonterminals))
        n[R] = np.linalg.solve((np.eye(len(R)) - M).T, e)
        return n

    def expected_rule_counts(self) -> np.ndarray:
        return self.expected_expansions()[self.lhs] * self.prob

    def expected_terminal_counts(self) -> np.ndarray:
        counts = np.zeros(len(self.terminals))
        uses = self.expected_rule_counts()
        for r in range(len(self.rules)):
            for y in self.rhs[self.rhs_off[r] : self.rhs_off[r + 1]]:
                if y >= 0:
                    counts[y] += uses[r]
        return counts

    def expected_length(self) -> float:
        """E[sentence length] of an unguarded tree: e_start (I - M)^-1 t."""
        return float(self.expected_terminal_counts().sum())

    def parts_of_speech(self) -> dict[str, list[str]]:
        """{preterminal: its words} for every nonterminal whose rules each write one terminal."""
        pos = {}
        for a, name in enumerate(self.nonterminals):
            rs = range(self.lhs_start[a], self.lhs_start[a + 1])
            ys = [self.rhs[self.rhs_off[r] : self.rhs_off[r + 1]] for r in rs]
            if all(len(y) == 1 and y[0] >= 0 for y in ys):
                pos[name] = [self.terminals[y[0]] for y in ys]
        return pos

    # ------------------------------------------------------------ sampling
    def sample(self, n: int, seed: int, max_length: int = 64, max_depth: int = 100) -> Sample:
        """n sentences, each drawn afresh until it passes the guards (see the module docstring)."""
        _check_int(n, "number of sequences", 1)
        check_count(n, "TYING_MAX_SEQUENCES", "{n} sequences asked for")
        _check_int(seed, "seed", 0)
        _check_int(max_length, "max length", 1)
        _check_int(max_depth, "max depth", 1)
        state = np.random.SeedSequence(int(seed)).generate_state(1, np.uint64)
        per = min(max_length, int(2 * self.expected_length()) + 8)
        toks, offs, counts, rejected, tries = [], [np.zeros(1, np.int64)], 0, np.zeros(3, np.int64), 0
        done = 0
        while done < n:
            want = min(n - done, 1 << 16)
            max_tries = 100 * want + 10_000
            with interrupt.deferred():  # Ctrl-C waits for this chunk's kernel, then stops
                t, o, c, rej, k = sample_sentences(
                    want, want * per, max_tries, self.lhs_start, self.alias_p, self.alias_r, self.rhs_off,
                    self.rhs, self.min_yield, self.start, max_length, max_depth, state)
            if len(o) == 1 and k == max_tries:
                raise InputError(
                    f"the guards reject every sentence ({k} drawn, none with 1..{max_length} words and depth "
                    f"<= {max_depth}): raise --max-length or --max-depth")
            toks.append(t)
            offs.append(o[1:] + offs[-1][-1])
            counts, rejected, tries, done = counts + c, rejected + rej, tries + k, done + len(o) - 1
        return Sample(
            seqs=np.concatenate(toks).astype(np.int32), offsets=np.concatenate(offs), rule_counts=counts,
            rejected={"length": int(rejected[0]), "depth": int(rejected[1]), "empty": int(rejected[2])},
            tries=int(tries))


def _alias(prob, lo, hi, keep, alias) -> None:
    """Vose's construction of the alias table of rules lo:hi, in place."""
    n = hi - lo
    scaled = [prob[r] * n for r in range(lo, hi)]
    small = [i for i, x in enumerate(scaled) if x < 1.0]
    large = [i for i, x in enumerate(scaled) if x >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        keep[lo + s], alias[lo + s] = scaled[s], lo + g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    for i in small + large:  # left over only through rounding: keep them always
        keep[lo + i], alias[lo + i] = 1.0, lo + i


# ------------------------------------------------------------------ parsing
def parse_grammar(text: str, start: str | None = None, source: str = "<grammar>") -> Grammar:
    rules: list[Rule] = []
    lhs = None
    for n, line in enumerate(text.splitlines(), 1):
        toks = _tokenize(line, n, source)
        if not toks:
            continue
        where = f"{source}: line {n}"
        if toks[0][0] == "bar":
            if lhs is None:
                raise InputError(f"{where}: a line starting with '|' must continue a rule")
            toks = toks[1:]
        else:
            if len(toks) < 2 or toks[1][0] != "arrow":
                raise InputError(f"{where}: expected 'LHS -> RHS [p]', got {line.strip()!r}")
            if toks[0][0] != "name":
                raise InputError(f"{where}: the left-hand side must be a nonterminal (unquoted), "
                                 f"got {toks[0][1]!r}")
            lhs, toks = toks[0][1], toks[2:]
        rules.extend(_alternatives(toks, lhs, n, where))
    return Grammar(rules, start=start, source=source, text=text)


def _alternatives(toks, lhs: str, n: int, where: str) -> list[Rule]:
    """``symbols [p] | symbols [p] | ...``"""
    out, alt, after_prob = [], [], False
    for kind, val in toks:
        if kind == "arrow":
            raise InputError(f"{where}: unexpected '->' (one rule per line)")
        if after_prob:
            if kind != "bar":
                raise InputError(f"{where}: unexpected {val!r} after a probability (expected '|')")
            after_prob = False
        elif kind == "bar":
            raise InputError(f"{where}: alternative {_show(alt)} has no probability [p]")
        elif kind == "prob":
            out.append(Rule(lhs, tuple(alt), _prob(val, where), n))
            alt, after_prob = [], True
        elif kind in ("sq", "dq") and val == "":
            raise InputError(f"{where}: a terminal cannot be the empty string")
        else:
            alt.append((kind in ("sq", "dq"), val))
    if not after_prob:
        raise InputError(f"{where}: alternative {_show(alt)} has no probability [p]")
    return out


def _tokenize(line: str, n: int, source: str) -> list[tuple[str, str]]:
    toks, pos = [], 0
    while True:
        while pos < len(line) and line[pos].isspace():
            pos += 1
        if pos == len(line) or line[pos] == "#":
            return toks
        m = _TOKEN.match(line, pos)
        if m is None:
            c = line[pos]
            what = {"'": "unterminated quote", '"': "unterminated quote", "[": "unclosed '['"}.get(
                c, f"unexpected character {c!r}")
            raise InputError(f"{source}: line {n}: {what} at column {pos + 1}")
        kind = m.lastgroup
        toks.append((kind, m.group(kind)))
        pos = m.end()


def _prob(text: str, where: str) -> float:
    try:
        p = float(text)
    except ValueError:
        raise InputError(f"{where}: probability [{text}] is not a number") from None
    if not 0.0 <= p <= 1.0:  # also rejects NaN
        raise InputError(f"{where}: probability [{text}] is not in [0, 1]")
    return p


def _show(alt) -> str:
    return "(" + " ".join(f"'{s}'" if t else s for t, s in alt) + ")" if alt else "(empty)"


def load_grammar(spec: str, start: str | None = None) -> Grammar:
    """A built-in grammar by name (``toy-english``) or a grammar file by path."""
    path = GRAMMAR_DIR / BUILTIN[spec] if spec in BUILTIN else Path(spec)
    if not path.is_file():
        raise InputError(f"grammar file not found: {spec} (built-in grammars: {', '.join(BUILTIN)})")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read grammar {spec}: {e}") from None
    return parse_grammar(text, start=start, source=spec)


# ------------------------------------------------------------------ corpus
def pcfg_corpus(grammar: Grammar, sequences: int, seed: int, task: str = "mlm", mask_rate: float = 0.15,
                max_length: int = 64, max_depth: int = 100, splits=(0.9, 0.1, 0.0)) -> Corpus:
    """Sentences sampled from ``grammar`` as a Corpus whose meanings are the terminal words.

    Each word is written as itself (identity realization); MLM adds ``[MASK]``
    as the last symbol.  The sentences are i.i.d., so the splits are
    consecutive blocks (train first), sized by cumulative rounding as for parity.
    """
    if task not in TASKS:
        raise InputError(f"unknown task {task!r} (expected one of {', '.join(TASKS)})")
    if not isinstance(mask_rate, (int, float)) or not 0.0 <= mask_rate <= 1.0:
        raise InputError(f"mask rate must be in [0, 1], got {mask_rate}")
    fr = check_fractions(splits)
    if MASK in grammar.terminals:
        raise InputError(f"the grammar uses the reserved terminal {MASK!r}")
    s = grammar.sample(sequences, seed, max_length=max_length, max_depth=max_depth)
    words = list(grammar.terminals)
    mlm = task == "mlm"
    mask_rate = float(mask_rate) if mlm else 0.0
    vocab = words + [MASK] if mlm else words
    real = Realization.identity(len(words), len(vocab))
    split = np.repeat(np.arange(3, dtype=np.int8), split_sizes(sequences, fr))
    lengths = np.diff(s.offsets)
    return Corpus(
        vocab=vocab, meanings=words, seqs=s.seqs, offsets=s.offsets, split=split,
        maskable=np.ones(len(s.seqs), bool), real=real, task=task, mask_rate=mask_rate,
        specials={"mask": len(words) if mlm else -1, "pad": -1, "labels": []},
        provenance={
            "generator": "pcfg", "seed": int(seed), "version": package_version(),
            "parameters": {"grammar": grammar.source, "start": grammar.nonterminals[grammar.start],
                           "sequences": int(sequences), "task": task, "mask_rate": mask_rate,
                           "max_length": int(max_length), "max_depth": int(max_depth), "splits": fr.tolist()},
            "grammar_sha256": grammar.sha256,
            "sampling": {"tries": s.tries, "rejected": s.rejected, "mean_length": float(lengths.mean()),
                         "expected_length_unguarded": grammar.expected_length()},
            "pos": grammar.parts_of_speech(),
            "transforms": [],
        },
    ).validate()


def _check_int(x, name: str, lo: int) -> None:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < lo:
        raise InputError(f"{name} must be an integer >= {lo}, got {x!r}")
