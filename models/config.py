"""Model and training configurations, validated on construction.

The architectures and their defaults, the paper's *small* configuration, come
from ``archs.REGISTRY``; d / layers / widths not given are filled from it.  The
default optimizer and schedule are the paper's (AdamW, lr 5e-4, weight decay
0.1, betas 0.9/0.999, eps 1e-12; cosine annealing, T_max 10000, eta_min 1e-5).
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field

from tying.core.errors import InputError

from .archs import ARCHS, PAPER_SMALL, REGISTRY

ACTIVATIONS = ("relu", "gelu")
OBJECTIVES = ("mlm", "causal")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine")
DTYPES = ("float64", "float32")
SQRT_D = "sqrt(d)"  # the input multiplier of the original Transformer, T5 and Gemma
# the tying variants' neutral values: a config holding them is the model as it was before the variants
VARIANT_DEFAULTS = {"input_grad_scale": 1.0, "input_multiplier": 1.0, "tied_dims": None, "tie_map": False}


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
    # tying variants (models/variant_kernels.py); each neutral value leaves the model as it was
    input_grad_scale: float = 1.0  # alpha: the table receives alpha * (input-role gradient) + output-role gradient
    input_multiplier: float | str = 1.0  # c, or "sqrt(d)": the input role reads c * E[s]
    tied_dims: int | None = None  # k: with tied, only the first k of the d columns are shared (None: all)
    tie_map: bool = False  # with tied, E_out = E W with W a learned d x d matrix starting at the identity

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
        for k in ("tied", "output_bias", "positional", "bidirectional"):
            flag(k, getattr(self, k), optional=k == "bidirectional")
        for k in ("vocab_size", "seq_len", "d", "layers", "heads", "ff", "token_ff", "channel_ff", "hidden"):
            if getattr(self, k) is not None:
                setattr(self, k, integer(k, getattr(self, k), 0 if k in ("vocab_size", "seq_len", "layers") else 1))
        n = REGISTRY[self.arch].min_layers
        if self.layers < n:
            need = "one layer" if n == 1 else f"{n} layers"
            raise InputError(f"the {self.arch} needs at least {need}, got layers={self.layers}")
        if self.arch == "transformer" and self.d % self.heads:
            raise InputError(f"d={self.d} is not divisible by heads={self.heads}")
        self.merge_out = pairs("merge_out", self.merge_out)
        self._check_variants()

    def _check_variants(self):
        self.input_grad_scale = real("input_grad_scale", self.input_grad_scale, 0.0)
        if self.input_multiplier != SQRT_D:
            if isinstance(self.input_multiplier, str):
                raise InputError(f"input_multiplier must be a positive number or {SQRT_D!r}, "
                                 f"got {self.input_multiplier!r}")
            self.input_multiplier = real("input_multiplier", self.input_multiplier, 0.0, low_open=True)
        flag("tie_map", self.tie_map)
        if self.tied_dims is not None:
            self.tied_dims = integer("tied_dims", self.tied_dims, 0)
            if self.tied_dims > self.d:
                raise InputError(f"tied_dims must be at most d = {self.d}, got {self.tied_dims}")
        for name, on in (("tied_dims", self.tied_dims is not None), ("tie_map", self.tie_map)):
            if on and not self.tied:
                raise InputError(f"{name} needs tied embeddings (tied=true)")
        if self.tie_map and self.tied_dims not in (None, self.d):
            raise InputError("tie_map maps the whole tied row: it cannot be combined with tied_dims < d")

    @property
    def multiplier(self) -> float:
        """c as a number (sqrt(d) resolved)."""
        return math.sqrt(self.d) if self.input_multiplier == SQRT_D else float(self.input_multiplier)

    @property
    def shared_dims(self) -> int:
        """How many embedding columns the two roles share: d when tied, 0 when untied, else tied_dims."""
        if not self.tied:
            return 0
        return self.d if self.tied_dims is None else self.tied_dims

    @property
    def variant(self) -> bool:
        """Whether the roles read the table through a variant (so the kernels need the effective tables)."""
        return (self.input_grad_scale != 1.0 or self.multiplier != 1.0 or self.tie_map
                or 0 < self.shared_dims < self.d)

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
        from .memory import check_memory  # memory sizes the model by its config, which it imports

        check_memory(cfg)
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
        if self.mode not in ("sampled", "population"):
            raise InputError(f"unknown training mode {self.mode!r} (expected sampled or population)")
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"unknown optimizer {self.optimizer!r} (expected one of {', '.join(OPTIMIZERS)})")
        if self.schedule not in SCHEDULES:
            raise InputError(f"unknown schedule {self.schedule!r} (expected constant or cosine)")
        for k in ("steps", "seed", "batch_size", "t_max", "record_every", "eval_every"):
            setattr(self, k, integer(k, getattr(self, k), 0 if k == "seed" else 1))
        self.lr = real("lr", self.lr, 0.0, low_open=True)  # 0 trains nothing; a negative rate climbs the loss
        self.eta_min = real("eta_min", self.eta_min, 0.0)
        for k in ("weight_decay", "eps"):
            setattr(self, k, real(k, getattr(self, k), 0.0))
        self.momentum = real("momentum", self.momentum, 0.0, 1.0, high_open=True)
        if isinstance(self.betas, (str, bytes)) or not hasattr(self.betas, "__len__") or len(self.betas) != 2:
            raise InputError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        self.betas = tuple(real("betas", b, 0.0, 1.0, high_open=True) for b in self.betas)
        flag("progress", self.progress)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d


# ---------------------------------------------------------------------------- the one check of every field
MAX_INT = 2**63 - 1  # integers reach the numba kernels as int64


def integer(name: str, value, low: int, high: int = MAX_INT) -> int:
    """An integer (an integral float is accepted) in [low, high]; InputError naming the field otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not (isinstance(value, numbers.Integral) or math.isfinite(value) and float(value).is_integer()):
        raise InputError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < low:
        raise InputError(f"{name} must be an integer >= {low}, got {value}")
    if value > high:
        raise InputError(f"{name} must be at most {high}, got {value}")
    return value


def real(name: str, value, low: float, high: float = math.inf, low_open: bool = False,
         high_open: bool = False) -> float:
    """A finite number in the interval from low to high (open ends as asked)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or value < low or value > high or (low_open and value == low) or (high_open and value == high):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open or high == math.inf else ']'}"
        raise InputError(f"{name} must be a finite number in {interval}, got {value!r}")
    return float(value)


def flag(name: str, value, optional: bool = False) -> None:
    if not (isinstance(value, bool) or optional and value is None):
        raise InputError(f"{name} must be true or false, got {value!r}")


def pairs(name: str, value) -> list[tuple[int, int]]:
    """A list of pairs of symbol ids."""
    if isinstance(value, (str, bytes, dict)) or not isinstance(value, (list, tuple)):
        raise InputError(f"{name} must be a list of pairs of symbol ids, got {value!r}")
    out = []
    for p in value:
        if isinstance(p, (str, bytes, dict)) or not isinstance(p, (list, tuple)) or len(p) != 2:
            raise InputError(f"{name} must be a list of pairs of symbol ids, got the entry {p!r}")
        out.append(tuple(integer(name, x, 0) for x in p))
    return out
