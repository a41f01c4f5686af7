"""Ours end to end against the JAX reference (``reference_jax``) on the paper-small transformer, one thread.

Contenders, all in this one process and run alternately (the order rotates
each repeat, so a load spike from another process hits them alike):

- ``ours_train``: ``tying.train`` on parity-7 with the paper's stream, recording
  every 1000 steps and exact validation every 1000 steps (issue 14, goal 1);
  each call is a whole run, set-up included;
- ``ours_loop``: the bare training loop (``Optimizer.run``) on pre-sampled batches;
- ``jax_float64`` / ``jax_float32``: the reference's jit + scan, sampling inside;
- ``jax_*_vmap10``: the same vmapped over 10 runs (rates are run-steps per second).

Wall-clock rates are reported as median (min-max) over the repeats; with every
contender on one thread, the process CPU time is also reported: it leaves out
the time other processes held the core.  Nothing is timed unless the agreement
check passes.
"""
from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

from . import reference_jax as rj  # first: it pins XLA to one thread before jax loads
from . import flops, workloads

import jax  # noqa: E402
import jaxlib  # noqa: E402
import numba  # noqa: E402
import numpy as np  # noqa: E402

from tying.core import atomic  # noqa: E402
from tying.models import Model, ModelConfig, Optimizer, TrainConfig, train  # noqa: E402

RUNS = 10  # runs per vmapped call
RECORD_EVERY = EVAL_EVERY = 1000


def _load() -> list | None:
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def ours_train(corpus, cfg: ModelConfig, unit: int):
    """run(n): one whole run of n steps; unit is long enough that the run's set-up (``setup_s``) is small."""
    def run(n):
        r = train(corpus, cfg, TrainConfig(steps=n, record_every=RECORD_EVERY, eval_every=EVAL_EVERY,
                                           progress=False), progress=False)
        if r.status != "completed":
            raise rj.JaxAgreementError(f"our run ended {r.status}")
    return run, unit


def setup_s(run, repeats: int = 3) -> float:
    """CPU seconds of a one-step run: what every run pays before its steps (corpus digest, validation set, ...)."""
    return statistics.median(_clock(run, 1)[1] for _ in range(repeats))


def ours_loop(cfg: ModelConfig, ex):
    opt, arrays, t = Optimizer(Model(cfg), TrainConfig()), Optimizer.arrays(ex), [0]

    def run(n):
        opt.run(arrays, t[0] % ex.n_batches, t[0], n)
        t[0] += n
    return run, 1000


def jax_runner(net, sampler, cfg, dtype: str, runs: int, chunk: int):
    """run(n): n steps (a multiple of chunk) as n / chunk calls of the jitted scan, state carried over."""
    tr, init = rj.trainer(net, sampler, TrainConfig(), dtype)
    states = [init(Model(cfg, seed=s).P, s) for s in range(runs)]
    if runs == 1:
        state, call = [states[0]], jax.jit(lambda st: tr(st, chunk))
    else:
        state = [jax.tree.map(lambda *x: jax.numpy.stack(x), *states)]
        call = jax.jit(jax.vmap(lambda st: tr(st, chunk)))

    def run(n):
        for _ in range(n // chunk):
            state[0], losses = call(state[0])
        losses.block_until_ready()
        if not np.all(np.isfinite(np.asarray(losses))):
            raise rj.JaxAgreementError(f"the JAX {dtype} loss is not finite")
    return run, chunk


def _thread_ticks() -> dict:
    """{thread id: user + system clock ticks} of this process's threads (Linux; empty elsewhere)."""
    out = {}
    try:
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[tid] = int(fields[11]) + int(fields[12])
    except OSError:
        pass
    return out


def _clock(run, n):
    """(wall s, process CPU s, threads that did at least 5% of the process's CPU work: None off Linux)."""
    before, w, c = _thread_ticks(), time.perf_counter(), time.process_time()
    run(n)
    wall, cpu, after = time.perf_counter() - w, time.process_time() - c, _thread_ticks()
    grew = [after[k] - before.get(k, 0) for k in after]
    busy = sum(g > 0.05 * sum(grew) for g in grew) if after and sum(grew) > 0 else None
    return wall, cpu, busy


def alternate(runners: dict, repeats: int, target: float, log=print) -> dict:
    """{name: {steps, runs, repeats, steps_per_s (median run-steps/s, wall), min, max, cpu_steps_per_s,
    first_call_s}}; runners maps name -> (run, unit, runs per step), each repeat about target seconds."""
    steps, first = {}, {}
    for name, (run, unit, runs) in runners.items():
        first[name] = _clock(run, unit)[0]  # compiles (jit / numba cache) outside the timing
        wall = _clock(run, unit)[0]
        steps[name] = unit * max(1, round(target / max(wall, 1e-9)))
    times = {name: [] for name in runners}
    names = list(runners)
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            times[name].append(_clock(runners[name][0], steps[name]))
        log(f"  repeat {r + 1}/{repeats}: " + ", ".join(
            f"{k} {steps[k] * runners[k][2] / times[k][-1][0]:,.0f}" for k in names) + " run-steps/s")
    out = {}
    for name, ts in times.items():
        n = steps[name] * runners[name][2]
        rate = sorted(n / w for w, _, _ in ts)
        out[name] = {"steps": steps[name], "runs": runners[name][2], "repeats": repeats,
                     "steps_per_s": statistics.median(rate), "min": rate[0], "max": rate[-1],
                     "cpu_steps_per_s": statistics.median(n / max(c, 1e-12) for _, c, _ in ts),
                     "wall_s": [w for w, _, _ in ts], "cpu_s": [c for _, c, _ in ts], "first_call_s": first[name],
                     "busy_threads": [b for _, _, b in ts]}
    return out


def run(quick: bool = False, log=print) -> dict:
    t0 = time.perf_counter()
    numba.set_num_threads(1)
    corpus = workloads.parity7()
    cfg = workloads.paper_config(corpus, "transformer")
    info = flops.cpu_info(cores=os.cpu_count())  # the machine, not the pinned core
    res = {"quick": quick, "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "load_average": _load(),
           "machine": {**info, "peak_gflops_f64_1core": flops.peak_gflops(info, 1),
                       "peak_gflops_f32_1core": flops.peak_gflops(info, 1, "float32")},
           "jax": jax.__version__, "jaxlib": jaxlib.__version__, "numba": numba.__version__,
           "xla_flags": os.environ.get("XLA_FLAGS", ""),
           "cpu_affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
           "jax_devices": [str(d) for d in jax.devices()]}
    log("agreement of the JAX step with ours (float64, our stream's batches):")
    net, sampler = rj.Net(cfg), rj.Sampler(corpus)
    res["agreement"] = {name: rj.check_agreement(c, workloads.parity_batches(corpus, 3, seed=1), 3)
                        for name, c in (("small untied", cfg),
                                        ("small tied", workloads.paper_config(corpus, "transformer", tied=True)))}
    for name, a in res["agreement"].items():
        log(f"  {name}: loss {a['loss_rel']:.1e}  grad {a['grad_rel']:.1e}  params {a['param_rel']:.1e}")
    chunk = 250 if quick else 500
    runners = {"ours_train": (*ours_train(corpus, ModelConfig(arch="transformer"), 2000 if quick else 10_000), 1),
               "ours_loop": (*ours_loop(cfg, workloads.parity_batches(corpus, 16, seed=2)), 1)}
    for dt in ("float64", "float32"):
        runners[f"jax_{dt}"] = (*jax_runner(net, sampler, cfg, dt, 1, chunk), 1)
        runners[f"jax_{dt}_vmap{RUNS}"] = (*jax_runner(net, sampler, cfg, dt, RUNS, chunk // 5), RUNS)
    log("timing (one thread, alternating):")
    t = alternate(runners, 3 if quick else 7, 0.5 if quick else 2.0, log)
    res["timing"] = t
    res["ours_train_setup_cpu_s"] = setup_s(runners["ours_train"][0])
    B = sampler.B
    res["flops_per_step"] = f = flops.step_flops(cfg, B, cfg.seq_len, B, ours=True)
    for name, r in t.items():
        peak = res["machine"]["peak_gflops_f32_1core" if "float32" in name else "peak_gflops_f64_1core"]
        r["gflops"] = f * r["cpu_steps_per_s"] / 1e9
        r["peak_fraction"] = r["gflops"] / peak
    res["ratios"] = {f"{o}/{j}": {"wall": t[o]["steps_per_s"] / t[j]["steps_per_s"],
                                  "cpu": t[o]["cpu_steps_per_s"] / t[j]["cpu_steps_per_s"]}
                     for o in ("ours_train", "ours_loop") for j in t if j.startswith("jax")}
    res["load_average_end"] = _load()
    res["seconds"] = time.perf_counter() - t0
    return res


def markdown(res: dict) -> str:
    m, t = res["machine"], res["timing"]
    la = lambda v: "n/a" if v is None else " / ".join(f"{x:.1f}" for x in v)  # noqa: E731
    n = lambda x: f"{x:,.0f}"  # noqa: E731
    lines = [f"# Ours against the JAX reference ({'quick' if res['quick'] else 'full'} run, {res['started']})", "",
             f"Machine: {m['model']}, {m['cores']} cores, {m['isa']}, {m['ghz']:.2f} GHz; jax {res['jax']} "
             f"(jaxlib {res['jaxlib']}), "
             f"numba {res['numba']}.  One core: the process is pinned to CPU(s) {res['cpu_affinity']} before jax "
             f"loads, XLA runs with `XLA_FLAGS={res['xla_flags']}`, numba with one thread.  Load average (1/5/15 min) "
             f"{la(res['load_average'])} at the start, "
             f"{la(res['load_average_end'])} at the end: the machine is shared, so CPU-time rates (which leave out "
             f"the time other processes held the core) are shown beside wall clock.  Took {res['seconds']:.0f} s.", "",
             "Workload: paper-small transformer (d 4, one layer, one head, ff 4, GELU), parity-7, batch 1024 = the "
             "whole train split (115 strings), one masked bit per string, AdamW + cosine.  The JAX reference "
             "(`benchmarks/reference_jax.py`) samples with `jax.random` inside its jit + scan: same distribution "
             "as our stream, not the same draws.  Ours end to end is `tying.train` (stream, recording every "
             f"{RECORD_EVERY} steps, exact validation every {EVAL_EVERY}), one whole run of "
             f"{res['timing']['ours_train']['steps']:,} steps per repeat, its set-up included "
             f"({res['ours_train_setup_cpu_s']:.2f} s of CPU, the time of a one-step run).", "",
             "## Agreement (float64, our stream's batches fed to the JAX step)", "",
             "| case | steps | loss | gradient | parameters after AdamW |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {a['steps']} | {a['loss_rel']:.1e} | {a['grad_rel']:.1e} | {a['param_rel']:.1e} |"
              for k, a in res["agreement"].items()]
    lines += ["", "Worst max|ours - JAX| / max|JAX| over the steps; timing is refused beyond 1e-12.", "",
              "## Throughput (one thread; run-steps per second)", "",
              f"{res['flops_per_step']:,.0f} FLOPs per step (`benchmarks/flops.py`, ours = the JAX reference's "
              "query-side count); GFLOP/s and % of the one-core peak in the contender's dtype from the CPU-time "
              "rate.", "",
              "| contender | runs per call | wall: median (min–max) | CPU time: median | GFLOP/s (% of peak) | "
              "first call s |", "|---|---|---|---|---|---|"]
    lines += [f"| {k} | {r['runs']} | {n(r['steps_per_s'])} ({n(r['min'])}–{n(r['max'])}) | "
              f"{n(r['cpu_steps_per_s'])} | {r['gflops']:.3f} ({100 * r['peak_fraction']:.2f}%) | "
              f"{r['first_call_s']:.2f} |" for k, r in t.items()]
    busy = {k: max((b for b in r["busy_threads"] if b is not None), default=None) for k, r in t.items()}
    lines += ["", "Threads that did at least 5% of the process's CPU work in a repeat (from /proc/self/task), the "
              "most over the repeats: " + ", ".join(f"{k} {b}" for k, b in busy.items()) + ".", "",
              "## Ours / JAX", "", "| ratio | wall | CPU time |", "|---|---|---|"]
    lines += [f"| {k} | {v['wall']:.2f}x | {v['cpu']:.2f}x |" for k, v in res["ratios"].items()]
    return "\n".join(lines) + "\n"


def write(res: dict, out_dir: Path, name: str = "jax") -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.json", out_dir / f"{name}.md"]
    atomic.write_text(paths[0], json.dumps(res, indent=1, allow_nan=False) + "\n")
    atomic.write_text(paths[1], markdown(res))
    return paths
