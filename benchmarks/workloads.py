"""What the benchmarks run: the paper's parity-7 batches, synthetic batches of any shape, the configs."""
from __future__ import annotations

import numpy as np

from tying.generators import Examples, Stream, parity_corpus
from tying.models import ModelConfig, archs

TRAIN_BATCH = 1024  # the paper's batch: larger than the ~115-string train split, so one step = one epoch


def parity7():
    return parity_corpus(7)  # the paper's DH weights 0.1/0.9 and 0.5/0.5, splits 0.9/0.1/0


def parity_batches(corpus, n: int, seed: int = 0) -> Examples:
    """n steps of the paper's sampled training stream (each the whole train split, one masked bit each)."""
    return Stream(corpus, "train", TRAIN_BATCH, seed).next(n)


def paper_config(corpus, arch: str, size: str = "small", **kw) -> ModelConfig:
    shape = (archs.PAPER_SMALL if size == "small" else archs.PAPER_MEDIUM)[arch]
    return ModelConfig(arch=arch, **{**shape, **kw}).fit(corpus.vocab_size, corpus.max_len, corpus.task)


def synthetic(V: int, T: int, B: int, n: int = 1, objective: str = "mlm", seed: int = 0,
              ragged: bool = False, two_targets: bool = False) -> Examples:
    """n random batches of B sequences over symbols 0..V-2 (V-1 is the mask), full length T or, when
    ragged, random lengths in 2..T with padded tails.  Each sequence gets one target (two on every
    third sequence when two_targets): MLM masks a position and predicts what it hid, causal predicts
    the next token.  Target weights are random and sum to 1 per batch (uniform when not ragged)."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, V - 1, (n, B, T)).astype(np.int32)
    lengths = (rng.integers(2, T + 1, (n, B)) if ragged else np.full((n, B), T)).astype(np.int32)
    seq, pos, sym, w, off = [], [], [], [], [0]
    for s in range(n):
        for b in range(B):
            L = lengths[s, b]
            tokens[s, b, L:] = 0
            last = L if objective == "mlm" else L - 1  # causal: position p predicts p + 1
            k = 2 if two_targets and b % 3 == 0 and last >= 2 else 1
            for p in rng.choice(last, k, replace=False):
                seq.append(b)
                pos.append(p)
                if objective == "mlm":
                    sym.append(tokens[s, b, p])
                    tokens[s, b, p] = V - 1
                else:
                    sym.append(tokens[s, b, p + 1])
        m = len(seq) - off[-1]
        ws = rng.random(m) + 0.5 if ragged else np.ones(m)
        w.extend(ws / ws.sum())
        off.append(len(seq))
    return Examples(tokens, lengths, np.array(off, np.int64), np.array(seq, np.int32), np.array(pos, np.int32),
                    np.array(sym, np.int32), np.array(w, np.float64))


def scaled_config(arch: str, V: int, T: int, d: int) -> ModelConfig:
    """A one-layer model of width d with the paper-small proportions (transformer ff = d; mixer
    token_ff = T / 2, channel_ff = 2 d), fitted to an MLM task over V symbols of length T."""
    if arch == "transformer":
        cfg = ModelConfig(arch="transformer", d=d, layers=1, heads=1, ff=d)
    else:
        cfg = ModelConfig(arch="mixer", d=d, layers=1, token_ff=max(1, T // 2), channel_ff=2 * d)
    return cfg.fit(V, T, "mlm")


def agreement_cases(corpus, lstm: bool) -> list[tuple[str, ModelConfig, Examples, int]]:
    """(name, config, batches, steps): the paper's configs on parity-7, then every option on ragged
    random batches (padding, several targets per sequence, causal, positional, output bias, merged rows)."""
    par = parity_batches(corpus, 3, seed=1)
    archs = ["transformer", "mixer"] + (["lstm"] if lstm else [])
    cases = []
    for arch in archs:
        for tied in (False, True):
            name = f"{arch} small {'tied' if tied else 'untied'} parity-7"
            cases.append((name, paper_config(corpus, arch, tied=tied), par, 3))
        cases.append((f"{arch} medium tied parity-7", paper_config(corpus, arch, "medium", tied=True), par, 2))
    V, T, B = 11, 9, 13
    rag = {o: synthetic(V, T, B, 2, o, seed=7, ragged=True, two_targets=True) for o in ("mlm", "causal")}
    opts = dict(positional=True, output_bias=True, merge_out=[(0, 1)])
    variants = [
        ("transformer", "mlm", dict(d=8, heads=2, layers=2, ff=6, activation="relu", **opts)),
        ("transformer", "causal", dict(d=8, heads=2, layers=2, ff=6, tied=True, positional=True)),
        ("mixer", "mlm", dict(d=6, layers=2, token_ff=5, channel_ff=7, activation="gelu", tied=True, **opts)),
        ("mixer", "causal", dict(d=6, layers=2, token_ff=T, channel_ff=7, output_bias=True)),
    ]
    if lstm:
        variants += [("lstm", "mlm", dict(d=6, layers=2, hidden=5, tied=True, **opts)),
                     ("lstm", "causal", dict(d=6, layers=2, hidden=5, output_bias=True))]
    for arch, obj, kw in variants:
        cfg = ModelConfig(arch=arch, **kw).fit(V, T, obj)
        flags = ",".join(k for k in ("tied", "positional", "output_bias") if kw.get(k)) or "untied"
        cases.append((f"{arch} {obj} L{cfg.layers} {flags} merged={bool(cfg.merge_out)} ragged", cfg, rag[obj], 2))
    return cases
