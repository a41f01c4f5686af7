"""The one check of every numeric field of ModelConfig and TrainConfig, and the memory check before allocating."""
import itertools
import math

import numpy as np

import pytest

from tying.experiments import spec
from tying.core.errors import InputError
from tying.models import memory, params
from tying.models.config import ModelConfig, TrainConfig

BAD_TRAIN = [
    ("steps", 0), ("steps", 2.5), ("steps", "10"), ("steps", True), ("steps", 2**63), ("steps", math.inf),
    ("seed", -1), ("seed", 1.5), ("batch_size", 0), ("t_max", 0), ("t_max", 10**20), ("record_every", 0),
    ("eval_every", -3),
    ("lr", 0.0), ("lr", -1e-3), ("lr", math.inf), ("lr", math.nan), ("lr", "0.1"), ("lr", True),
    ("weight_decay", -0.1), ("weight_decay", math.nan), ("eps", math.nan), ("eps", -1e-8),
    ("momentum", math.inf), ("momentum", 1.0), ("momentum", -0.5), ("eta_min", -1.0), ("eta_min", math.nan),
    ("betas", (0.9,)), ("betas", (0.9, 0.99, 0.999)), ("betas", (0.9, 1.0)), ("betas", (math.nan, 0.9)),
    ("betas", 0.9), ("betas", "ab"), ("progress", "yes"),
]
BAD_MODEL = [
    ("d", 0), ("d", -4), ("d", 4.5), ("d", "4"), ("layers", -1), ("heads", 0), ("ff", 0), ("token_ff", 0),
    ("channel_ff", 0), ("hidden", 0), ("vocab_size", -1), ("seq_len", 1.5), ("d", 2**64),
    ("merge_out", [[0]]), ("merge_out", [[0, 1, 2]]), ("merge_out", [[0, -1]]), ("merge_out", [0, 1]),
    ("merge_out", "01"), ("merge_out", [["a", "b"]]), ("tied", "no"), ("positional", 1),
]


@pytest.mark.parametrize("field, value", BAD_TRAIN, ids=[f"{f}={v!r}" for f, v in BAD_TRAIN])
def test_every_bad_train_field_is_refused_by_name(field, value):
    with pytest.raises(InputError, match=f"^{field} must be"):
        TrainConfig(**{field: value})


@pytest.mark.parametrize("field, value", BAD_MODEL, ids=[f"{f}={v!r}" for f, v in BAD_MODEL])
def test_every_bad_model_field_is_refused_by_name(field, value):
    arch = "mixer" if field in ("token_ff", "channel_ff") else "lstm" if field == "hidden" else "transformer"
    with pytest.raises(InputError, match=f"^{field} must be"):
        ModelConfig(arch=arch, **{field: value})


def test_good_values_pass_and_are_normalised():
    tc = TrainConfig(steps=10.0, lr=1, betas=[0, 0.5], eta_min=0, momentum=0.9)
    assert (tc.steps, tc.lr, tc.betas, tc.eta_min) == (10, 1.0, (0.0, 0.5), 0.0)
    assert isinstance(tc.steps, int) and isinstance(tc.lr, float)
    mc = ModelConfig(d=8.0, merge_out=[[0, 1], (2, 3)])
    assert mc.d == 8 and isinstance(mc.d, int) and mc.merge_out == [(0, 1), (2, 3)]
    assert TrainConfig().to_dict() == TrainConfig(**TrainConfig().to_dict()).to_dict()


def expand(text):
    return spec.expand(spec.tomllib.loads(text))


def test_spec_values_go_through_the_same_check():
    base = "[corpus]\ngenerator = 'parity'\nbits = 2\n"
    for table, line, message in [("train", "lr = inf", "expected a finite number"),
                                 ("train", "weight_decay = nan", "expected a finite number"),
                                 ("train", "eta_min = -1.0", "eta_min must be"),
                                 ("train", "betas = [0.9]", "betas must be"),
                                 ("model", "merge_out = [[0]]", "merge_out must be"),
                                 ("model", "d = 0", "d must be")]:
        with pytest.raises(InputError, match=message):
            expand(f"{base}[{table}]\n{line}\n")
    with pytest.raises(InputError, match="expected a finite number"):
        expand("[corpus]\ngenerator = 'parity'\nzero = [nan, 1.0]\n")


# ---------------------------------------------------------------- memory
CONFIGS = [dict(arch=a, tied=t, output_bias=b, positional=p, **extra)
           for a, extra in [("bilinear", {}), ("transformer", dict(d=6, layers=2, heads=2, ff=5)),
                            ("mixer", dict(d=3, layers=2, token_ff=4, channel_ff=7)),
                            ("lstm", dict(d=3, layers=3, hidden=5, bidirectional=True)),
                            ("lstm", dict(d=4, layers=2, hidden=3, bidirectional=False))]
           for t, b, p in itertools.product([False, True], repeat=3)]


@pytest.mark.parametrize("kw", CONFIGS)
def test_the_parameter_count_formula_is_the_layout(kw):
    cfg = ModelConfig(**kw).fit(7, 5, "mlm")
    assert memory.n_params(cfg) == params.layout(cfg)[-1]


def test_a_config_too_big_for_memory_is_refused_before_allocating(monkeypatch):
    with pytest.raises(InputError, match="would need .* GiB of memory, .* for parameters"):
        ModelConfig(d=10**12).fit(7, 8, "mlm")
    with pytest.raises(InputError, match="for parameters"):
        ModelConfig(arch="transformer", layers=10**11).fit(7, 8, "mlm")  # formulas: no loop over the layers
    fitted = ModelConfig().fit(7, 8, "mlm")
    memory.check_memory(fitted, TrainConfig())
    with pytest.raises(InputError, match="for embedding snapshots"):
        memory.check_memory(fitted, TrainConfig(steps=10**14, record_every=1))
    with pytest.raises(InputError, match="for batches"):
        memory.check_memory(fitted, TrainConfig(batch_size=10**11))
    monkeypatch.setenv("TYING_MEMORY", "1000")
    with pytest.raises(InputError, match="TYING_MEMORY"):
        ModelConfig().fit(7, 8, "mlm")


@pytest.mark.parametrize("kw", [{"tied": True, "tied_dims": 2}, {"tied": True, "input_multiplier": 2.0},
                                {"tied": True, "tie_map": True}, {"tied": False, "input_grad_scale": 0.5}])
def test_the_memory_estimate_counts_a_variants_effective_tables(kw):
    """A tying variant's kernels hold the effective parameters and their gradient beside P: the estimate
    grows by exactly the arrays models.variants.state allocates, and a plain config's by nothing."""
    from tying.models import variants

    base = ModelConfig(arch="transformer", d=4).fit(9, 6, "mlm")
    cfg = ModelConfig(arch="transformer", d=4, **kw).fit(9, 6, "mlm")
    tc = TrainConfig()
    Pe, Ge = variants.state(cfg, np.float64)[-2:]
    assert Pe.size > 0
    grown = memory.needed(cfg, tc)["parameters and optimizer state"] - \
        8 * 8 * memory.n_params(cfg)  # 6 P-sized float64 arrays plus 2 float64 copies
    assert grown == 8 * (Pe.size + Ge.size)
    assert variants.state(base, np.float64)[-2].size == 0
    assert memory.needed(base, tc)["parameters and optimizer state"] == 8 * 8 * memory.n_params(base)
