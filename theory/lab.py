"""Numeric helpers shared by the numeric halves of the propositions.

Exact parity populations and their ground truth (cached, since several
propositions use the same corpus), the output head recomputed from h in
float64 with log-sum-exp, and ``Descent``, the public ``models.Optimizer``
on one population batch from any parameters (the checks need prepared starting
points, e.g. e_a = e_b).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from tying.generators import truth, Corpus, Examples, parity_corpus, enumerate_population
from tying.models import Model, ModelConfig, Optimizer, TrainConfig
from tying.models.params import EMB, OUT_BIAS

DH = ((0.1, 0.9), (0.5, 0.5))  # the paper's DH parity weights: zero 0.1/0.9, one 0.5/0.5


@dataclass
class Setup:
    corpus: Corpus
    pop: Examples  # the exact training population, one batch
    truth: truth.Truth


def setup(corpus: Corpus) -> Setup:
    pop = enumerate_population(corpus, "train")
    return Setup(corpus, pop, truth.from_population(pop, corpus))


@lru_cache(maxsize=8)
def parity(bits: int = 3, zero=DH[0], one=DH[1]) -> Setup:
    """Parity over the whole population (splits 1/0/0), so Bayes numbers are the paper's."""
    return setup(parity_corpus(bits, zero=zero, one=one, splits=(1.0, 0.0, 0.0), seed=0))


def model(s: Setup, arch: str, seed: int = 0, **cfg) -> Model:
    return Model.from_corpus(s.corpus, ModelConfig(arch=arch, **cfg), seed=seed)


def emb(m: Model) -> np.ndarray:
    """The shared embedding table (R, d), a view into m.P."""
    return m.P[m.offs[EMB] : m.offs[EMB + 1]].reshape(-1, m.cfg.d)


def emb_grad(m: Model, G: np.ndarray) -> np.ndarray:
    return G[m.offs[EMB] : m.offs[EMB + 1]].reshape(-1, m.cfg.d)


def bias_grad(m: Model, G: np.ndarray) -> np.ndarray:
    return G[m.offs[OUT_BIAS] : m.offs[OUT_BIAS + 1]]


def logsumexp(z: np.ndarray) -> np.ndarray:
    mx = z.max(axis=-1, keepdims=True)
    return (mx + np.log(np.exp(z - mx).sum(axis=-1, keepdims=True)))[..., 0]


def head(m: Model, ex: Examples):
    """(h, z, q) at every target of batch 0, recomputed in float64 from the model's h, E_out and b."""
    h = m.hidden(ex)
    z = h @ m.E_out().astype(np.float64).T + m.b_out().astype(np.float64)
    return h, z, np.exp(z - logsumexp(z)[:, None])


def fit_loss(m: Model, ex: Examples) -> float:
    """The weighted CE recomputed from head(): a second implementation of the head's forward."""
    _, z, _ = head(m, ex)
    return float(np.sum(ex.tgt_w * (logsumexp(z) - z[np.arange(len(z)), ex.tgt_sym])))


def pair_conditionals(s: Setup, a: int, b: int):
    """Per population entry: (context id, p(a|x), p(b|x), p(x)), grouped here from the population itself.

    A context is the token row (the mask included), the target position and the length,
    as in ``generators.truth``; grouping again here gives a second computation of p(.|x).
    """
    ex = s.pop
    key = np.concatenate([ex.tokens[0][ex.tgt_seq], ex.tgt_pos[:, None], ex.lengths[0][ex.tgt_seq][:, None]], 1)
    _, ctx = np.unique(key, axis=0, return_inverse=True)
    ctx = ctx.ravel()
    C = ctx.max() + 1
    pc = np.bincount(ctx, ex.tgt_w, C)
    pa = np.bincount(ctx, ex.tgt_w * (ex.tgt_sym == a), C) / pc
    pb = np.bincount(ctx, ex.tgt_w * (ex.tgt_sym == b), C) / pc
    return ctx, pa[ctx], pb[ctx], pc[ctx]


def input_freq(s: Setup, sym_id: int) -> float:
    """Expected number of input occurrences of a symbol per target in the population."""
    ex = s.pop
    return float(np.sum(ex.tgt_w * (ex.tokens[0][ex.tgt_seq] == sym_id).sum(1)))


class Descent:
    """A ``models.Optimizer`` on one fixed batch (a population), from wherever m.P is, in place.

    A constant rate and no schedule; ``step()`` makes one update and returns the
    loss gradient at the pre-update parameters (without weight decay), which the
    contraction checks need.
    """

    def __init__(self, m: Model, ex: Examples, opt: str = "sgd", lr: float = 0.1, wd: float = 0.0,
                 betas=(0.9, 0.999), eps: float = 1e-12, momentum: float = 0.0):
        self.m, self.t, self.ex = m, 0, Optimizer.arrays(ex)
        self.opt = Optimizer(m, TrainConfig(optimizer=opt, lr=lr, weight_decay=wd, betas=betas, eps=eps,
                                            momentum=momentum, schedule="constant", t_max=1, eta_min=0.0,
                                            progress=False))

    def run(self, n: int) -> np.ndarray:
        """n updates; the losses before each."""
        losses, _, status = self.opt.run(self.ex, 0, self.t, n)
        if status >= 0:
            raise FloatingPointError(f"the loss became {losses[status - self.t]} at step {status}")
        self.t += n
        return losses

    def step(self) -> np.ndarray:
        self.run(1)
        return self.opt.G.copy()


@lru_cache(maxsize=16)
def _fitted_params(corpus: str, bits: int, arch: str, merge: tuple, bias: bool, steps: int, lr: float,
                   seed: int) -> tuple:
    s = CORPORA[corpus](bits)
    m = model(s, arch, seed=seed, merge_out=list(merge), output_bias=bias)
    losses = Descent(m, s.pop, "adam", lr=lr).run(steps)
    return m.P.copy(), np.append(losses, m.loss(s.pop)[0])  # the last entry: after the last update


def fitted(bits: int, arch: str = "mixer", merge: tuple = (), steps: int = 1500, lr: float = 1e-2, seed: int = 0,
           bias: bool = False, corpus: str = "dh"):
    """(model, losses): a model trained on a parity population ("dh" or "allomorph") with Adam, no decay.

    Cached and copied; losses[t] is the exact population loss after t updates (t = 0 .. steps)."""
    P, losses = _fitted_params(corpus, bits, arch, tuple(merge), bias, steps, lr, seed)
    m = model(CORPORA[corpus](bits), arch, seed=seed, merge_out=list(merge), output_bias=bias)
    m.P[:] = P
    return m, losses.copy()


def with_bias(m: Model, bias: np.ndarray) -> Model:
    """The same model with an output bias added (per shared row)."""
    import dataclasses

    out = Model(dataclasses.replace(m.cfg, output_bias=True))
    dst = out.views()
    for name, a in m.views().items():
        if name != "out_bias":
            dst[name][...] = a
    dst["out_bias"][...] = bias
    return out


@lru_cache(maxsize=4)
def parity_allomorph(bits: int = 3, after0=(0.1, 0.9), after1=(0.9, 0.1)) -> Setup:
    """Parity whose bit-0 variants (0a, 0b) are chosen by the preceding bit: an allomorph.

    After a 0 bit the weights are ``after0``, after a 1 bit ``after1``, at the
    start 1/2 each; bit 1 stays 0.5/0.5.  0a and 0b remain SE (the choice never
    depends on the masked meaning), but p(0a|x)/p(0b|x) depends on the context,
    so no output bias can absorb it.
    """
    # Not generators.transforms.allomorph: that one splits one symbol into fresh variants (0#1, 0#2) chosen
    # with probability 1 after their group and uniformly elsewhere, and refines the classes its own way; this
    # corpus needs soft weights (0.1/0.9, 0.9/0.1) on parity's own variants 0a/0b, so the vocabulary, the
    # realization tables and the checksum that the cached theory results were computed on would all change.
    c = parity_corpus(bits, zero=(0.5, 0.5), one=(0.5, 0.5), splits=(1.0, 0.0, 0.0), seed=0)
    r = c.real
    bit0, bit1 = c.meanings.index("bit0"), c.meanings.index("bit1")
    r.class_of = np.full(len(c.meanings), 2, np.int32)
    r.class_of[[bit0, bit1]] = 0, 1
    r.start_class = 2
    w = np.repeat(r.weights, 3, axis=1)
    w[bit0, 0, :2], w[bit0, 1, :2] = after0, after1
    r.weights = w
    c.relations = [x for x in c.relations if {x["a"], x["b"]} != {0, 1}]
    c.relations.append({"a": 0, "b": 1, "se": True, "ce": False,
                        "why": "bit-0 variants chosen by the preceding bit: a context-dependent ratio"})
    c.provenance = {**c.provenance, "generator": "parity+allomorph (theory.lab)"}
    return setup(c.validate())


CORPORA = {"dh": parity, "allomorph": parity_allomorph}
