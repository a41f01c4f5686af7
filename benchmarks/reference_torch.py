"""The same models in plain PyTorch eager, initialised from our flat parameters, and the agreement check.

A ``Reference`` holds one torch tensor per block of ``models.params.blocks``
(same names, shapes and order), so ``load(P)`` / ``flat()`` / ``flat_grad()``
move parameters and gradients between the two worlds.  The embedding table
is one ``(R, d)`` tensor indexed through ``in_row`` and ``out_row``, so tied
and merged rows accumulate every role's gradient exactly as our sharing map does.

- transformer: ``torch.nn.TransformerEncoderLayer`` itself (dropout 0,
  batch_first, post-LN), with a key padding mask and, for the causal
  objective, a causal mask;
- mixer: written out below with ``F.linear``; padding as in
  ``models/mixer_kernels.py`` (LN1's output is zeroed on padded rows before
  token mixing; the updates of padded rows are dropped), causal token mixing
  through lower-triangular weights;
- lstm: ``torch.nn.LSTM`` over packed sequences, then the Linear projection.

``check_agreement`` runs a few AdamW + cosine steps with both (ours through the
real training loop, through ``models.Optimizer``) and compares the loss,
the gradient and the updated parameters of every step in float64; it raises
``AgreementError`` beyond rtol 1e-6.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tying.generators import Examples
from tying.models import Model, ModelConfig, Optimizer, TrainConfig, params

RTOL = 1e-6
LN_EPS = 1e-5
DTYPES = {"float64": torch.float64, "float32": torch.float32}


class AgreementError(AssertionError):
    """Our kernels and the torch reference disagree: no timing may be reported."""


class MixerLayer(nn.Module):
    def __init__(self, T, d, tf, cf, activation, causal, dtype):
        super().__init__()
        kw = dict(dtype=dtype)
        self.ln1, self.ln2 = nn.LayerNorm(d, eps=LN_EPS, **kw), nn.LayerNorm(d, eps=LN_EPS, **kw)
        self.tok1, self.tok2 = nn.Linear(T, tf, **kw), nn.Linear(tf, T, **kw)
        self.ch1, self.ch2 = nn.Linear(d, cf, **kw), nn.Linear(cf, d, **kw)
        self.act = F.gelu if activation == "gelu" else F.relu
        # causal: hidden unit f reads positions <= f, position t reads hidden units <= t (token_ff == T)
        self.register_buffer("tril", torch.ones(T, T, dtype=dtype).tril() if causal else None)

    def forward(self, x, keep):  # x (B, T, d), keep (B, T, 1): 1 on real rows
        w1, w2 = self.tok1.weight, self.tok2.weight
        if self.tril is not None:
            w1, w2 = w1 * self.tril, w2 * self.tril
        y = (self.ln1(x) * keep).transpose(1, 2)  # (B, d, T)
        x = x + F.linear(self.act(F.linear(y, w1, self.tok1.bias)), w2, self.tok2.bias).transpose(1, 2) * keep
        return x + self.ch2(self.act(self.ch1(self.ln2(x)))) * keep


class Reference(nn.Module):
    def __init__(self, cfg: ModelConfig, P: np.ndarray, dtype=torch.float64):
        super().__init__()
        self.cfg, self.dtype = cfg, dtype
        in_row, out_row, self.bl, _, _, _ = params.layout(cfg)
        self.register_buffer("in_row", torch.as_tensor(in_row, dtype=torch.long))
        self.register_buffer("out_row", torch.as_tensor(out_row, dtype=torch.long))
        shape = {name: s for name, s, _ in self.bl}
        new = lambda name: nn.Parameter(torch.zeros(shape[name], dtype=dtype))  # noqa: E731
        self.emb = new("emb")
        self.out_bias = new("out_bias") if cfg.output_bias else None
        self.pos = new("pos") if cfg.positional else None
        tensors = {"emb": self.emb, "out_bias": self.out_bias, "pos": self.pos}
        d, T = cfg.d, cfg.seq_len
        if cfg.arch == "transformer":
            self.layers = nn.ModuleList(nn.TransformerEncoderLayer(
                d, cfg.heads, cfg.ff, dropout=0.0, activation=cfg.activation, layer_norm_eps=LN_EPS,
                batch_first=True, norm_first=False, dtype=dtype) for _ in range(cfg.layers))
            for i, m in enumerate(self.layers):
                a = m.self_attn
                tensors.update({f"layer{i}.{k}": v for k, v in zip(params.TRANSFORMER_LAYER, (
                    a.in_proj_weight, a.in_proj_bias, a.out_proj.weight, a.out_proj.bias, m.norm1.weight,
                    m.norm1.bias, m.linear1.weight, m.linear1.bias, m.linear2.weight, m.linear2.bias,
                    m.norm2.weight, m.norm2.bias))})
        elif cfg.arch == "mixer":
            self.layers = nn.ModuleList(MixerLayer(T, d, cfg.token_ff, cfg.channel_ff, cfg.activation,
                                                   cfg.objective == "causal", dtype) for _ in range(cfg.layers))
            for i, m in enumerate(self.layers):
                tensors.update({f"layer{i}.{k}": v for k, v in zip(params.MIXER_LAYER, (
                    m.ln1.weight, m.ln1.bias, m.tok1.weight, m.tok1.bias, m.tok2.weight, m.tok2.bias,
                    m.ln2.weight, m.ln2.bias, m.ch1.weight, m.ch1.bias, m.ch2.weight, m.ch2.bias))})
        elif cfg.arch == "lstm":
            dirs = 2 if cfg.bidirectional else 1
            self.lstm = nn.LSTM(d, cfg.hidden, cfg.layers, batch_first=True, bidirectional=cfg.bidirectional,
                                dtype=dtype)
            self.proj = nn.Linear(cfg.hidden * dirs, d, dtype=dtype)
            for i in range(cfg.layers):
                for r in range(dirs):
                    sfx = f"_l{i}" + ("_reverse" if r else "")
                    for k in params.LSTM_CELL:
                        tensors[f"layer{i}.dir{r}.{k}"] = getattr(self.lstm, k.replace("w_", "weight_")
                                                                  .replace("b_", "bias_") + sfx)
            tensors.update(proj_w=self.proj.weight, proj_b=self.proj.bias)
        else:
            raise ValueError(f"no torch reference for {cfg.arch}")
        self.tensors = [tensors[name] for name, _, _ in self.bl]  # our canonical block order
        self.load(P)

    def load(self, P: np.ndarray) -> None:
        with torch.no_grad():
            for t, v in zip(self.tensors, params.views(self.cfg, np.asarray(P, np.float64)).values()):
                if t is not None:
                    t.copy_(torch.from_numpy(np.ascontiguousarray(v)))

    def flat(self, grad: bool = False) -> np.ndarray:
        """Parameters (or their gradients) as our flat float64 array."""
        out = []
        for t, (_, shape, _) in zip(self.tensors, self.bl):
            x = None if t is None else (t.grad if grad else t)
            out.append(np.zeros(int(np.prod(shape))) if x is None else x.detach().double().numpy().ravel())
        return np.concatenate(out)

    def forward(self, b: dict):
        """(weighted loss, weighted accuracy) of one batch made by ``batch()``."""
        X = self.emb[self.in_row[b["tokens"]]]
        if self.pos is not None:
            X = X + self.pos
        X = X * b["keep"]  # padded rows are zero, as in our embed
        if self.cfg.arch == "transformer":
            for layer in self.layers:
                X = layer(X, src_mask=b["causal"], src_key_padding_mask=b["pad"])
        elif self.cfg.arch == "mixer":
            for layer in self.layers:
                X = layer(X, b["keep"])
        else:
            packed = nn.utils.rnn.pack_padded_sequence(X, b["lengths"], batch_first=True, enforce_sorted=False)
            X, _ = nn.utils.rnn.pad_packed_sequence(self.lstm(packed)[0], batch_first=True,
                                                    total_length=X.shape[1])
        Hs = X[b["seq"], b["pos"]]
        if self.cfg.arch == "lstm":
            Hs = self.proj(Hs)
        z = Hs @ self.emb[self.out_row].T
        if self.out_bias is not None:
            z = z + self.out_bias[self.out_row]
        w = b["w"]
        loss = (w * F.cross_entropy(z, b["sym"], reduction="none")).sum()
        acc = (w * (z.argmax(1) == b["sym"])).sum()
        return loss, acc


def batch(cfg: ModelConfig, ex: Examples, s: int = 0, dtype=torch.float64) -> dict:
    """Batch s of ``ex`` as torch tensors, padded to the model's sequence length, with its masks."""
    a, e = int(ex.tgt_off[s]), int(ex.tgt_off[s + 1])
    B, Tb = ex.tokens[s].shape
    T = cfg.seq_len
    tokens = np.zeros((B, T), np.int64)
    tokens[:, : min(T, Tb)] = ex.tokens[s][:, :T]
    lengths = torch.as_tensor(ex.lengths[s], dtype=torch.long)
    pad = torch.arange(T)[None, :] >= lengths[:, None]
    return {
        "tokens": torch.from_numpy(tokens), "lengths": lengths, "pad": pad,
        "keep": (~pad).to(dtype)[:, :, None],
        "causal": (torch.ones(T, T, dtype=torch.bool).triu(1) if cfg.objective == "causal"
                   and cfg.arch == "transformer" else None),
        "seq": torch.as_tensor(ex.tgt_seq[a:e], dtype=torch.long),
        "pos": torch.as_tensor(ex.tgt_pos[a:e], dtype=torch.long),
        "sym": torch.as_tensor(ex.tgt_sym[a:e], dtype=torch.long),
        "w": torch.as_tensor(ex.tgt_w[a:e], dtype=dtype),
    }


def optimizer(model: Reference, tc: TrainConfig):
    """torch's own AdamW (or Adam / SGD) and CosineAnnealingLR with the TrainConfig's settings."""
    ps = [p for p in model.parameters()]
    if tc.optimizer == "sgd":
        opt = torch.optim.SGD(ps, lr=tc.lr, momentum=tc.momentum, weight_decay=tc.weight_decay)
    else:
        cls = torch.optim.AdamW if tc.optimizer == "adamw" else torch.optim.Adam
        opt = cls(ps, lr=tc.lr, betas=tc.betas, eps=tc.eps, weight_decay=tc.weight_decay)
    if tc.schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=tc.t_max, eta_min=tc.eta_min)
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    return opt, sched


def _rel(ours: np.ndarray, ref: np.ndarray) -> float:
    """max |ours - ref| / max |ref| (0 when both are exactly zero)."""
    num = float(np.max(np.abs(ours - ref), initial=0.0))
    return 0.0 if num == 0.0 else num / max(float(np.max(np.abs(ref), initial=0.0)), 1e-300)


def _block_rel(cfg, ours, ref, skip=None) -> tuple[float, str]:
    """The worst per-block relative error, and its block name (entries in skip left out)."""
    _, _, bl, offs, _, _ = params.layout(cfg)
    keep = np.ones(len(ours), bool) if skip is None else ~skip
    errs = [(_rel(ours[a:b][keep[a:b]], ref[a:b][keep[a:b]]), name)
            for (name, _, _), a, b in zip(bl, offs[:-1], offs[1:]) if b > a]
    return max(errs)


def check_agreement(name: str, cfg: ModelConfig, ex: Examples, steps: int = 3, seed: int = 0,
                    tc: TrainConfig | None = None, rtol: float = RTOL) -> dict:
    """``steps`` training steps (batch t % S) with ours and torch in float64, from the same parameters.

    Per step: the loss (relative error), the gradient and the updated parameters (the worst
    per-block error max|ours - torch| / max|torch|).  Raises AgreementError beyond rtol.

    Some gradients are zero in exact arithmetic (an attention key bias, which the softmax cancels;
    the bias of a token-mixing row that no target depends on, behind a LayerNorm whose gradient is
    orthogonal to the ones vector).  Both sides leave roundoff there (~1e-19 to 1e-17), which Adam's
    normalisation (eps 1e-12) turns into updates of up to ~lr * 1e-5 in a direction set by the
    roundoff.  So the parameter comparison leaves out every entry whose gradient, on both sides, has
    been below 1e-10 of the largest one; the gradient comparison keeps them.
    """
    tc = tc or TrainConfig(steps=steps)
    cfg = ModelConfig(**{**cfg.to_dict(), "dtype": "float64"})
    model = Model(cfg, seed=seed)
    ref = Reference(cfg, model.P, torch.float64)
    opt, sched = optimizer(ref, tc)
    ours = Optimizer(Model(cfg, model.P.copy()), tc)
    arrays = Optimizer.arrays(ex)
    P, G = ours.model.P, ours.G
    worst = {"loss": 0.0, "acc": 0.0, "grad": (0.0, ""), "params": (0.0, "")}
    null = np.zeros(P.shape, bool)
    for t in range(steps):
        s = t % ex.n_batches
        losses, accs, status = ours.run(arrays, s, t, 1)
        opt.zero_grad(set_to_none=True)
        loss, acc = ref(batch(cfg, ex, s))
        loss.backward()
        g_ref = ref.flat(grad=True)
        opt.step()
        sched.step()
        worst["loss"] = max(worst["loss"], abs(losses[0] - loss.item()) / abs(loss.item()))
        worst["acc"] = max(worst["acc"], abs(accs[0] - acc.item()))
        worst["grad"] = max(worst["grad"], _block_rel(cfg, G, g_ref))
        floor = 1e-10 * np.max(np.abs(g_ref))
        null |= (np.abs(g_ref) <= floor) & (np.abs(G) <= floor)
        worst["params"] = max(worst["params"], _block_rel(cfg, P, ref.flat(), null))
        if status >= 0:
            raise AgreementError(f"{name}: our loss is not finite at step {t}")
    out = {"case": name, "steps": steps, "loss_rel": worst["loss"], "acc_diff": worst["acc"],
           "grad_rel": worst["grad"][0], "grad_block": worst["grad"][1],
           "param_rel": worst["params"][0], "param_block": worst["params"][1], "null_entries": int(null.sum())}
    out["ok"] = bool(max(out["loss_rel"], out["grad_rel"], out["param_rel"]) <= rtol and out["acc_diff"] <= 1e-9)
    if not out["ok"]:
        raise AgreementError(
            f"{name}: ours and torch disagree (loss {out['loss_rel']:.2e}, gradient {out['grad_rel']:.2e} in "
            f"{out['grad_block']}, parameters {out['param_rel']:.2e} in {out['param_block']}, accuracy "
            f"{out['acc_diff']:.2e}; rtol {rtol:g}): the benchmark refuses to report")
    return out


def counted_flops(cfg: ModelConfig, ex: Examples, s: int = 0) -> float:
    """The FLOPs of one forward and backward of the torch reference, as torch's FlopCounterMode counts them."""
    from torch.utils.flop_counter import FlopCounterMode

    ref = Reference(cfg, Model(cfg).P)
    with FlopCounterMode(display=False) as fc:
        loss, _ = ref(batch(cfg, ex, s))
        loss.backward()
    return float(fc.get_total_flops())
