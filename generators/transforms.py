"""Transforms that make the distributional hypothesis (DH) hold or break on purpose.

Each transform takes a ``Corpus`` and returns a new one (the input is left
alone).  They act on *surface symbols* (vocabulary names) by editing the
realization tables, so they compose in any order, and each appends to
``corpus.relations`` the ground truth of every pair of symbols it creates:
``{"a": id, "b": id, "se": bool, "ce": bool, "why": str}`` (SE: semantic
equivalence, swapping a and b in an input never changes the target
distribution; CE: conditional equivalence, p(a|x) == p(b|x) in every context).
These are claims about the generating process, so SE may be True where
``generators.truth`` finds no swap to check in a finite corpus and reports
None (e.g. a symbol that is never an input); when one of the two symbols is
never written at all, SE holds vacuously and ``why`` says so.
Relations that mention a symbol a later transform replaces are dropped.

* ``split(c, "dog", [0.5, 0.5])``: ``dog`` becomes ``dog#1 .. dog#k``, drawn
  independently of context with the given weights (multiplying any choice that
  already wrote ``dog``).  Uniform weights: SE and CE.  Otherwise SE, not CE
  (a constant ratio: an output bias can absorb it).
* ``allomorph(c, "the", [["dog", "cat"], ["@Vt", "^"]])``: ``the`` becomes
  ``the#1 .. the#k``, one per group; after a symbol of group i it is always
  ``the#i``, after any other symbol the k variants are equally likely.  Groups
  list surface symbols, ``@POS`` (every word of a grammar's part of speech)
  and ``^`` (the sentence start); the class is that of the preceding
  *meaning*.  The ratio depends on the context, so no output bias absorbs it:
  not CE.  SE under the causal task.  Under MLM it is not SE either: when the
  preceding symbol is masked, the variant gives its class away.
* ``coin(c, seed)`` (causal task): every sentence gets a fair coin meaning,
  written ``H`` or ``T``, at a random position, and later a copy meaning,
  written ``=H`` or ``=T`` to match.  H and T are CE (always 50/50) but not SE
  (swapping them changes what the copy must be): the converse break.
* ``merge(c, "dog", "runs")``: one surface symbol ``dog|runs`` writes both
  meanings (homonymy).  It creates no pair, so it records no relation.
* ``twins(c, 100, 0.5)``: the paper's MLM experiment: the 100 most frequent
  symbols (expected count in the corpus) are each split with weights (1-P, P).

Names of new symbols: ``SYM#i`` for split, twins and allomorph variants,
``A|B`` for a merge.  Special symbols ([MASK], pad) stay last.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np

from .corpus import Corpus
from tying.core.errors import InputError
from .parity import check_weights

EQ_TOL = 1e-12
COIN = ("H", "T")
COPY = ("=H", "=T")


@dataclass
class _Tables:
    """A corpus's realization keyed by symbol names, so edits need no renumbering."""

    symbols: list  # non-special surface symbols, in vocabulary order
    specials: list  # mask / pad names, kept last
    roles: dict  # {"mask": name | None, "pad": name | None, "labels": [names]}
    rows: list  # per meaning: {surface name: weight per class (C,)}
    class_of: np.ndarray
    start_class: int
    copy_src: np.ndarray
    copy_map: dict  # {source surface: copy surface}
    relations: list  # with names in "a" and "b"

    @property
    def n_classes(self) -> int:
        return len(next(iter(self.rows[0].values()))) if self.rows and self.rows[0] else 1

    def check(self, name: str) -> str:
        if name in self.specials:
            raise InputError(f"symbol {name!r} is special and cannot be transformed")
        if name not in self.symbols:
            raise InputError(f"symbol {name!r} is not in the corpus")
        return name

    def fresh(self, names) -> list:
        for n in names:
            if n in self.symbols or n in self.specials:
                raise InputError(f"cannot create symbol {n!r}: the corpus already has it")
        return list(names)

    def copies(self) -> set:
        return set(self.copy_map.values())

    def replace_symbol(self, old: str, new: list) -> None:
        """Put ``new`` where ``old`` was, in the vocabulary and among the labels."""
        for names in (self.symbols, self.roles["labels"]):
            if old in names:
                i = names.index(old)
                names[i : i + 1] = [n for n in new if n not in names]


def _open(c: Corpus) -> _Tables:
    r = c.real

    def name(role):
        i = c.specials.get(role, -1)
        return c.vocab[i] if i is not None and 0 <= i < len(c.vocab) else None

    labels = [c.vocab[i] for i in c.specials.get("labels", [])]
    roles = {"mask": name("mask"), "pad": name("pad"), "labels": labels}
    specials = [v for v in c.vocab if v in (roles["mask"], roles["pad"])]
    rows = []
    for m in range(len(c.meanings)):
        row: dict = {}
        for k, s in enumerate(r.variants[m]):
            if s >= 0:
                row[c.vocab[s]] = row.get(c.vocab[s], 0.0) + r.weights[m, :, k]
        rows.append(row)
    return _Tables(
        symbols=[v for v in c.vocab if v not in specials], specials=specials, roles=roles, rows=rows,
        class_of=r.class_of.copy(), start_class=int(r.start_class), copy_src=r.copy_src.copy(),
        copy_map={c.vocab[i]: c.vocab[j] for i, j in enumerate(r.copy_map) if j >= 0},
        relations=[dict(x, a=c.vocab[x["a"]], b=c.vocab[x["b"]]) for x in c.relations],
    )


def _close(c: Corpus, t: _Tables, record: dict, **changes) -> Corpus:
    vocab = t.symbols + t.specials
    idx = {v: i for i, v in enumerate(vocab)}
    M, C = len(t.rows), t.n_classes
    K = max(1, max(len(row) for row in t.rows))
    variants = np.full((M, K), -1, np.int32)
    weights = np.zeros((M, C, K))
    for m, row in enumerate(t.rows):
        for k, (s, w) in enumerate(row.items()):
            variants[m, k], weights[m, :, k] = idx[s], w
    copy_map = np.full(len(vocab), -1, np.int32)
    for a, b in t.copy_map.items():
        copy_map[idx[a]] = idx[b]
    real = replace(c.real, variants=variants, weights=weights, class_of=t.class_of.astype(np.int32),
                   start_class=int(t.start_class), copy_src=t.copy_src.astype(np.int32), copy_map=copy_map)
    specials = dict(c.specials)
    specials.update({k: idx[t.roles[k]] if t.roles[k] else -1 for k in ("mask", "pad")})
    specials["labels"] = [idx[n] for n in t.roles["labels"] if n in idx]
    provenance = copy.deepcopy(c.provenance)
    provenance.setdefault("transforms", []).append(record)
    relations = [dict(x, a=idx[x["a"]], b=idx[x["b"]]) for x in t.relations if x["a"] in idx and x["b"] in idx]
    return replace(c, vocab=vocab, real=real, specials=specials, relations=relations, provenance=provenance,
                   **changes).validate()


def _class_counts(t: _Tables, c: Corpus) -> tuple[np.ndarray, np.ndarray]:
    """(n_all, n_tgt)[m, k]: occurrences of meaning m right after a symbol of class k
    (the start class at a sentence start), everywhere and where it is a target
    (MLM: maskable positions; causal: every position but the first)."""
    M, C = len(t.rows), t.n_classes
    seqs, offsets = c.seqs.astype(np.int64), c.offsets
    cls = t.class_of[np.roll(seqs, 1)] if len(seqs) else np.zeros(0, np.int64)
    first = np.zeros(len(seqs), bool)
    first[offsets[:-1][np.diff(offsets) > 0]] = True
    cls[first] = t.start_class
    target = ~first if c.task == "causal" else c.maskable
    n = [np.bincount(seqs[k] * C + cls[k], minlength=M * C).reshape(M, C).astype(np.float64)
         for k in (slice(None), target)]
    return n[0], n[1]


def _expected_counts(t: _Tables, n_mc: np.ndarray) -> dict:
    """Expected occurrences of each surface symbol in one realization (copies are not counted)."""
    out = dict.fromkeys(t.symbols, 0.0)
    for m, row in enumerate(t.rows):
        if t.copy_src[m] < 0:
            for s, w in row.items():
                if s in out:
                    out[s] += float(n_mc[m] @ w)
    return out


def _written(t: _Tables, n_mc: np.ndarray, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
    """Weights of a and b at every (meaning, class) that occurs and may write one of them."""
    wa, wb = [], []
    for m, row in enumerate(t.rows):
        if t.copy_src[m] < 0 and (a in row or b in row):
            for k in np.flatnonzero(n_mc[m] > 0):
                wa.append(float(row[a][k]) if a in row else 0.0)
                wb.append(float(row[b][k]) if b in row else 0.0)
    return np.array(wa), np.array(wb)


def _pair(t: _Tables, counts, causal: bool, a: str, b: str, what: str) -> dict:
    """Ground truth of two variants a, b of the same meanings (split, twins, allomorph).

    CE: equal weights wherever they can be a target.  SE when the choice
    between a and b tells nothing about the meaning or the future: always under
    the causal task, where the preceding symbol is visible; under MLM only with
    a constant ratio w_a / w_b, since the preceding symbol may be the masked one.
    """
    xa, xb = _written(t, counts[0], a, b)
    ta, tb = _written(t, counts[1], a, b)
    ce = bool(np.all(np.abs(ta - tb) <= EQ_TOL))
    if not np.any(xa > 0) or not np.any(xb > 0):
        who = f"only {a if np.any(xa > 0) else b!r} is" if np.any(xa > 0) or np.any(xb > 0) else "neither is"
        return _rel(a, b, True, ce, f"{what}; {who} ever written (SE holds vacuously: a swap always gives "
                    "an impossible context)")
    if t.copy_map.get(a) != t.copy_map.get(b):
        return _rel(a, b, False, ce, f"{what}; swapping them changes what a later copy must be")
    constant = bool(np.all(np.abs(np.outer(xa, xb) - np.outer(xb, xa)) <= EQ_TOL))
    if constant and ce:
        where = "equally likely in every context" if len(ta) else "never a target"
        return _rel(a, b, True, True, f"{what}; same meaning, {where}")
    if constant:
        return _rel(a, b, True, False, f"{what}; same meaning, constant ratio p(a|x)/p(b|x) = "
                    f"{ta.sum() / tb.sum() if tb.sum() > 0 else np.inf:.6g} != 1")
    why = (f"{what}; same meaning, the ratio p(a|x)/p(b|x) depends on the preceding symbol "
           "(no output bias absorbs it)")
    if causal:
        return _rel(a, b, True, ce, why)
    return _rel(a, b, False, ce, why + "; not SE under MLM: when the preceding symbol is masked, "
                "the variant gives its class away")


def _rel(a, b, se, ce, why) -> dict:
    return {"a": a, "b": b, "se": bool(se), "ce": bool(ce), "why": why}


# ------------------------------------------------------------------ split / twins
def _split_in(t: _Tables, symbol: str, w: np.ndarray) -> list:
    t.check(symbol)
    if symbol in t.copies():
        raise InputError(f"symbol {symbol!r} is a copy and cannot be split")
    names = t.fresh([f"{symbol}#{i + 1}" for i in range(len(w))])
    _expand(t, symbol, names, lambda v: [v * x for x in w])
    return names


def _expand(t: _Tables, symbol: str, names: list, make) -> None:
    """Replace ``symbol`` by ``names`` everywhere: in each row, its weights v become make(v)
    (one weight vector per name); copies of it become copies of each name."""
    for m, row in enumerate(t.rows):
        if symbol in row:
            new: dict = {}
            for s, v in row.items():
                new.update(zip(names, make(v)) if s == symbol else [(s, v)])
            t.rows[m] = new
    if symbol in t.copy_map:
        t.copy_map.update(dict.fromkeys(names, t.copy_map.pop(symbol)))
    t.replace_symbol(symbol, names)


def _weights(weights, what: str) -> np.ndarray:
    w = check_weights(weights, what)
    if len(w) < 2:
        raise InputError(f"{what}: need at least 2 weights, got {len(w)}")
    return w


def split(corpus: Corpus, symbol: str, weights) -> Corpus:
    """``symbol`` becomes ``symbol#1..#k``, drawn independently of context with ``weights``."""
    t = _open(corpus)
    w = _weights(weights, f"split {symbol}")
    names = _split_in(t, symbol, w)
    counts = _class_counts(t, corpus)
    what = f"split of {symbol!r} with weights {','.join(f'{x:g}' for x in w)}"
    t.relations += [_pair(t, counts, corpus.task == "causal", a, b, what)
                    for i, a in enumerate(names) for b in names[i + 1 :]]
    return _close(corpus, t, {"transform": "split", "symbol": symbol, "weights": w.tolist()})


def twins(corpus: Corpus, topk: int, p: float) -> Corpus:
    """The ``topk`` most frequent symbols each get a twin, used with probability ``p``."""
    if isinstance(topk, bool) or not isinstance(topk, (int, np.integer)) or topk < 1:
        raise InputError(f"twins: TOPK must be an integer >= 1, got {topk!r}")
    if not isinstance(p, (int, float, np.floating)) or not 0.0 < p < 1.0:
        raise InputError(f"twins: P must be in (0, 1), got {p!r}")
    t = _open(corpus)
    counts = _class_counts(t, corpus)
    expected = _expected_counts(t, counts[0])
    copies = t.copies()
    ranked = sorted((s for s in t.symbols if expected[s] > 0 and s not in copies), key=lambda s: -expected[s])
    if len(ranked) < topk:
        raise InputError(f"twins: the corpus has only {len(ranked)} symbols that can get a twin, asked for {topk}")
    w = np.array([1.0 - p, p])
    chosen = ranked[:topk]
    for s in chosen:
        a, b = _split_in(t, s, w)
        what = f"twins of {s!r} (twin used with p={p:g})"
        t.relations.append(_pair(t, counts, corpus.task == "causal", a, b, what))
    return _close(corpus, t, {"transform": "twins", "topk": int(topk), "p": float(p), "symbols": chosen})


# ------------------------------------------------------------------ allomorph
def allomorph(corpus: Corpus, symbol: str, groups) -> Corpus:
    """``symbol`` becomes one variant per group, chosen by the class of the preceding meaning:
    variant i after group i, uniform after anything else (see the module docstring)."""
    t = _open(corpus)
    t.check(symbol)
    if symbol in t.copies():
        raise InputError(f"symbol {symbol!r} is a copy and cannot be an allomorph")
    groups = [list(g) for g in groups]
    k = len(groups)
    if k < 2 or any(not g for g in groups):
        raise InputError(f"allomorph {symbol}: need at least 2 non-empty groups of preceding symbols")
    M = len(t.rows)
    g_of = np.zeros(M, np.int64)  # 0: in no group
    g_start = 0
    pos = corpus.provenance.get("pos", {})
    for i, group in enumerate(groups, 1):
        for member in group:
            if member == "^":
                if g_start:
                    raise InputError(f"allomorph {symbol}: '^' is in two groups")
                g_start = i
                continue
            if member.startswith("@"):
                if not pos:
                    raise InputError(f"allomorph {symbol}: {member!r} names a part of speech, but this corpus "
                                     "has none (it does not come from a grammar): list the preceding symbols")
                if member[1:] not in pos:
                    known = ", ".join("@" + p for p in pos)
                    raise InputError(f"allomorph {symbol}: unknown part of speech {member!r} (known: {known})")
                ms = [corpus.meanings.index(w) for w in pos[member[1:]] if w in corpus.meanings]
            else:
                t.check(member)
                ms = [m for m, row in enumerate(t.rows) if member in row]
            for m in ms:
                if g_of[m] not in (0, i):
                    raise InputError(f"allomorph {symbol}: meaning {corpus.meanings[m]!r} is in two groups")
                g_of[m] = i
    # Refine the class partition: new class = (old class, group); (0, 0) stays class 0, the neutral one.
    pairs = sorted({(0, 0), (t.start_class, g_start)} | set(zip(t.class_of.tolist(), g_of.tolist())))
    cid = {p: j for j, p in enumerate(pairs)}
    old, grp = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    t.class_of = np.array([cid[(int(c), int(g))] for c, g in zip(t.class_of, g_of)], np.int64)
    t.start_class = cid[(t.start_class, g_start)]
    t.rows = [{s: w[old] for s, w in row.items()} for row in t.rows]
    counts = _class_counts(t, corpus)
    seen = sum(counts[0][m] * row[symbol] for m, row in enumerate(t.rows) if symbol in row and t.copy_src[m] < 0)
    if not np.any((np.asarray(seen) > 0) & (grp > 0)):
        raise InputError(f"allomorph {symbol}: no symbol of the groups ever precedes it in the corpus")
    rule = np.where(grp[:, None] == 0, 1.0 / k, (grp[:, None] == np.arange(1, k + 1)).astype(np.float64))
    names = t.fresh([f"{symbol}#{i + 1}" for i in range(k)])
    _expand(t, symbol, names, lambda v: [v * rule[:, i] for i in range(k)])
    desc = " / ".join("+".join(g) for g in groups)
    what = f"allomorphs of {symbol!r} by the preceding symbol's class ({desc})"
    t.relations += [_pair(t, counts, corpus.task == "causal", a, b, what)
                    for i, a in enumerate(names) for b in names[i + 1 :]]
    return _close(corpus, t, {"transform": "allomorph", "symbol": symbol, "groups": groups})


# ------------------------------------------------------------------ coin
def coin(corpus: Corpus, seed) -> Corpus:
    """Insert a fair coin (H/T) and, later in the same sentence, its copy (=H/=T).

    In a sentence of L words the coin goes before word i, i uniform in 0..L,
    and the copy at a uniform position after the coin (``seed`` fixes both).
    H and T are drawn afresh at every realization; the copy always matches.
    """
    if corpus.task != "causal":
        raise InputError("the coin transform needs the causal task (--task causal)")
    t = _open(corpus)
    names = t.fresh(COIN + COPY)
    for m in ("<coin>", "<copy>"):
        if m in corpus.meanings:
            raise InputError(f"cannot add meaning {m!r}: the corpus already has it")
    M, C = len(t.rows), t.n_classes
    half = np.full(C, 0.5)
    t.rows += [{"H": half, "T": half.copy()}, {"=H": half.copy(), "=T": half.copy()}]
    t.class_of = np.append(t.class_of, [0, 0])  # class 0 is neutral for every allomorph
    t.copy_src = np.append(t.copy_src, [-1, M])
    t.copy_map.update({"H": "=H", "T": "=T"})
    t.symbols += names

    # Coin before old position i (0..L), copy at new position j (i+1..L+1) of the L+2 result.
    L = np.diff(corpus.offsets)
    rng = np.random.default_rng(seed)
    i = (rng.random(len(L)) * (L + 1)).astype(np.int64)
    j = i + 1 + (rng.random(len(L)) * (L + 1 - i)).astype(np.int64)
    new_off = corpus.offsets + 2 * np.arange(len(L) + 1)
    seqs = np.empty(new_off[-1], np.int32)
    maskable = np.ones(new_off[-1], bool)
    p = np.arange(len(corpus.seqs)) - np.repeat(corpus.offsets[:-1], L)  # old position within its sentence
    q = p + (p >= np.repeat(i, L))
    q = q + (q >= np.repeat(j, L))
    dest = np.repeat(new_off[:-1], L) + q
    seqs[dest], maskable[dest] = corpus.seqs, corpus.maskable
    seqs[new_off[:-1] + i], seqs[new_off[:-1] + j] = M, M + 1

    t.relations += [
        _rel("H", "T", False, True, "fair coin: H and T equally likely wherever the coin is, "
             "but swapping them changes the later copy (=H or =T)"),
        _rel("=H", "=T", True, False, "copies of the coin: =H follows only H and =T only T, so they are not "
             "CE; a swap always gives an impossible sequence, so SE holds vacuously"),
    ]
    return _close(corpus, t, {"transform": "coin"}, seqs=seqs, offsets=new_off, maskable=maskable,
                  meanings=list(corpus.meanings) + ["<coin>", "<copy>"])


# ------------------------------------------------------------------ merge
def merge(corpus: Corpus, a: str, b: str) -> Corpus:
    """One surface symbol ``a|b`` writes everything ``a`` and ``b`` wrote (homonymy).

    It creates no pair of symbols, so it records no relation (the relations of
    a and b are dropped); the provenance lists the meanings of the homonym.
    Whether it is SE with another symbol depends on whether contexts tell its
    meanings apart, which only the ground truth of the corpus can say.
    """
    t = _open(corpus)
    t.check(a), t.check(b)
    if a == b:
        raise InputError(f"merge: the two symbols are the same ({a!r})")
    if a in t.copy_map and b in t.copy_map and t.copy_map[a] != t.copy_map[b]:
        raise InputError(f"merge: {a!r} and {b!r} are copied as different symbols")
    (name,) = t.fresh([f"{a}|{b}"])
    for m, row in enumerate(t.rows):
        if a in row or b in row:
            new: dict = {}
            for s, w in row.items():
                key = name if s in (a, b) else s
                new[key] = new.get(key, 0.0) + w
            t.rows[m] = new
    ta, tb = t.copy_map.pop(a, None), t.copy_map.pop(b, None)
    if ta or tb:
        t.copy_map[name] = ta or tb
    t.copy_map = {s: (name if v in (a, b) else v) for s, v in t.copy_map.items()}
    t.replace_symbol(a, [name])
    t.replace_symbol(b, [name])
    meanings = [corpus.meanings[m] for m, row in enumerate(t.rows) if name in row]
    return _close(corpus, t, {"transform": "merge", "symbols": [a, b], "name": name, "meanings": meanings})
