"""Training: the numba loop does the steps; Python wakes between chunks to record and report.

Sampled mode draws the paper's stream in chunks of C steps (C depends only on
the batch shape, so the trajectory does not depend on how often we record);
population mode reuses the exact training population as one batch every step.
Every ``eval_every`` steps the model is evaluated on the validation split and
on the training split (the accuracy the paper plotted): on a split's exact
population when it is enumerable, else on a fixed seeded sample of its stream.
"""
from __future__ import annotations

import sys

import numpy as np
from tqdm import tqdm

from tying.core import atomic, interrupt, kernel_cache
from tying.generators import Corpus, Examples, Stream, enumerate_population, not_enumerable
from tying.core.errors import InputError

from .archs import ARCH_CODE
from .config import ModelConfig, TrainConfig
from .memory import check_memory
from .loop_kernels import evaluate, train_steps
from .model import Model
from .optimizer import Optimizer
from .run import Run

VAL_SAMPLE = 4096  # examples in the validation sample of a non-enumerable corpus


def derived_seed(seed: int, purpose: int) -> int:
    """An independent seed for each random stream of a run (1: training stream, 2: validation sample)."""
    return int(np.random.SeedSequence([int(seed), purpose]).generate_state(1)[0])


def chunk_steps(batch: int, T: int) -> int:
    """Steps per sampled chunk: about 2M token slots at most, and at most 256 steps."""
    return max(1, min(256, 2**21 // max(1, batch * T)))


def training_stream(corpus: Corpus, batch_size: int, seed: int) -> tuple[Stream, int]:
    """The sampled training stream of a run with this seed, and the steps it is drawn in per call.

    The stream's random numbers are drawn a chunk at a time, so its batches depend on the chunk size:
    whoever replays a run's batches (``tying.torch.StreamDataset``) draws them through this."""
    stream = Stream(corpus, "train", batch_size, derived_seed(seed, 1))
    return stream, chunk_steps(stream.batch, stream.T)


def corpus_info(corpus: Corpus) -> dict:
    """What a run records about its corpus; sha256 is the checksum stored in the corpus file."""
    return {"sha256": corpus.digest(), "provenance": corpus.provenance, "task": corpus.task,
            "vocab": list(corpus.vocab), "n_sequences": corpus.n_sequences,
            "split_sizes": [len(corpus.split_ids(s)) for s in ("train", "validation", "test")]}


def eval_set(corpus: Corpus, split: str, batch_size: int, seed: int) -> Examples | None:
    """The exact population of a split when it is enumerable, else a fixed seeded sample of its stream
    (seed purpose 2 for validation, 3 for the training split); None for an empty split."""
    if len(corpus.split_ids(split)) == 0:
        return None
    if not_enumerable(corpus, split) is None:
        try:
            return enumerate_population(corpus, split)
        except InputError:  # e.g. no maskable position: fall back to the stream
            pass
    stream = Stream(corpus, split, batch_size, derived_seed(seed, 2 if split == "validation" else 3))
    return stream.next(max(1, -(-VAL_SAMPLE // stream.batch)))


class _Trainer:
    """The state of one run between numba calls."""

    def __init__(self, corpus: Corpus, model: Model, tc: TrainConfig):
        self.model, self.cfg, self.P = model, model.cfg, model.P
        self.opt = Optimizer(model, tc)
        if tc.mode == "population":
            self.stream, self.chunk = None, Optimizer.arrays(enumerate_population(corpus, "train"))
            self.C = chunk_steps(1, len(self.chunk[-1]))
        else:
            (self.stream, self.C), self.chunk = training_stream(corpus, tc.batch_size, tc.seed), None
        self.pos = 0  # next unused batch of the chunk

    def _batches(self, n: int) -> int:
        """Make sure the chunk has a batch at self.pos; return how many of the next n it covers."""
        if self.stream is None:
            return n
        if self.chunk is None or self.pos == self.chunk[0].shape[0]:
            self.chunk, self.pos = Optimizer.arrays(self.stream.next(self.C)), 0
        return min(n, self.chunk[0].shape[0] - self.pos)

    def steps(self, step0: int, n: int):
        """Up to n updates from global step step0 (fewer at a chunk's end): (losses, accs, status)."""
        interrupt.check()
        n = self._batches(min(n, self.C))
        out = self.opt.run(self.chunk, self.pos, step0, n)
        self.pos += n
        interrupt.check()  # P has moved: train() goes back to the last record
        return out

    def loss_here(self, ex: tuple | None = None) -> tuple[float, float]:
        """Loss and accuracy at the current parameters on ex, or on the next training batch."""
        if ex is None:
            self._batches(1)
            ex, first = self.chunk, self.pos % self.chunk[0].shape[0]
            stop = first + 1
        else:
            first, stop = 0, ex[0].shape[0]
        return self.opt.evaluate(ex, first, stop)

    def snapshot(self):
        return self.model.E_in(), self.model.E_out(), self.model.b_out().copy()

    def lr(self, step: int) -> float:
        return self.opt.lr(step)


def compiled(arch: str) -> bool:
    """Whether training this architecture starts without a numba compile (in memory or in the cache)."""
    return kernel_cache.fresh(train_steps, evaluate, literal=ARCH_CODE[arch])


@interrupt.deferred()  # Ctrl-C waits for the kernel in flight (see generators/interrupt.py)
def train(corpus: Corpus, model_cfg: ModelConfig, train_cfg: TrainConfig, progress: bool = True,
          out_dir=None, force: bool = False) -> Run:
    """Train a model on the corpus's training split and return (and, with out_dir, save) the Run.

    The model is initialised with train_cfg.seed; the training stream and the validation
    sample use seeds derived from it.  A non-finite loss stops the run with status
    "diverged", Ctrl-C with status "interrupted"; either way the Run holds what was recorded.
    Ctrl-C then still raises KeyboardInterrupt when train() returns (after saving to out_dir),
    unless the caller holds an ``interrupt.deferred()`` block, which raises it at its own end.
    """
    if out_dir is not None:
        atomic.check_target(out_dir, force, folder=True)
    tc = train_cfg
    if len(corpus.split_ids("train")) == 0:
        raise InputError("the train split of the corpus is empty")
    check_memory(model_cfg.fit(corpus.vocab_size, corpus.max_len, corpus.task), tc)  # before allocating
    if progress and tc.progress and not compiled(model_cfg.arch):
        # a cold numba cache takes a minute or more before the first step, with nothing else to show
        print("compiling kernels (first run only)...", file=sys.stderr, flush=True)
    tr = _Trainer(corpus, Model.from_corpus(corpus, model_cfg, seed=tc.seed), tc)
    val = eval_set(corpus, "validation", tc.batch_size, tc.seed)
    val = None if val is None else Optimizer.arrays(val)
    # population mode already holds the exact training population as its one batch
    fit = tr.chunk if tc.mode == "population" else \
        Optimizer.arrays(eval_set(corpus, "train", tc.batch_size, tc.seed))
    run = Run(tr.cfg, tc, corpus_info(corpus))
    # step -> (loss, acc) of the batch, of the validation set, of the training set; [(step, E_in, E_out, b_out)]
    curve, vcurve, fcurve, embs = {}, {}, {}, []

    kept = {}  # step -> parameters at the last two records, for an interrupt to return to

    def record(s):
        kept[s] = tr.P.copy()
        if len(kept) > 2:
            del kept[min(kept)]
        if s % tc.record_every == 0 or s == tc.steps:
            embs.append((s, *tr.snapshot(), tr.P.copy() if tc.record_params else None))
        if s % tc.eval_every == 0 or s == tc.steps:
            fcurve[s] = tr.loss_here(fit)
            shown = {"train_acc": f"{fcurve[s][1]:.3f}"}
            if val is not None:
                vcurve[s] = tr.loss_here(val)
                shown.update(val_loss=f"{vcurve[s][0]:.4f}", val_acc=f"{vcurve[s][1]:.3f}")
            bar.set_postfix(shown, refresh=False)

    bar = tqdm(total=tc.steps, disable=not (progress and tc.progress), unit="step", dynamic_ncols=True, leave=False)
    s = 0
    record(0)
    try:
        while s < tc.steps:
            wake = min(tc.steps, (s // tc.record_every + 1) * tc.record_every,
                       (s // tc.eval_every + 1) * tc.eval_every)
            start = s
            while s < wake:
                losses, accs, status = tr.steps(s, wake - s)
                if s == start:  # the loss at the wake step is the first loss computed from it
                    curve[s] = (losses[0], accs[0])
                if status >= 0:
                    curve[status] = (losses[status - s], accs[status - s])
                    run.status = "diverged"
                    run.message = (f"the training loss became {curve[status][0]} at step {status} "
                                   f"(lr {tr.lr(status):.3g}); the run was stopped there, try a smaller "
                                   "learning rate")
                    s = status
                    break
                bar.update(len(losses))
                s += len(losses)
            if run.status == "diverged":
                break
            record(s)
        if run.status == "completed":
            curve[s] = tr.loss_here()
            run.message = f"trained {tc.steps} steps"
    except KeyboardInterrupt:
        # Ctrl-C lands between kernel calls, when P may be a chunk past the last record, and the training
        # loss at a record comes from the call after it: go back to the last record that has its loss, so
        # that the parameters, the curves and the snapshots all end at the same step.
        last = max((t for t in kept if t in curve), default=min(kept))
        tr.P[:] = kept[last]
        for t in [t for t in curve if t > last]:
            del curve[t]
        embs = [e for e in embs if e[0] <= last]
        run.status, run.message = "interrupted", f"interrupted; the run holds steps 0..{last} of {tc.steps}"
    finally:
        bar.close()

    steps = sorted(curve)
    run.steps = np.array(steps, np.int64)
    run.train_loss, run.train_acc = (np.array([curve[t][k] for t in steps], np.float64) for k in (0, 1))
    run.lr = np.array([tr.lr(t) for t in steps], np.float64)
    vs = [t for t in sorted(vcurve) if t in curve]
    run.val_steps = np.array(vs, np.int64)
    run.val_loss, run.val_acc = (np.array([vcurve[t][k] for t in vs], np.float64) for k in (0, 1))
    fs = [t for t in sorted(fcurve) if t in curve]
    run.fit_steps = np.array(fs, np.int64)
    run.fit_loss, run.fit_acc = (np.array([fcurve[t][k] for t in fs], np.float64) for k in (0, 1))
    run.emb_steps = np.array([e[0] for e in embs], np.int64)
    run.E_in, run.E_out, run.b_out = (np.stack([e[k] for e in embs]) for k in (1, 2, 3))
    run.param_hist = np.stack([e[4] for e in embs]) if tc.record_params else None
    run.params = tr.P.copy()
    if out_dir is not None:
        run.save(out_dir, force)
    return run
