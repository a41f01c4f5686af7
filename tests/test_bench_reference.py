"""The torch-free parts of the benchmarks: FLOP formulas, the peak estimate, the exponent fit.

torch is a benchmark-only extra, so the agreement with the torch reference is checked by
``python -m benchmarks`` itself (it refuses to report otherwise), never here.
"""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ is in the checkout, not installed

from benchmarks import flops  # noqa: E402
from tying.models.config import ModelConfig  # noqa: E402

CPUINFO = """processor\t: 0
model name\t: Intel(R) Xeon(R) Gold 6148 CPU @ 2.40GHz
cpu MHz\t\t: 1000.000
flags\t\t: fpu sse sse2 avx avx2 fma avx512f avx512dq
"""


def test_peak_from_cpuinfo_by_hand():
    info = flops.cpu_info(CPUINFO, cores=2)
    assert info["model"].startswith("Intel(R) Xeon(R) Gold 6148") and info["isa"] == "avx512"
    assert info["ghz"] == pytest.approx(2.4)  # the nominal clock in the name, not the idle "cpu MHz"
    # 2 cores x 2.4 GHz x (2 FMA pipes x 8 float64 lanes x 2 FLOPs)
    assert flops.peak_gflops(info) == pytest.approx(153.6)
    assert flops.peak_gflops(info, cores=1, dtype="float32") == pytest.approx(153.6)
    avx2 = flops.cpu_info(CPUINFO.replace(" avx512f avx512dq", "").replace(" @ 2.40GHz", ""), cores=4)
    assert avx2["isa"] == "avx2" and avx2["ghz"] == pytest.approx(1.0)  # no clock in the name: cpu MHz
    assert flops.peak_gflops(avx2) == pytest.approx(4 * 1.0 * 16)
    assert flops.cpu_info("flags : sse2", cores=1)["isa"] == "sse2"


def test_transformer_flops_by_hand():
    # paper-small: V 7, d 4, ff 4, T 8, one layer, 115 sequences with one target each.
    cfg = ModelConfig(arch="transformer").fit(7, 8, "mlm")
    # per row: q,k,v 6*16 + out 2*16 + scores and values 4*8*4 + FF 4*4*4 = 320; head 2*115*7*4 = 6440
    assert flops.step_flops(cfg, 115, 8, 115) == 3 * (115 * 8 * 320 + 6440)
    # ours: the one (last) layer only at the 115 target rows
    assert flops.step_flops(cfg, 115, 8, 115, ours=True) == 3 * (115 * 320 + 6440)
    assert flops.attention_flops(cfg, 115, 8) == 3 * 115 * 8 * 4 * 8 * 4


@pytest.mark.parametrize("layers,heads", [(1, 1), (2, 1), (3, 1)])
def test_ours_equals_dense_when_every_position_is_a_target(layers, heads):
    # with one head the per-row cost is the same; only the number of query rows differs
    cfg = ModelConfig(arch="transformer", d=8, layers=layers, heads=heads, ff=12).fit(30, 16, "mlm")
    B, T = 9, 16
    assert flops.step_flops(cfg, B, T, B * T, ours=True) == flops.step_flops(cfg, B, T, B * T)
    assert flops.step_flops(cfg, B, T, B, ours=True) < flops.step_flops(cfg, B, T, B)


def test_mixer_and_lstm_flops_by_hand():
    mixer = ModelConfig(arch="mixer").fit(7, 8, "mlm")  # d 4, token_ff 4, channel_ff 8, 1 layer
    # token MLP 4*115*4*8*4 = 58880, channel MLP 4*115*8*4*8 = 117760, head 6440
    assert flops.step_flops(mixer, 115, 8, 115) == 3 * (58880 + 117760 + 6440)
    lstm = ModelConfig(arch="lstm").fit(7, 8, "mlm")  # d 4, hidden 8, 2 layers, bidirectional
    # layer 0: 2 dirs x 920 steps x 8*8*(4+8); layer 1: input 16; projection 2*115*4*16; head 6440
    gates = 2 * 920 * 64 * (4 + 8) + 2 * 920 * 64 * (16 + 8)
    assert flops.step_flops(lstm, 115, 8, 115) == 3 * (gates + 2 * 115 * 4 * 16 + 6440)


def test_fit_exponent_recovers_a_power_law():
    x = np.array([4.0, 32.0, 128.0])
    assert flops.fit_exponent(x, 3e-4 * x**2) == pytest.approx(2.0, abs=1e-12)
    assert flops.fit_exponent(x, 7.0 * x**0.5) == pytest.approx(0.5, abs=1e-12)
    # a fixed cost plus a quadratic part bends the log-log line: the fit lies between 0 and 2
    k = flops.fit_exponent(x, 1.0 + 1e-4 * x**2)
    assert 0 < k < 2


def test_bench_command_refuses_bad_input_in_one_line(tmp_path, capsys):
    from tying.experiments.cli import main

    assert main(["bench", "--quick", "--out", str(tmp_path / "missing" / "results")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tying bench: error: ") and "\n" not in err
    assert "does not exist" in err or "torch is not installed" in err  # the latter where torch is absent
