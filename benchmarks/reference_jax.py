"""The JAX reference of the paper's training workload, written as a JAX expert would, and its agreement check.

One ``jax.jit`` holds a ``lax.scan`` over steps; each step samples its batch
(``jax.random``), runs forward and backward (``jax.grad``), the cosine
schedule and AdamW, all on the flat parameter vector of ``models.params`` (so
parameters, gradients and moments line up with ours index by index).

- Sampling: each step is one epoch of the train split (batch 1024 > the split,
  as in the paper), every meaning realized by the realization weights
  (inverse CDF of a uniform, as ``stream_kernels.realize_sequence``) and one
  maskable position per string masked, chosen uniformly.  The draws come from
  ``jax.random``, so the batches follow the same distribution as our
  ``Stream`` but are not bit-identical to it.  The epoch's shuffle is left
  out: the loss is a sum over the strings, so their order changes nothing
  but the summation order.
- Attention: the query-side form of ``models/transformer_kernels.py`` (scores
  u . x_j with u = Wk^T q, values Wv (sum_j a_j x_j) + b_v), and the last layer
  only at the one masked row per string, the only row the loss sees.

``check_agreement`` feeds our stream's batches into ``loss_grad`` / ``adamw``
and compares the loss, the gradient and one AdamW update with ours in float64;
it raises ``JaxAgreementError`` beyond ``RTOL``.

XLA is pinned to one thread by the flags below, which must be set before jax
first loads; importing this module first does that.
"""
from __future__ import annotations

import math
import os
import sys

if "jax" not in sys.modules:  # one thread: no Eigen pool, one intra-op thread
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                               " intra_op_parallelism_threads=1").strip()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax import lax  # noqa: E402

from tying.models import Model, ModelConfig, Optimizer, TrainConfig, params  # noqa: E402

jax.config.update("jax_enable_x64", True)

RTOL = 1e-12
LN_EPS = 1e-5
PARAM_DTYPES = {"float64": jnp.float64, "float32": jnp.float32}


class JaxAgreementError(AssertionError):
    """Our kernels and the JAX reference disagree: no timing may be reported."""


class Net:
    """The static shape of a transformer config: block slices of the flat P and the sharing rows."""

    def __init__(self, cfg: ModelConfig):
        if cfg.arch != "transformer" or cfg.objective != "mlm":
            raise ValueError("the JAX reference covers the MLM transformer only")
        self.cfg = cfg
        in_row, out_row, bl, offs, _, _ = params.layout(cfg)
        self.in_row, self.out_row = jnp.asarray(in_row), jnp.asarray(out_row)
        self.slices = {name: (int(a), int(b), shape) for (name, shape, _), a, b in zip(bl, offs[:-1], offs[1:])}

    def get(self, P, name: str):
        a, b, shape = self.slices[name]
        return P[a:b].reshape(shape)

    def layer(self, P, i: int, xq, X, keep):
        """Layer i at the query rows xq (B, nq, d) over the keys X (B, T, d), key mask keep (B, T)."""
        c, g = self.cfg, lambda k: self.get(P, f"layer{i}.{k}")  # noqa: E731
        d, H = c.d, c.heads
        dh = d // H
        Win, b_in = g("in_w"), g("in_b")
        q = xq @ Win[:d].T + b_in[:d]
        # the key bias adds q . b_k to every score of a query, which the softmax cancels
        u = jnp.einsum("bqhe,hed->bqhd", q.reshape(*q.shape[:2], H, dh), Win[d:2 * d].reshape(H, dh, d))
        s = jnp.einsum("bqhd,btd->bqht", u / math.sqrt(dh), X)
        a = jax.nn.softmax(jnp.where(keep[:, None, None, :], s, -jnp.inf), axis=-1)
        xbar = jnp.einsum("bqht,btd->bqhd", a, X)  # the a_j sum to 1, so the values are Wv xbar + b_v
        o = jnp.einsum("bqhd,hed->bqhe", xbar, Win[2 * d:].reshape(H, dh, d)).reshape(q.shape) + b_in[2 * d:]
        y1 = layernorm(xq + o @ g("out_w").T + g("out_b"), g("ln1_g"), g("ln1_b"))
        h = y1 @ g("ff_w1").T + g("ff_b1")
        h = jax.nn.gelu(h, approximate=False) if c.activation == "gelu" else jax.nn.relu(h)
        return layernorm(y1 + h @ g("ff_w2").T + g("ff_b2"), g("ln2_g"), g("ln2_b"))

    def loss(self, P, batch):
        """(weighted loss, weighted accuracy) of a batch with one target per string, in string order."""
        tokens, lengths, pos, sym, w = batch
        c = self.cfg
        B, T = tokens.shape
        E = self.get(P, "emb")
        keep = jnp.arange(T)[None, :] < lengths[:, None]
        X = E[self.in_row[tokens]]
        if c.positional:
            X = X + self.get(P, "pos")
        X = X * keep[:, :, None]
        for i in range(c.layers - 1):
            X = self.layer(P, i, X, X, keep)
        xq = jnp.take_along_axis(X, pos[:, None, None], axis=1)  # the masked row of each string
        h = self.layer(P, c.layers - 1, xq, X, keep)[:, 0]
        z = h @ E[self.out_row].T
        if c.output_bias:
            z = z + self.get(P, "out_bias")[self.out_row]
        nll = jax.nn.logsumexp(z, axis=-1) - jnp.take_along_axis(z, sym[:, None], axis=1)[:, 0]
        return jnp.sum(w * nll), jnp.sum(w * (jnp.argmax(z, axis=-1) == sym))


def layernorm(x, g, b):
    mu = jnp.mean(x, axis=-1, keepdims=True)
    xc = x - mu
    return xc / jnp.sqrt(jnp.mean(xc * xc, axis=-1, keepdims=True) + LN_EPS) * g + b


def lr_at(t, tc: TrainConfig):
    """CosineAnnealingLR's closed form at 0-based step t (models.optim_kernels.lr_at)."""
    if tc.schedule == "cosine":
        return tc.eta_min + (tc.lr - tc.eta_min) * (1.0 + jnp.cos(jnp.pi * t / tc.t_max)) / 2.0
    return tc.lr + 0.0 * t


def adamw(P, G, m, v, t, tc: TrainConfig):
    """torch.optim.AdamW's update at 0-based step t (models.optim_kernels.adam_step, decoupled)."""
    b1, b2 = tc.betas
    lr = lr_at(t, tc)
    step = t + 1
    P = P * (1.0 - lr * tc.weight_decay)
    m = m + (G - m) * (1.0 - b1)
    v = v * b2 + (1.0 - b2) * G * G
    P = P - lr / (1.0 - b1**step) * m / (jnp.sqrt(v) / jnp.sqrt(1.0 - b2**step) + tc.eps)
    return P, m, v


class Sampler:
    """The paper's stream in jax.random: every string of a split, realized afresh, one masked bit each."""

    def __init__(self, corpus, split: str = "train"):
        r = corpus.real
        if corpus.task != "mlm" or corpus.mask_rate != 0.0 or np.any(r.copy_src >= 0):
            raise ValueError("the JAX sampler covers MLM with one masked position and no copied meanings")
        ids = corpus.split_ids(split)
        T = corpus.max_len
        L = np.diff(corpus.offsets)[ids]
        M, maskable = np.zeros((len(ids), T), np.int64), np.zeros((len(ids), T), bool)
        for b, i in enumerate(ids):
            a, e = corpus.offsets[i], corpus.offsets[i + 1]
            M[b, : e - a], maskable[b, : e - a] = corpus.seqs[a:e], corpus.maskable[a:e]
        prev = np.concatenate([np.full((len(ids), 1), -1), M[:, :-1]], axis=1)
        C = np.where(prev < 0, r.start_class, r.class_of[np.maximum(prev, 0)])
        cw = np.cumsum(r.weights, axis=-1)  # (meanings, classes, variants)
        last = (r.weights > 0).shape[-1] - 1 - np.argmax((r.weights > 0)[..., ::-1], axis=-1)
        self.cw, self.last = jnp.asarray(cw[M, C]), jnp.asarray(last[M, C])  # per (string, position)
        self.M, self.variants = jnp.asarray(M), jnp.asarray(r.variants)
        self.maskable = jnp.asarray(maskable & (np.arange(T)[None, :] < L[:, None]))
        self.lengths = jnp.asarray(L.astype(np.int64))
        self.mask_id = int(corpus.specials["mask"])
        self.B = len(ids)

    def __call__(self, key, dtype=jnp.float64):
        ku, km = jax.random.split(key)
        u = jax.random.uniform(ku, self.M.shape, jnp.float64)
        # the first variant whose cumulative weight exceeds u; zero-weight variants never qualify
        k = jnp.minimum(jnp.sum(self.cw <= u[..., None], axis=-1), self.last)
        surf = jnp.take_along_axis(self.variants[self.M], k[..., None], axis=-1)[..., 0]
        pos = jnp.argmax(jnp.where(self.maskable, jax.random.uniform(km, self.M.shape), -1.0), axis=1)
        rows = jnp.arange(self.B)
        tokens = surf.at[rows, pos].set(self.mask_id)
        return tokens, self.lengths, pos, surf[rows, pos], jnp.full(self.B, 1.0 / self.B, dtype)


def trainer(net: Net, sampler: Sampler, tc: TrainConfig, dtype: str = "float64"):
    """A jitted train(state, n) -> (state, losses): n steps of sample, grad, cosine + AdamW in one scan.
    state = (P, m, v, t, key); ``init(P, seed)`` makes it.  ``vmap`` it over runs for many at once."""
    dt = PARAM_DTYPES[dtype]
    grad = jax.value_and_grad(lambda P, b: net.loss(P, b)[0])

    def step(state, _):
        P, m, v, t, key = state
        key, sub = jax.random.split(key)
        loss, G = grad(P, sampler(sub, dt))
        P, m, v = adamw(P, G, m, v, t.astype(dt), tc)
        return (P, m, v, t + 1, key), loss

    def train(state, n: int):
        return lax.scan(step, state, None, length=n)

    def init(P, seed: int):
        P = jnp.asarray(P, dt)
        return P, jnp.zeros_like(P), jnp.zeros_like(P), jnp.asarray(0, jnp.int32), jax.random.key(seed)
    return jax.jit(train, static_argnums=1), init


def batch_of(ex, s: int = 0):
    """Batch s of our Examples as the JAX step's input (one target per string, in string order)."""
    a, e = int(ex.tgt_off[s]), int(ex.tgt_off[s + 1])
    seq = ex.tgt_seq[a:e]
    if not np.array_equal(seq, np.arange(ex.tokens.shape[1])):
        raise ValueError("the JAX step takes one target per string, in string order")
    return (jnp.asarray(ex.tokens[s], jnp.int64), jnp.asarray(ex.lengths[s], jnp.int64),
            jnp.asarray(ex.tgt_pos[a:e], jnp.int64), jnp.asarray(ex.tgt_sym[a:e], jnp.int64),
            jnp.asarray(ex.tgt_w[a:e], jnp.float64))


def _rel(ours, ref) -> float:
    num = float(np.max(np.abs(np.asarray(ours) - np.asarray(ref)), initial=0.0))
    return 0.0 if num == 0.0 else num / max(float(np.max(np.abs(ref), initial=0.0)), 1e-300)


def check_agreement(cfg: ModelConfig, ex, steps: int = 3, seed: int = 0, tc: TrainConfig | None = None,
                    rtol: float = RTOL, net: Net | None = None) -> dict:
    """``steps`` steps (batch t % S of ex) of ours (the real training loop) and of the JAX step from the same
    float64 parameters: the worst relative error of the loss, the gradient and the updated parameters."""
    tc = tc or TrainConfig(steps=steps)
    net = net or Net(cfg)
    ours = Optimizer(Model(cfg, seed=seed), tc)
    arrays = Optimizer.arrays(ex)
    P = jnp.asarray(ours.model.P)
    m, v = jnp.zeros_like(P), jnp.zeros_like(P)
    loss_grad = jax.jit(jax.value_and_grad(lambda P, b: net.loss(P, b)[0]))
    update = jax.jit(lambda P, G, m, v, t: adamw(P, G, m, v, t, tc))
    worst = {"loss_rel": 0.0, "grad_rel": 0.0, "param_rel": 0.0}
    for t in range(steps):
        s = t % ex.n_batches
        losses, _, status = ours.run(arrays, s, t, 1)
        loss, G = loss_grad(P, batch_of(ex, s))
        P, m, v = update(P, G, m, v, jnp.float64(t))
        worst["loss_rel"] = max(worst["loss_rel"], abs(float(losses[0]) - float(loss)) / abs(float(loss)))
        worst["grad_rel"] = max(worst["grad_rel"], _rel(ours.G, G))
        worst["param_rel"] = max(worst["param_rel"], _rel(ours.model.P, P))
        if status >= 0:
            raise JaxAgreementError(f"our loss is not finite at step {t}")
    out = {"steps": steps, "rtol": rtol, **worst, "ok": bool(max(worst.values()) <= rtol)}
    if not out["ok"]:
        raise JaxAgreementError(
            f"ours and JAX disagree (loss {worst['loss_rel']:.2e}, gradient {worst['grad_rel']:.2e}, parameters "
            f"{worst['param_rel']:.2e}; rtol {rtol:g}): the benchmark refuses to report")
    return out
