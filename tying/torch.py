"""A bridge to PyTorch: our training stream as a torch ``IterableDataset`` of Hugging Face batches.

    from tying.torch import StreamDataset
    data = StreamDataset(corpus, "train", batch_size=64, seed=0, steps=2000)
    for batch in torch.utils.data.DataLoader(data, batch_size=None):  # one item is one step's batch
        loss = hf_model(**batch).loss

Item k is the batch that ``tying.train(corpus, cfg, TrainConfig(seed=seed, batch_size=batch_size))``
trains step k on (sampled mode): the same derived stream seed and the same chunked draws
(``tying.models.training_stream``).  Its keys:

* ``input_ids`` (B, T) int64: the surface symbols, the mask symbol where an MLM target hides, the pad
  symbol after each sequence's end (id 0 when the corpus has none);
* ``attention_mask`` (B, T) int64: 1 on the sequence's tokens, 0 on padding;
* ``labels`` (B, T) int64, -100 wherever nothing is predicted.  MLM: the hidden symbol at each masked
  position.  Causal: Hugging Face's convention, labels = input_ids, shifted inside the model, so the
  logits at t are scored against ``labels[:, t + 1]``; ``labels[:, 0]`` and padding are -100, so the
  labels that are not -100 are exactly our targets.

Every target of a step weighs 1 / (the step's number of targets), so the mean cross-entropy over
the labels that are not -100 (what Hugging Face models return) is our training loss.

Workers: the stream is one sequence of random draws, so with ``DataLoader(num_workers=n)`` each
worker draws it whole and yields every n-th batch (worker i: batches i, i + n, ...).  The loader
takes one item per worker in turn, so the order is that of ``num_workers=0``: nothing is repeated
or skipped.
"""
from __future__ import annotations

import numpy as np

try:
    import torch
    from torch.utils.data import IterableDataset, get_worker_info
except ModuleNotFoundError:
    raise ModuleNotFoundError("tying.torch needs PyTorch: pip install 'tying[torch]'") from None

from tying.core.errors import InputError
from tying.generators import Corpus, Examples
from tying.models import training_stream

IGNORE = -100  # the label Hugging Face's losses skip


def hf_batch(ex: Examples, s: int, causal: bool) -> dict:
    """Batch s of ``ex`` as Hugging Face tensors (the module docstring says what each holds)."""
    tokens = ex.tokens[s].astype(np.int64)
    B, T = tokens.shape
    mask = (np.arange(T)[None, :] < ex.lengths[s][:, None]).astype(np.int64)
    labels = np.full((B, T), IGNORE, np.int64)
    a, b = ex.tgt_off[s], ex.tgt_off[s + 1]
    # a causal target at t predicts the token at t + 1, which is where Hugging Face reads its label
    labels[ex.tgt_seq[a:b], ex.tgt_pos[a:b] + int(causal)] = ex.tgt_sym[a:b]
    return {"input_ids": torch.from_numpy(tokens), "attention_mask": torch.from_numpy(mask),
            "labels": torch.from_numpy(labels)}


class StreamDataset(IterableDataset):
    """The training stream of ``tying.train`` with this seed, one step's batch per item.

    ``seed`` is the run's seed (``TrainConfig.seed``), not the stream's own; ``steps`` None iterates
    forever.  Every iteration starts the stream afresh, so two passes yield the same batches.
    """

    def __init__(self, corpus: Corpus, split: str = "train", batch_size: int = 1024, seed: int = 0,
                 steps: int | None = None):
        if split != "train":
            # the stream of another split would need its own seed purpose; train() draws none
            raise InputError(f"StreamDataset replays the training stream; split must be 'train', got {split!r}")
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, (int, np.integer))
                                  or steps < 0):
            raise InputError(f"steps must be an integer >= 0 or None, got {steps!r}")
        training_stream(corpus, batch_size, seed)  # bad input fails here, not in a worker
        self.corpus, self.batch_size, self.seed = corpus, batch_size, int(seed)
        self.steps = None if steps is None else int(steps)
        self.causal = corpus.task == "causal"

    def __len__(self) -> int:
        if self.steps is None:
            raise TypeError("an endless StreamDataset (steps=None) has no length")
        return self.steps

    def __iter__(self):
        info = get_worker_info()
        first, every = (0, 1) if info is None else (info.id, info.num_workers)
        stream, C = training_stream(self.corpus, self.batch_size, self.seed)
        k = 0
        while self.steps is None or k < self.steps:
            chunk = stream.next(C)
            for s in range(min(C, (self.steps - k) if self.steps is not None else C)):
                if (k + s) % every == first:
                    yield hf_batch(chunk, s, self.causal)
            k += C
