"""Helpers shared by the kernel gradient tests of every architecture.

Each architecture's kernel module exposes loss_grad(P, G, offs, dims, in_row, out_row, tokens, lengths,
tgt_seq, tgt_pos, tgt_sym, tgt_w, want_grad) -> (loss, acc), adding the gradient into G.

Finite-difference criteria (float64 central differences, step 1e-5, over every parameter):
* `check_gradient`: the norm-wise relative error ||g - fd|| / ||g + fd|| <= 1e-6, and every entry
  |g - fd| <= 1e-6 * max(|fd|, 1e-2 * max|fd|) (a per-entry relative error floored at 1% of the largest
  entry, so entries that are zero up to rounding do not dominate); `strict=True` adds `assert_grad_matches`.
* `assert_grad_matches`: per entry |g - fd| <= 1e-6 * max(|g|, |fd|, 1e-3), i.e. a relative error of 1e-6
  with an absolute floor of 1e-9, and the norm-wise ||g - fd|| / ||g + fd|| <= 1e-6.
"""
import numpy as np

from tying.generators.corpus import Corpus, Realization
from tying.models import archs, params
from tying.models.config import ModelConfig

V, T = 6, 5  # symbol V - 1 is the mask
MASK = V - 1
ARCHS = list(archs.ARCHS)
KERNELS = {arch: archs.kernels(arch) for arch in ARCHS}
# small shapes, so that finite differences over every parameter stay cheap
SIZES = {"bilinear": {}, "mixer": dict(d=4, layers=1, channel_ff=5, activation="gelu"),
         "transformer": dict(d=4, layers=2, heads=2, ff=3, activation="gelu"),
         "lstm": dict(d=3, layers=2, hidden=3, bidirectional=True)}


def make_cfg(arch, objective="mlm", tied=False, bias=False, merge=(), positional=True, dtype="float64",
             small=True, **kw):
    """small=False keeps the architecture's own default sizes."""
    kw = {**(SIZES[arch] if small else {}), **kw}
    if arch == "mixer" and "token_ff" not in kw:  # a causal mixer needs token_ff == T; otherwise a width != T
        kw["token_ff"] = T if objective == "causal" else 3
    return ModelConfig(arch=arch, tied=tied, output_bias=bias, merge_out=[tuple(m) for m in merge],
                       positional=positional, dtype=dtype, **kw).fit(V, T, objective)


def make_params(cfg, seed=0):
    """torch init, then every block (LayerNorm, biases, output bias) moved off its special value."""
    P = params.init_params(cfg, seed).astype(np.float64)
    P += 0.3 * np.random.default_rng(seed + 100).standard_normal(P.size)
    return P.astype(cfg.dtype)


def make_batch(objective, seed=0, B=6, lengths=None, min_len=2, shortest_first=False, duplicate=True):
    """Rows of the given lengths (default: random in min_len..T, the first one min_len if shortest_first),
    garbage beyond the length, several targets per row in shuffled order; the last row has no target, and
    for mlm (if duplicate) one position is targeted twice with different symbols."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, V - 1, (B, T)).astype(np.int32)
    lengths = np.array(rng.integers(min_len, T + 1, B) if lengths is None else lengths, np.int32)
    if shortest_first:
        lengths[0] = min_len
    seq, pos, sym = [], [], []
    for b in range(B - 1):  # the last row gets no target: it must not matter
        L = lengths[b]
        ts = range(L - 1) if objective == "causal" else rng.choice(L, size=rng.integers(1, L + 1), replace=False)
        for t in ts:
            seq.append(b)
            pos.append(t)
            sym.append(tokens[b, t + 1] if objective == "causal" else tokens[b, t])
    if objective == "mlm":
        tokens[seq, pos] = MASK
        if duplicate:
            seq.append(seq[0]), pos.append(pos[0]), sym.append((sym[0] + 1) % (V - 1))
    perm = rng.permutation(len(seq))
    w = rng.random(len(seq)) + 0.1
    arr = lambda x: np.asarray(x, np.int32)[perm]
    return tokens, lengths, arr(seq), arr(pos), arr(sym), (w / w.sum())[perm]


def kernel(cfg, P, batch, want_grad=True, G=None):
    in_row, out_row, _, offs, dims, _ = params.layout(cfg)
    G = np.zeros_like(P) if G is None else G
    loss, acc = KERNELS[cfg.arch].loss_grad(P, G, offs, dims, in_row, out_row, *batch, want_grad)
    return loss, acc, G


def hidden(cfg, P, batch):
    in_row, _, _, offs, dims, _ = params.layout(cfg)
    return KERNELS[cfg.arch].hidden(P, offs, dims, in_row, *batch[:4])


def reference_loss_from_hidden(cfg, P, H, tgt_sym, tgt_w):
    """The softmax head in float64 NumPy on hidden states computed by an independent reference forward."""
    W = params.views(cfg, P.astype(np.float64))
    _, out_row, _ = params.sharing_map(cfg)
    z = H @ W["emb"][out_row].T + (W["out_bias"][out_row] if cfg.output_bias else 0.0)
    m = z.max(-1, keepdims=True)
    lse = (m + np.log(np.exp(z - m).sum(-1, keepdims=True)))[:, 0]
    n = np.arange(len(tgt_sym))
    return float(np.sum(tgt_w * (lse - z[n, tgt_sym]))), float(np.sum(tgt_w * (z.argmax(-1) == tgt_sym)))


def finite_differences(cfg, P, batch, h=1e-5):
    fd = np.empty_like(P)
    for i in range(P.size):
        old = P[i]
        P[i] = old + h
        lp = kernel(cfg, P, batch, False)[0]
        P[i] = old - h
        lm = kernel(cfg, P, batch, False)[0]
        P[i] = old
        fd[i] = (lp - lm) / (2 * h)
    return fd


def assert_grad_matches(g, fd):
    bad = np.abs(g - fd) > 1e-6 * np.maximum(np.maximum(np.abs(g), np.abs(fd)), 1e-3)
    assert not bad.any(), f"entries {np.flatnonzero(bad)[:10]}: g {g[bad][:5]} fd {fd[bad][:5]}"
    assert np.linalg.norm(g - fd) <= 1e-6 * np.linalg.norm(g + fd)


def check_gradient(cfg, P, batch, strict=False):
    _, _, G = kernel(cfg, P, batch)
    fd = finite_differences(cfg, P, batch)
    assert np.linalg.norm(fd) > 1e-3  # the check is not vacuous
    rel = np.linalg.norm(G - fd) / np.linalg.norm(G + fd)
    assert rel <= 1e-6, rel
    floor = 1e-2 * np.abs(fd).max()
    worst = np.max(np.abs(G - fd) / np.maximum(np.abs(fd), floor))
    assert worst <= 1e-6, worst
    if strict:
        assert_grad_matches(G, fd)
    return G


def untied_twin(cfg_tied, P_tied):
    """The untied model whose input and output rows both hold the tied model's values."""
    cfg = ModelConfig(**{**cfg_tied.to_dict(), "tied": False})
    P = np.zeros(params.layout(cfg)[-1], P_tied.dtype)
    wt, wu = params.views(cfg_tied, P_tied), params.views(cfg, P)
    for name, a in wt.items():
        if name == "emb":
            wu[name][:V], wu[name][V:] = a, a
        elif name == "out_bias":
            wu[name][V:] = a  # the input half stays 0: it is never read
        else:
            wu[name][...] = a
    return cfg, P


def small_corpus(task):
    """Six symbols (the last is the mask), 24 sequences of lengths 2..T, identity realization."""
    rng = np.random.default_rng(0)
    lens = rng.integers(2, T + 1, 24)
    seqs = rng.integers(0, V - 1, lens.sum()).astype(np.int32)
    return Corpus(vocab=[f"s{i}" for i in range(V - 1)] + ["<mask>"], meanings=[f"s{i}" for i in range(V)],
                  seqs=seqs, offsets=np.concatenate([[0], np.cumsum(lens)]).astype(np.int64),
                  split=np.zeros(24, np.int8), maskable=np.ones(lens.sum(), bool),
                  real=Realization.identity(V, V), task=task, mask_rate=0.3 if task == "mlm" else 0.0,
                  specials={"mask": MASK if task == "mlm" else -1, "pad": -1, "labels": []}).validate()
