"""Training data as the models see it: S batches of padded token rows with sparse targets.

This is the whole interface between generators and models.  A sampled stream
yields S > 1 batches at a time; an exact population is one batch (S == 1)
whose target weights are the probabilities of (context, target) pairs.

The loss of batch s is sum_j tgt_w[j] * CE(logits(tokens[s, tgt_seq[j]], tgt_pos[j]), tgt_sym[j])
over j in tgt_off[s]:tgt_off[s+1]; the weights of a batch sum to 1.  For the
causal task position t predicts the token at t + 1; for MLM position t holds
the mask symbol and predicts what it hides.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .corpus import Corpus
from tying.core.errors import InputError
from .stream_kernels import sample_steps


@dataclass
class Examples:
    tokens: np.ndarray  # (S, B, T) int32
    lengths: np.ndarray  # (S, B) int32
    tgt_off: np.ndarray  # (S + 1,) int64
    tgt_seq: np.ndarray  # (N,) int32, row within its batch
    tgt_pos: np.ndarray  # (N,) int32
    tgt_sym: np.ndarray  # (N,) int32
    tgt_w: np.ndarray  # (N,) float64

    @property
    def n_batches(self) -> int:
        return self.tokens.shape[0]

    def batch(self, s: int) -> "Examples":
        a, b = self.tgt_off[s], self.tgt_off[s + 1]
        return Examples(self.tokens[s : s + 1], self.lengths[s : s + 1], np.array([0, b - a], np.int64),
                        self.tgt_seq[a:b], self.tgt_pos[a:b], self.tgt_sym[a:b], self.tgt_w[a:b])


class Stream:
    """The training stream of one split: epochs over its sequences, reshuffled each epoch,
    with fresh surface symbols and mask positions every time a sequence is drawn.

    A batch holds min(batch_size, split size) sequences; when the batch is at
    least the split (the paper: 1024 > ~115), one step is one epoch.
    """

    def __init__(self, corpus: Corpus, split: str = "train", batch_size: int = 1024, seed: int = 0):
        self.corpus = corpus
        self.ids = corpus.split_ids(split)
        if len(self.ids) == 0:
            raise InputError(f"the {split} split of the corpus is empty")
        if batch_size < 1:
            raise InputError(f"batch size must be >= 1, got {batch_size}")
        self.batch = min(batch_size, len(self.ids))
        self.rng = np.random.default_rng(seed)
        self.pending = np.empty(0, np.int64)  # rest of the current epoch
        self.T = corpus.max_len

    def _rows(self, n_steps: int) -> np.ndarray:
        need = n_steps * self.batch
        n = len(self.ids)
        if self.batch == n:  # one step == one epoch: reshuffle the whole split every step
            return self.rng.permuted(np.tile(self.ids, (n_steps, 1)), axis=1)
        short = max(0, need - len(self.pending))
        epochs = -(-short // n)
        fresh = self.rng.permuted(np.tile(self.ids, (epochs, 1)), axis=1).ravel() if epochs else self.pending[:0]
        pool = np.concatenate([self.pending, fresh])
        self.pending = pool[need:]
        return pool[:need].reshape(n_steps, self.batch)

    def next(self, n_steps: int) -> Examples:
        c, r = self.corpus, self.corpus.real
        rows = self._rows(n_steps)
        u_real = self.rng.random((n_steps, self.batch, self.T))
        u_mask = self.rng.random((n_steps, self.batch, self.T))
        out = sample_steps(
            c.seqs, c.offsets, c.maskable, rows, u_real, u_mask, r.variants, r.weights, r.class_of,
            np.int64(r.start_class), r.copy_src, r.copy_map, c.task == "causal", float(c.mask_rate),
            np.int32(c.specials.get("mask", -1)), np.int32(max(c.specials.get("pad", -1), 0)), self.T,
        )
        return Examples(*out)
