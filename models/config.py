"""Model and training configurations, validated on construction.

The defaults of each architecture are the paper's *small* configuration; the
default optimizer and schedule are the paper's (AdamW, lr 5e-4, weight decay
0.1, betas 0.9/0.999, eps 1e-12; cosine annealing, T_max 10000, eta_min 1e-5).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from generators.errors import InputError

ARCHS = ("bilinear", "mixer", "transformer", "lstm")
ACTIVATIONS = ("relu", "gelu")
OBJECTIVES = ("mlm", "causal")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine")
DTYPES = ("float64", "float32")

# Paper-small (and medium) shapes; d / layers / widths not given by the user come from here.
PAPER_SMALL = {
    "bilinear": dict(d=4, layers=0),
    "mixer": dict(d=4, layers=1, token_ff=4, channel_ff=8, activation="relu"),
    "transformer": dict(d=4, layers=1, heads=1, ff=4, activation="gelu"),
    "lstm": dict(d=4, layers=2, hidden=8, bidirectional=True),
}
PAPER_MEDIUM = {
    "bilinear": dict(d=32, layers=0),
    "mixer": dict(d=32, layers=2, token_ff=32, channel_ff=32, activation="relu"),
    "transformer": dict(d=32, layers=2, heads=1, ff=32, activation="gelu"),
    "lstm": dict(d=32, layers=4, hidden=32, bidirectional=True),
}


@dataclass
class ModelConfig:
    arch: str = "transformer"
    vocab_size: int = 0  # filled from the corpus when 0
    seq_len: int = 0  # filled from the corpus when 0
    objective: str = "mlm"
    tied: bool = False
    output_bias: bool = False
    merge_out: list = field(default_factory=list)  # [(a, b), ...]: output rows of a and b shared
    positional: bool = False  # learned positional embedding added to the input embeddings
    d: int | None = None
    layers: int | None = None
    heads: int | None = None
    ff: int | None = None
    token_ff: int | None = None
    channel_ff: int | None = None
    hidden: int | None = None
    bidirectional: bool | None = None
    activation: str | None = None
    dtype: str = "float64"

    def __post_init__(self):
        if self.arch not in ARCHS:
            raise InputError(f"unknown architecture {self.arch!r} (expected one of {', '.join(ARCHS)})")
        for k, v in PAPER_SMALL[self.arch].items():
            if getattr(self, k) is None:
                setattr(self, k, v)
        if self.arch == "lstm" and self.objective == "causal" and self.bidirectional:
            self.bidirectional = False  # a causal model cannot look ahead
        if self.objective not in OBJECTIVES:
            raise InputError(f"unknown objective {self.objective!r} (expected mlm or causal)")
        if self.activation is not None and self.activation not in ACTIVATIONS:
            raise InputError(f"unknown activation {self.activation!r} (expected relu or gelu)")
        if self.dtype not in DTYPES:
            raise InputError(f"unknown dtype {self.dtype!r} (expected float64 or float32)")
        for k in ("d", "layers", "heads", "ff", "token_ff", "channel_ff", "hidden"):
            v = getattr(self, k)
            if v is not None and (int(v) != v or v < (0 if k == "layers" else 1)):
                raise InputError(f"{k} must be a positive integer, got {v!r}")
        if self.arch in ("mixer", "transformer", "lstm") and self.layers < 1:
            raise InputError(f"the {self.arch} needs at least one layer, got layers={self.layers}")
        if self.arch == "transformer" and self.d % self.heads:
            raise InputError(f"d={self.d} is not divisible by heads={self.heads}")
        self.merge_out = [tuple(int(x) for x in p) for p in self.merge_out]

    def fit(self, vocab_size: int, seq_len: int, objective: str) -> "ModelConfig":
        """This config with the corpus's shape filled in; refuses a corpus that does not fit."""
        cfg = dataclasses.replace(self, vocab_size=self.vocab_size or vocab_size,
                                  seq_len=self.seq_len or seq_len, objective=objective)
        if cfg.vocab_size < vocab_size:
            raise InputError(f"the corpus has {vocab_size} symbols but the model only {cfg.vocab_size}")
        if cfg.seq_len < seq_len:
            raise InputError(f"the corpus has sequences of length {seq_len} but the model only {cfg.seq_len}")
        for a, b in cfg.merge_out:
            if not (0 <= a < cfg.vocab_size and 0 <= b < cfg.vocab_size):
                raise InputError(f"merged output rows ({a}, {b}) are outside the vocabulary")
        return cfg

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["merge_out"] = [list(p) for p in self.merge_out]
        return d


@dataclass
class TrainConfig:
    steps: int = 1000
    seed: int = 0
    mode: str = "sampled"  # "sampled": the paper's stream; "population": exact expected gradient
    batch_size: int = 1024
    optimizer: str = "adamw"
    lr: float = 5e-4
    weight_decay: float = 0.1
    betas: tuple = (0.9, 0.999)
    eps: float = 1e-12
    momentum: float = 0.0
    schedule: str = "cosine"
    t_max: int = 10000
    eta_min: float = 1e-5
    record_every: int = 100
    eval_every: int = 100
    record_params: bool = False  # keep the flat parameters at every snapshot, so Run.at(step) is a whole run
    progress: bool = True

    def __post_init__(self):
        if int(self.steps) != self.steps or self.steps < 1:
            raise InputError(f"steps must be >= 1, got {self.steps}")
        if self.mode not in ("sampled", "population"):
            raise InputError(f"unknown training mode {self.mode!r} (expected sampled or population)")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"unknown optimizer {self.optimizer!r} (expected one of {', '.join(OPTIMIZERS)})")
        if self.schedule not in SCHEDULES:
            raise InputError(f"unknown schedule {self.schedule!r} (expected constant or cosine)")
        if not self.lr > 0:
            raise InputError(f"learning rate must be positive, got {self.lr}")
        if self.weight_decay < 0 or self.eps < 0 or self.momentum < 0:
            raise InputError("weight decay, eps and momentum must be non-negative")
        if not all(0 <= b < 1 for b in self.betas):
            raise InputError(f"betas must be in [0, 1), got {self.betas}")
        if self.batch_size < 1 or self.record_every < 1 or self.eval_every < 1 or self.t_max < 1:
            raise InputError("batch size, record_every, eval_every and t_max must be >= 1")
        self.betas = tuple(float(b) for b in self.betas)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d
