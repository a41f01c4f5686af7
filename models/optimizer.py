"""The optimizer of a run: a TrainConfig's optimizer and schedule, over a Model's parameters in place.

    opt = Optimizer(model, TrainConfig(optimizer="sgd", lr=0.1, schedule="constant"))
    batches = Optimizer.arrays(examples)
    losses, accs, status = opt.run(batches, batch0=0, step0=0, n=100)

It owns what ``loop_kernels.train_steps`` needs besides the model and the
batches: the optimizer and schedule codes, the hyper-parameters, and the state
it updates with ``model.P`` (the gradient buffer ``G`` and the moments ``M1``,
``M2``).  The trainer, the theory checks and the benchmarks all step through
``run``, so the kernel's long argument list is written once.
"""
from __future__ import annotations

import numpy as np

from tying.core.kernel_cache import call_literal
from tying.generators import Examples

from .config import TrainConfig
from .loop_kernels import evaluate, train_steps
from .model import Model
from .optim_kernels import OPT_CODE, SCHED_CODE, lr_at


class Optimizer:
    def __init__(self, model: Model, tc: TrainConfig):
        self.model = model
        self.G, self.M1, self.M2 = (np.zeros_like(model.P) for _ in range(3))
        self.opt, self.schedule = OPT_CODE[tc.optimizer], SCHED_CODE[tc.schedule]
        self.hyper = (self.opt, float(tc.lr), float(tc.betas[0]), float(tc.betas[1]), float(tc.eps),
                      float(tc.weight_decay), float(tc.momentum), self.schedule, int(tc.t_max), float(tc.eta_min))

    @staticmethod
    def arrays(ex: Examples) -> tuple:
        """Examples as the kernels' fixed dtypes, so one compiled signature serves every source."""
        return (np.ascontiguousarray(ex.tokens, np.int32), np.ascontiguousarray(ex.lengths, np.int32),
                np.ascontiguousarray(ex.tgt_off, np.int64), np.ascontiguousarray(ex.tgt_seq, np.int32),
                np.ascontiguousarray(ex.tgt_pos, np.int32), np.ascontiguousarray(ex.tgt_sym, np.int32),
                np.ascontiguousarray(ex.tgt_w, np.float64))

    def run(self, batches: tuple, batch0: int, step0: int, n: int):
        """n updates of model.P from global step step0, step t on batch (batch0 + t - step0) % S of
        ``arrays()`` output: (losses, accs, status), status -1 or the step whose loss was not finite."""
        m = self.model
        return call_literal(train_steps, m.arch_code, m.P, self.G, self.M1, self.M2, m.in_row, m.out_row, m.var,
                            m.offs, m.dims, *batches, batch0, step0, n, *self.hyper)

    def evaluate(self, batches: tuple, first: int, stop: int) -> tuple[float, float]:
        """Mean loss and accuracy over batches first..stop-1 at the current parameters (no update)."""
        m = self.model
        return call_literal(evaluate, m.arch_code, m.P, self.G, m.offs, m.dims, m.in_row, m.out_row, m.var, *batches,
                            first, stop)

    def lr(self, step: int) -> float:
        """The learning rate of a global step."""
        _, base, _, _, _, _, _, schedule, t_max, eta_min = self.hyper
        return lr_at(step, base, schedule, t_max, eta_min)
