"""A model: a fitted config, its flat parameters, and the sharing map, over the numba kernels.

    model = Model.from_corpus(corpus, ModelConfig(arch="mixer", tied=True), seed=0)
    loss, acc, G = model.loss_grad(Stream(corpus).next(1))

The numba training loop (``Optimizer.run``) calls ``variant_kernels.loss_grad_model``
on ``model.P`` directly; this class is the Python face for inspection and theory
checks.  ``var`` is the config's tying variant (``variants.state``): E_in and
E_out are what the roles read (c E[s]; the partially tied or mapped output row).
The kernel module of each architecture comes from ``archs.REGISTRY``.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from tying.core.errors import InputError
from tying.core.kernel_cache import call_literal
from tying.generators import Examples

from . import archs, params
from .archs import PAPER_SMALL
from .config import ModelConfig
from .params import EMB, OUT_BIAS
from .variant_kernels import effective, loss_grad_model
from .variants import state


class Model:
    def __init__(self, cfg: ModelConfig, P: np.ndarray | None = None, seed: int = 0):
        if cfg.vocab_size < 1 or cfg.seq_len < 1:
            raise InputError("the model config has no vocabulary size or sequence length; fit it to a corpus first")
        if cfg.arch == "mixer" and cfg.objective == "causal" and cfg.token_ff != cfg.seq_len:
            raise InputError(f"a causal mixer needs token_ff == seq_len so that token mixing cannot look ahead "
                             f"(got token_ff={cfg.token_ff}, seq_len={cfg.seq_len})")
        self.cfg = cfg
        self.in_row, self.out_row, self.blocks, self.offs, self.dims, size = params.layout(cfg)
        self.arch_code = archs.ARCH_CODE[cfg.arch]
        if P is None:
            P = params.init_params(cfg, seed)
        elif np.shape(P) != (size,):
            raise InputError(f"parameter array has shape {np.shape(P)} but the config needs ({size},)")
        self.P = np.ascontiguousarray(P, dtype=cfg.dtype)  # used in place when it already has the dtype
        self.var = state(cfg, self.P.dtype)

    @classmethod
    def from_corpus(cls, corpus, cfg: ModelConfig, seed: int = 0) -> "Model":
        """A model whose vocabulary, length and objective fit the corpus.  A causal mixer left at
        the paper-small token_ff gets token_ff = the corpus length (any other value must already be it)."""
        fitted = cfg.fit(corpus.vocab_size, corpus.max_len, corpus.task)
        default_tf = PAPER_SMALL["mixer"]["token_ff"]
        if fitted.arch == "mixer" and fitted.objective == "causal" and cfg.token_ff == default_tf:
            fitted = dataclasses.replace(fitted, token_ff=fitted.seq_len)
        return cls(fitted, seed=seed)

    # ------------------------------------------------------------------ kernels
    def _batch(self, ex: Examples, s: int):
        if not 0 <= s < ex.n_batches:
            raise InputError(f"batch {s} does not exist (the examples hold {ex.n_batches})")
        a, b = ex.tgt_off[s], ex.tgt_off[s + 1]
        tokens, lengths = ex.tokens[s], ex.lengths[s]
        if lengths.size and lengths.max() > min(self.cfg.seq_len, tokens.shape[1]):
            raise InputError(f"the batch has sequences of length {lengths.max()} but the model only "
                             f"{self.cfg.seq_len}")
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.cfg.vocab_size):
            raise InputError(f"the batch uses symbol ids outside the model's vocabulary of {self.cfg.vocab_size}")
        seq, pos, sym = ex.tgt_seq[a:b], ex.tgt_pos[a:b], ex.tgt_sym[a:b]
        if b > a and (seq.min() < 0 or seq.max() >= len(lengths) or pos.min() < 0
                      or np.any(pos >= lengths[seq]) or sym.min() < 0 or sym.max() >= self.cfg.vocab_size):
            raise InputError("the batch has targets outside its sequences or vocabulary")
        return (np.ascontiguousarray(tokens, np.int32), np.ascontiguousarray(lengths, np.int32),
                np.ascontiguousarray(seq, np.int32), np.ascontiguousarray(pos, np.int32),
                np.ascontiguousarray(sym, np.int32), np.ascontiguousarray(ex.tgt_w[a:b], np.float64))

    def loss_grad(self, examples: Examples, s: int = 0, want_grad: bool = True):
        """(loss, weighted accuracy, G) on batch s; G is None when not want_grad."""
        tokens, lengths, seq, pos, sym, w = self._batch(examples, s)
        G = np.zeros_like(self.P)
        loss, acc = call_literal(loss_grad_model, self.arch_code, self.P, G, self.offs, self.dims, self.in_row,
                                 self.out_row, self.var, tokens, lengths, seq, pos, sym, w, want_grad)
        return float(loss), float(acc), (G if want_grad else None)

    def loss(self, examples: Examples, s: int = 0) -> tuple[float, float]:
        loss, acc, _ = self.loss_grad(examples, s, want_grad=False)
        return loss, acc

    def hidden(self, examples: Examples, s: int = 0) -> np.ndarray:
        """The representation h (N, d) that meets the output head at each target of batch s (float64)."""
        tokens, lengths, seq, pos, _, _ = self._batch(examples, s)
        hidden = archs.kernels(self.cfg.arch).hidden
        if self.cfg.variant:
            _, _, _, offs_e, dims_e, in_e, _, Pe, _ = self._effective()
            return hidden(Pe, offs_e, dims_e, in_e, tokens, lengths, seq, pos)
        return hidden(self.P, self.offs, self.dims, self.in_row, tokens, lengths, seq, pos)

    # --------------------------------------------------------------- parameters
    def views(self) -> dict[str, np.ndarray]:
        return params.views(self.cfg, self.P)

    def _effective(self) -> tuple:
        """The variant's state with Pe holding what the roles read from the current P."""
        vi, vf, tie_row, offs_e, *_ = var = self.var
        effective(self.P, self.offs, self.dims, self.in_row, self.out_row, tie_row, vi, vf, var[7], offs_e)
        return var

    def _tables(self) -> tuple:
        """(table, in_row, out_row, offs): where the roles read their embeddings and output bias."""
        if not self.cfg.variant:
            return self.P, self.in_row, self.out_row, self.offs
        _, _, _, offs_e, _, in_e, out_e, Pe, _ = self._effective()
        return Pe, in_e, out_e, offs_e

    def E_in(self) -> np.ndarray:
        """Each symbol's input embedding (V, d), a copy."""
        P, in_row, _, offs = self._tables()
        return P[offs[EMB] : offs[EMB + 1]].reshape(-1, self.cfg.d)[in_row]

    def E_out(self) -> np.ndarray:
        """Each symbol's output embedding (V, d), a copy; tied or merged symbols share rows."""
        P, _, out_row, offs = self._tables()
        return P[offs[EMB] : offs[EMB + 1]].reshape(-1, self.cfg.d)[out_row]

    def b_out(self) -> np.ndarray:
        """Each symbol's output bias (V,); zeros when the model has none."""
        if not self.cfg.output_bias:
            return np.zeros(self.cfg.vocab_size, self.P.dtype)
        P, _, out_row, offs = self._tables()
        return P[offs[OUT_BIAS] : offs[OUT_BIAS + 1]][out_row]

