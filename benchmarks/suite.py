"""The benchmark sections.  Each returns plain dicts and lists, so the whole result is one JSON document.

Timing: the contenders of one comparison run interleaved (ours, torch float32,
torch float64, then the next repeat in rotated order), so a load spike from
another process hits all of them alike; every repeat runs enough steps to take
about ``target`` seconds.  Each repeat records wall-clock time and the CPU time
of the calling thread: with one thread the CPU time is the honest number on a
shared machine (it excludes the time other processes held the core), with two
threads only wall-clock time is meaningful.  Reported: the median over the
repeats, and the spread (min and max) of the steps per second.
"""
from __future__ import annotations

import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np
import torch

from tying.core.errors import InputError
from tying.generators import enumerate_population
from tying.models import Model, ModelConfig, Optimizer, TrainConfig

from . import flops, workloads
from .reference_torch import AgreementError, Reference, batch, check_agreement, counted_flops, optimizer

ROOT = Path(__file__).resolve().parent.parent
PAPER_STEPS = 150_000  # the paper's training length


# ---------------------------------------------------------------------------- timing
def ours_runner(cfg: ModelConfig, ex, tc: TrainConfig, seed: int = 0):
    """run(n): n training steps of the real numba loop (AdamW + cosine), cycling over ex's batches."""
    ours = Optimizer(Model(cfg, seed=seed), tc)
    arrays = Optimizer.arrays(ex)
    S, t = ex.n_batches, [0]

    def run(n):
        ours.run(arrays, t[0] % S, t[0], n)
        t[0] += n
    return run


def torch_runner(cfg: ModelConfig, ex, tc: TrainConfig, dtype, seed: int = 0):
    """run(n): n steps of torch eager: forward, backward, torch.optim.AdamW, CosineAnnealingLR."""
    ref = Reference(cfg, Model(cfg, seed=seed).P, dtype)
    opt, sched = optimizer(ref, tc)
    batches = [batch(cfg, ex, s, dtype) for s in range(ex.n_batches)]
    t = [0]

    def run(n):
        for i in range(n):
            opt.zero_grad(set_to_none=True)
            loss, _ = ref(batches[(t[0] + i) % len(batches)])
            loss.backward()
            opt.step()
            sched.step()
        t[0] += n
    return run


def _clock(run, n):
    w, c = time.perf_counter(), time.thread_time()
    run(n)
    return time.perf_counter() - w, time.thread_time() - c


def interleaved(runners: dict, repeats: int, target: float, cpu: bool = True) -> dict:
    """{name: {steps, steps_per_s (median, wall), min, max, cpu_steps_per_s (median; None unless cpu), ...}}."""
    steps = {}
    for name, run in runners.items():
        run(1)  # compile / warm up outside the timing
        n = 1
        while True:
            wall, _ = _clock(run, n)
            if wall >= target / 4 or n >= 1 << 20:
                break
            n *= 4
        steps[name] = max(1, int(round(n * target / max(wall, 1e-9))))
    times = {name: [] for name in runners}
    names = list(runners)
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            times[name].append(_clock(runners[name], steps[name]))
    out = {}
    for name, ts in times.items():
        n = steps[name]
        rate = sorted(n / w for w, _ in ts)
        out[name] = {"steps": n, "repeats": repeats, "steps_per_s": statistics.median(rate), "min": rate[0],
                     "max": rate[-1], "wall_s": [w for w, _ in ts], "cpu_s": [c for _, c in ts] if cpu else None,
                     "cpu_steps_per_s": statistics.median(n / max(c, 1e-12) for _, c in ts) if cpu else None}
    return out


def set_threads(n: int) -> None:
    torch.set_num_threads(n)
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


# ---------------------------------------------------------------------------- sections
def machine() -> dict:
    info = flops.cpu_info()
    return {**info, "peak_gflops_f64_1core": flops.peak_gflops(info, 1),
            "peak_gflops_f32_1core": flops.peak_gflops(info, 1, "float32"),
            "peak_gflops_f64": flops.peak_gflops(info), "peak_gflops_f32": flops.peak_gflops(info, dtype="float32"),
            "peak_assumption": "cores x GHz x (2 FMA pipes x vector lanes x 2) for the widest FMA unit in the flags",
            "platform": platform.platform(), "python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "torch": torch.__version__,
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def lstm_ready() -> bool:
    """Is the LSTM wired into Model and the dispatcher yet (issue 7)?"""
    try:
        corpus = workloads.parity7()
        model = Model(workloads.paper_config(corpus, "lstm"))
        return bool(np.isfinite(model.loss(workloads.parity_batches(corpus, 1))[0]))
    except InputError:  # Model refuses it until issue 7 lands; a dispatcher without the branch gives NaN
        return False


def agreement(corpus, lstm: bool, log=print) -> list[dict]:
    """Every case of workloads.agreement_cases; AgreementError on the first disagreement."""
    out = []
    for name, cfg, ex, steps in workloads.agreement_cases(corpus, lstm):
        r = check_agreement(name, cfg, ex, steps)
        log(f"  agree  {name:58s} loss {r['loss_rel']:.1e}  grad {r['grad_rel']:.1e}  params {r['param_rel']:.1e}")
        out.append(r)
    return out


def flop_check(log=print) -> list[dict]:
    """The dense FLOP formula against torch's own count of one forward + backward (which leaves out the
    transformer's attention products; flops.attention_flops adds them back).  Exact, or AgreementError."""
    out = []
    for arch, d, V, T, B in (("transformer", 4, 7, 8, 115), ("transformer", 32, 100, 16, 50),
                             ("mixer", 4, 7, 8, 115), ("mixer", 32, 50, 16, 20)):
        cfg = workloads.scaled_config(arch, V, T, d)
        counted = counted_flops(cfg, workloads.synthetic(V, T, B, 1))
        formula = flops.step_flops(cfg, B, T, B) - flops.attention_flops(cfg, B, T)
        out.append({"arch": arch, "d": d, "V": V, "T": T, "B": B, "torch_counted": counted, "formula": formula})
        if abs(counted - formula) > 1e-9 * counted:
            raise AgreementError(f"the FLOP formula of the {arch} ({formula:.0f}) differs from torch's count "
                                 f"({counted:.0f}) at d={d} V={V} T={T} B={B}")
    log(f"  FLOP formulas match torch's FlopCounterMode exactly on {len(out)} configs")
    return out


def throughput(corpus, archs, quick: bool, log=print) -> list[dict]:
    """Paper-small and medium configs on parity-7: ours vs torch float32 / float64, 1 and 2 threads."""
    tc = TrainConfig()  # the paper's AdamW + cosine
    ex = workloads.parity_batches(corpus, 16, seed=2)
    N, BT = int(ex.tgt_off[1]), int(ex.lengths[0].sum())
    out = []
    for threads in (1, 2):
        set_threads(threads)
        for arch in archs:
            for size in ("small", "medium"):
                cfg = workloads.paper_config(corpus, arch, size)
                runners = {"ours": ours_runner(cfg, ex, tc),
                           "torch_float32": torch_runner(cfg, ex, tc, torch.float32),
                           "torch_float64": torch_runner(cfg, ex, tc, torch.float64)}
                res = interleaved(runners, 3 if quick else 5, 0.1 if quick else 0.3, cpu=threads == 1)
                row = {"arch": arch, "size": size, "threads": threads, "d": cfg.d, "layers": cfg.layers,
                       "batch": N, "tokens": BT, **res,
                       "flops_ours": flops.step_flops(cfg, N, cfg.seq_len, N, ours=True),
                       "flops_dense": flops.step_flops(cfg, N, cfg.seq_len, N)}
                for k in ("torch_float32", "torch_float64"):
                    row[f"ratio_{k}"] = res["ours"]["steps_per_s"] / res[k]["steps_per_s"]
                    row[f"cpu_ratio_{k}"] = (res["ours"]["cpu_steps_per_s"] / res[k]["cpu_steps_per_s"]
                                             if threads == 1 else None)
                log(f"  {threads}T {arch:11s} {size:6s} ours {res['ours']['steps_per_s']:8.1f} steps/s  "
                    f"torch32 {res['torch_float32']['steps_per_s']:7.1f}  "
                    f"torch64 {res['torch_float64']['steps_per_s']:7.1f}"
                    f"  ratio {row['ratio_torch_float32']:5.1f}x / {row['ratio_torch_float64']:5.1f}x" +
                    (f" (cpu time {row['cpu_ratio_torch_float32']:.1f}x)" if threads == 1 else ""))
                out.append(row)
    set_threads(1)
    return out


def end_to_end(corpus, quick: bool, log=print) -> dict:
    """models.train.train on the paper-small transformer: stream sampling, recording and validation
    every 100 steps included; and a warm start (numba cache filled) in a fresh process."""
    from tying.models import train

    cfg, steps = ModelConfig(arch="transformer"), 500 if quick else 3000
    train(corpus, cfg, TrainConfig(steps=2, progress=False), progress=False)
    t0, c0 = time.perf_counter(), time.thread_time()
    run = train(corpus, cfg, TrainConfig(steps=steps, progress=False), progress=False)
    wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
    code = ("import time; t0 = time.perf_counter()\n"
            "from tying import ModelConfig, TrainConfig, parity_corpus, train\n"
            "train(parity_corpus(7), ModelConfig(arch='transformer'), TrainConfig(steps=1, progress=False), "
            "progress=False)\nprint(time.perf_counter() - t0)")
    starts = []
    for _ in range(2):  # the first fills whatever a fresh process still misses in numba's cache
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
        starts.append(time.perf_counter() - t0)
    process = starts[-1]
    out = {"steps": steps, "status": run.status, "ms_per_step": 1e3 * wall / steps,
           "cpu_ms_per_step": 1e3 * cpu / steps,
           "paper_run_s": wall / steps * PAPER_STEPS, "cpu_paper_run_s": cpu / steps * PAPER_STEPS,
           "warm_start_s": process, "first_start_s": starts[0],
           "warm_start_in_python_s": float(p.stdout.split()[-1])}
    log(f"  train() paper-small transformer: {out['ms_per_step']:.3f} ms/step ({out['cpu_ms_per_step']:.3f} in CPU "
        f"time) with recording -> "
        f"{PAPER_STEPS} steps in {out['paper_run_s']:.0f} s; warm start to the first step {process:.2f} s")
    return out


SCALING_BASE = {"d": 4, "V": 7, "T": 8, "B": 115}  # paper-small on parity-7
SCALING_AXES = {"d": (4, 32, 128), "V": (7, 100, 1000), "T": (8, 32, 128), "B": (115, 1024)}
CORNER = {"d": 128, "V": 1000, "T": 128, "B": 1024}


def scaling_points(arch: str, quick: bool) -> list[dict]:
    """One factor at a time around paper-small, plus the largest corner (transformer, full mode)."""
    axes = SCALING_AXES if arch == "transformer" else {"d": SCALING_AXES["d"], "T": SCALING_AXES["T"]}
    if quick:
        axes = {k: v[:2] for k, v in axes.items() if k in ("d", "T")}
    pts = [dict(SCALING_BASE)]
    for k, values in axes.items():
        pts += [{**SCALING_BASE, k: v} for v in values if v != SCALING_BASE[k]]
    if arch == "transformer" and not quick:
        pts.append(dict(CORNER))
    return pts


def scaling(archs, quick: bool, peak64: float, peak32: float, log=print) -> dict:
    """Steps/s, time per token and GFLOP/s against d, V, T and batch, one thread; fitted exponents."""
    tc = TrainConfig()
    rows = []
    set_threads(1)
    for arch in archs:
        for p in scaling_points(arch, quick):
            cfg = workloads.scaled_config(arch, p["V"], p["T"], p["d"])
            ex = workloads.synthetic(p["V"], p["T"], p["B"], 4, seed=3)
            res = interleaved({"ours": ours_runner(cfg, ex, tc),
                               "torch_float32": torch_runner(cfg, ex, tc, torch.float32)},
                              3 if quick else 5, 0.1 if quick else 0.25)
            f_ours = flops.step_flops(cfg, p["B"], p["T"], p["B"], ours=True)
            f_dense = flops.step_flops(cfg, p["B"], p["T"], p["B"])
            tokens = p["B"] * p["T"]
            o, t = res["ours"]["steps_per_s"], res["torch_float32"]["steps_per_s"]
            row = {"arch": arch, **p, "ours": res["ours"], "torch_float32": res["torch_float32"], "ratio": o / t,
                   "flops_ours": f_ours, "flops_dense": f_dense,
                   "us_per_token_ours": 1e6 / (o * tokens), "us_per_token_torch": 1e6 / (t * tokens),
                   "gflops_ours": f_ours * o / 1e9, "gflops_torch": f_dense * t / 1e9,
                   "peak_fraction_ours": f_ours * o / 1e9 / peak64, "peak_fraction_torch": f_dense * t / 1e9 / peak32}
            log(f"  {arch:11s} d={p['d']:<4d} V={p['V']:<5d} T={p['T']:<4d} B={p['B']:<5d} ours "
                f"{1e3 / o:9.3f} ms ({row['gflops_ours']:6.2f} GFLOP/s)  torch32 {1e3 / t:9.3f} ms "
                f"({row['gflops_torch']:6.2f} GFLOP/s)  ratio {row['ratio']:6.2f}x")
            rows.append(row)
    return {"points": rows, "exponents": exponents(rows)}


def exponents(rows) -> dict:
    """Exponent k of the time per step ~ x^k in each factor x, along its one-factor-at-a-time line:
    the least-squares fit over the line ("fit") and the slope between its two largest points ("top",
    the growth once fixed per-step costs no longer dominate)."""
    out = {}
    for arch in dict.fromkeys(r["arch"] for r in rows):
        for k in SCALING_AXES:
            line = [r for r in rows if r["arch"] == arch
                    and all(r[j] == SCALING_BASE[j] for j in SCALING_AXES if j != k)]
            line = {r[k]: r for r in line}  # the base point once
            if len(line) < 2:
                continue
            xs = sorted(line)
            for who in ("ours", "torch_float32"):
                ys = [1 / line[x][who]["steps_per_s"] for x in xs]
                out[f"{arch}.{who}.{k}"] = {"fit": flops.fit_exponent(xs, ys),
                                             "top": flops.fit_exponent(xs[-2:], ys[-2:]), "x": xs}
    return out


def generators(quick: bool, log=print) -> dict:
    from tying.generators import parity_corpus

    from . import bench_pcfg

    pcfg = bench_pcfg.run(sentences=20_000 if quick else 200_000, repeats=2 if quick else 3)
    out = {"pcfg": pcfg}
    from . import bench_text

    out["text"] = bench_text.run(megabytes=10 if quick else 100, repeats=1 if quick else 2, trace=not quick)
    for split in ("train", None):
        corpus = parity_corpus(7, splits=(0.9, 0.1, 0.0) if split else (1.0, 0.0, 0.0))
        enumerate_population(corpus, split)  # compile outside the timing
        ts = []
        for _ in range(3 if quick else 7):
            t0 = time.perf_counter()
            ex = enumerate_population(corpus, split)
            ts.append(time.perf_counter() - t0)
        key = f"parity7_population_{split or 'all'}"
        out[key] = {"seconds": statistics.median(ts), "min": min(ts), "rows": int(ex.tokens.shape[1]),
                    "targets": len(ex.tgt_w)}
        log(f"  parity-7 population ({split or 'all 128 strings'}): {len(ex.tgt_w)} (context, target) pairs "
            f"in {1e3 * out[key]['seconds']:.1f} ms")
    return out


def sweep_throughput(quick: bool, log=print) -> dict:
    """Runs per minute of the XOR sweep of ``tying reproduce paper --quick`` (its settings and architectures,
    tied / untied, at its step count, with its first seed), with 1 and 2 local workers.
    Building the corpora and starting the pool's workers are inside the timing; starting
    multiprocessing's forkserver (once per process) is not.  Quick mode: 300 steps per run."""
    import dataclasses

    from tying.experiments.plan import QUICK, xor_spec
    from tying.experiments.runner import sweep

    plan = dataclasses.replace(QUICK, seeds=(0,))
    if quick:
        plan = dataclasses.replace(plan, xor_steps=300, xor_record=100)
    spec = xor_spec(plan)
    warm = {**spec, "corpus": spec["corpus"][0], "model": {"arch": "transformer"}, "train": {"steps": 1}}
    with tempfile.TemporaryDirectory(prefix="tying-bench-sweep-") as tmp:
        sweep(warm, tmp, workers=2, progress=False)
    out = {"spec": spec, "quick_seeds": len(QUICK.seeds),
           "quick_runs": len(QUICK.seeds) * len(spec["corpus"]) * len(spec["model"]["arch"]) * 2}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory(prefix="tying-bench-sweep-") as tmp:
            t0 = time.perf_counter()
            summaries = sweep(spec, tmp, workers=workers, progress=False)
            wall = time.perf_counter() - t0
        statuses = sorted({s["status"] for s in summaries})
        out[f"workers_{workers}"] = {"runs": len(summaries), "seconds": wall,
                                     "runs_per_min": 60 * len(summaries) / wall, "statuses": statuses}
        log(f"  sweep, {workers} worker(s): {len(summaries)} runs of {plan.xor_steps} steps in {wall:.1f} s "
            f"= {60 * len(summaries) / wall:.1f} runs/min ({', '.join(statuses)})")
    return out


def run_all(quick: bool = False, log=print) -> dict:
    """Every section; the agreement check first, and nothing is timed if it fails."""
    t0 = time.perf_counter()
    set_threads(1)
    corpus = workloads.parity7()
    result = {"quick": quick, "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": machine(),
              "section_seconds": {}}
    lstm = lstm_ready()
    archs = ["transformer", "mixer"] + (["lstm"] if lstm else [])
    result["lstm"] = "benchmarked" if lstm else "not in the dispatcher yet, skipped"
    m = result["machine"]
    sections = [
        ("agreement", "agreement with torch (float64, rtol 1e-6):", lambda: agreement(corpus, lstm, log)),
        ("flop_check", "FLOP formulas:", lambda: flop_check(log)),
        ("throughput", "training throughput on parity-7 (one step = the whole train split):",
         lambda: throughput(corpus, archs, quick, log)),
        ("train", "end to end:", lambda: end_to_end(corpus, quick, log)),
        ("scaling", "scaling (one thread; torch in float32):",
         lambda: scaling(["transformer", "mixer"], quick, m["peak_gflops_f64_1core"], m["peak_gflops_f32_1core"], log)),
        ("generators", "generators:", lambda: generators(quick, log)),
        ("sweep", "sweep throughput:", lambda: sweep_throughput(quick, log)),
    ]
    for key, title, fn in sections:
        log(title)
        t = time.perf_counter()
        result[key] = fn()
        result["section_seconds"][key] = time.perf_counter() - t
    m["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    result["seconds"] = time.perf_counter() - t0
    log("seconds per section: " + ", ".join(f"{k} {v:.0f}" for k, v in result["section_seconds"].items()))
    return result


def finite(obj):
    """A copy with non-finite floats as None, so the JSON stays strict."""
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj
