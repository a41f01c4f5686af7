"""FLOPs of one training step, per architecture, and the machine's peak.

Counting rule: matrix products only, a multiply-add is 2 FLOPs, and the
backward pass of a product costs twice its forward (the gradient of the input
and of the weight), so a step is 3x the forward products.  LayerNorm,
activations, the softmax's exponentials and the optimizer update are left
out: they are O(tokens * d) or O(parameters), small beside the products once
d grows, but not at the paper-small size, so the GFLOP/s there understate the
work done.  Sequences are assumed full (length T), with N targets per batch.

dense (what torch eager computes), per layer, for B sequences of length T:
  transformer  B T (8 d^2 + 4 T d + 4 d ff)    q,k,v 6d^2, out 2d^2, scores + values 4Td, FF 4 d ff
  mixer        4 B d T tf + 4 B T d cf          token MLP, channel MLP
  lstm         B T 8 H (n_in + H) per direction gates from the input and from h_prev
  head         2 N V d (+ lstm projection 2 N d H dirs)
ours, transformer: the last layer is evaluated only at the N targets (keys and values still read
every position), and a score is u . x_j with u = Wk^T q (no key projection), so per query row
8 d^2 + 4 heads Tk d + 4 d ff with Tk = T (mlm) or (T + 1) / 2 on average (causal):
  (layers - 1) B T + N query rows.  The other architectures: ours = dense.
"""
from __future__ import annotations

import os
import re

import numpy as np

# FLOPs per cycle per core in float64: 2 FMA pipes x vector lanes x 2 (a fused multiply-add)
FLOPS_PER_CYCLE_F64 = {"avx512": 2 * 8 * 2, "avx2": 2 * 4 * 2, "sse2": 2 * 2 * 2}


def step_flops(cfg, B: int, T: int, N: int, ours: bool = False) -> float:
    d, V, L = cfg.d, cfg.vocab_size, cfg.layers
    head = 2.0 * N * V * d
    if cfg.arch == "transformer":
        def per_row(keys, heads):
            return 8.0 * d * d + 4.0 * heads * keys * d + 4.0 * d * cfg.ff
        if ours:
            keys = T if cfg.objective == "mlm" else (T + 1) / 2
            fwd = ((L - 1) * B * T + N) * per_row(keys, cfg.heads) if L else 0.0
        else:
            fwd = L * B * T * per_row(T, 1)
    elif cfg.arch == "mixer":
        fwd = L * (4.0 * B * d * T * cfg.token_ff + 4.0 * B * T * d * cfg.channel_ff)
    elif cfg.arch == "lstm":
        dirs, H = (2 if cfg.bidirectional else 1), cfg.hidden
        fwd = sum(dirs * B * T * 8.0 * H * ((d if i == 0 else H * dirs) + H) for i in range(L))
        fwd += 2.0 * N * d * H * dirs
    else:  # bilinear: the mean of the context embeddings, then the head
        fwd = float(B * T * d)
    return 3.0 * (fwd + head)


def cpu_info(text: str | None = None, cores: int | None = None) -> dict:
    """CPU model, cores, clock and the widest vector FMA unit, from /proc/cpuinfo (or the given text)."""
    if text is None:
        try:
            with open("/proc/cpuinfo") as f:
                text = f.read()
        except OSError:
            text = ""
    field = lambda k: next(iter(re.findall(rf"^{k}\s*:\s*(.*)$", text, re.M)), "")  # noqa: E731
    model = field("model name").strip() or "unknown"
    flags = set(field("flags").split())
    ghz = re.search(r"@\s*([\d.]+)\s*GHz", model)  # the nominal clock, when the name states it
    mhz = float(ghz.group(1)) * 1000 if ghz else float(field("cpu MHz") or 0.0)
    isa = "avx512" if {"avx512f", "fma"} <= flags else "avx2" if {"avx2", "fma"} <= flags else "sse2"
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return {"model": model, "cores": cores, "ghz": mhz / 1000, "isa": isa}


def peak_gflops(info: dict, cores: int | None = None, dtype: str = "float64") -> float:
    """cores x GHz x FLOPs per cycle, assuming two FMA pipes of the widest vector unit per core
    (true of Skylake-SP Gold/Platinum and later server cores; parts with one AVX-512 pipe have half)."""
    per_cycle = FLOPS_PER_CYCLE_F64[info["isa"]] * (2 if dtype == "float32" else 1)
    return (info["cores"] if cores is None else cores) * info["ghz"] * per_cycle


def fit_exponent(x, y) -> float:
    """The least-squares slope of log y against log x: y ~ x^k."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])


def attention_flops(cfg, B: int, T: int) -> float:
    """The dense transformer's attention products (scores and values) in one step: the part of
    step_flops that torch's FlopCounterMode does not see (CPU attention runs outside aten.mm)."""
    return 3.0 * cfg.layers * B * T * 4.0 * T * cfg.d if cfg.arch == "transformer" else 0.0
