"""``python -m benchmarks.endtoend [--before REV]``: train() end to end, this checkout against another commit.

The workload is issue #14's goal 1: the paper-small transformer on parity-7 with
the paper's stream (batch 1024 = the whole train split), a snapshot every 1000
steps and the exact validation and training-split evaluation every 1000 steps.
Each tree (this checkout, and ``git archive REV`` unpacked in a temporary
folder) runs in its own child processes with its own numba cache folder:

- cold: an empty cache; the wall-clock and CPU time from the start of the process to the end of
  the first step (imports, numba compile, one step);
- warm: the same, again, with the cache the cold child filled;
- timed: ``--repeats`` children per tree, alternating trees (rotated order), so
  a load spike from another process hits both alike; each trains ``--steps``
  steps and reports wall-clock and process CPU time of train() alone.

Every timed child also reports the sha256 of its final parameters and metrics,
so the report says whether the two trees gave bit-identical runs.  Numba runs
on one thread.  Exit codes: 0 done, 2 bad input (unknown commit, no git).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import time
t0 = time.perf_counter()
import hashlib, json, sys
from tying.generators import parity_corpus
from tying.models import ModelConfig, TrainConfig, train
steps = int(sys.argv[1])
corpus = parity_corpus(7)
cfg = ModelConfig(arch="transformer")  # the paper-small defaults
tc = dict(record_every=1000, eval_every=1000, progress=False)
if steps == 0:  # time to the end of the first step from the start of the process
    train(corpus, cfg, TrainConfig(steps=1, **tc))
    # process CPU time since start: the compile's cost with less of the other processes' load in it
    print(json.dumps({"first_step_s": time.perf_counter() - t0, "first_step_cpu_s": time.process_time()}))
else:
    w, c = time.perf_counter(), time.process_time()
    run = train(corpus, cfg, TrainConfig(steps=steps, **tc))
    w, c = time.perf_counter() - w, time.process_time() - c
    digest = hashlib.sha256(run.params.tobytes() + run.metrics_csv().encode()).hexdigest()
    print(json.dumps({"wall_s": w, "cpu_s": c, "sha256": digest}))
"""


def unpack(rev: str, into: Path) -> Path:
    """The tree of commit rev, unpacked under into (a checkout's layout: ``import tying`` finds its layers)."""
    tree = into / "tree"
    tree.mkdir()
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        err = getattr(e, "stderr", b"") or b""
        print(f"benchmarks.endtoend: error: cannot unpack commit {rev!r}: "
              f"{err.decode(errors='replace').strip() or e}", file=sys.stderr)
        raise SystemExit(2) from None
    return tree


def child(tree: Path, cache: Path, steps: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "NUMBA_CACHE_DIR": str(cache), "NUMBA_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD, str(steps)], env=env, cwd=str(cache.parent),
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"the child in {tree} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(trees: dict, steps: int, repeats: int, work: Path, log=print) -> dict:
    caches = {}
    result = {"workload": "paper-small transformer, parity-7, batch 1024, record and eval every 1000 steps",
              "steps": steps, "repeats": repeats, "trees": {}}
    for name, tree in trees.items():
        caches[name] = work / f"cache-{name}"
        caches[name].mkdir()
        cold, warm = child(tree, caches[name], 0), child(tree, caches[name], 0)
        log(f"{name}: cold start {cold['first_step_s']:.1f} s ({cold['first_step_cpu_s']:.1f} s CPU), "
            f"warm start {warm['first_step_s']:.2f} s ({warm['first_step_cpu_s']:.2f} s CPU)")
        result["trees"][name] = {"path": str(tree), "cold_start_s": cold["first_step_s"],
                                 "cold_start_cpu_s": cold["first_step_cpu_s"], "warm_start_s": warm["first_step_s"],
                                 "warm_start_cpu_s": warm["first_step_cpu_s"], "runs": []}
    names = list(trees)
    for r in range(repeats):
        for name in names[r % len(names):] + names[: r % len(names)]:
            res = child(trees[name], caches[name], steps)
            result["trees"][name]["runs"].append(res)
            log(f"{name}: {steps / res['cpu_s']:.0f} steps/s (CPU), {steps / res['wall_s']:.0f} (wall)")
    for name, t in result["trees"].items():
        t["cpu_steps_per_s"] = statistics.median(steps / x["cpu_s"] for x in t["runs"])
        t["wall_steps_per_s"] = statistics.median(steps / x["wall_s"] for x in t["runs"])
        t["min_cpu_steps_per_s"] = min(steps / x["cpu_s"] for x in t["runs"])
        t["max_cpu_steps_per_s"] = max(steps / x["cpu_s"] for x in t["runs"])
    digests = {x["sha256"] for t in result["trees"].values() for x in t["runs"]}
    result["bit_identical"] = len(digests) == 1
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.endtoend", description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", metavar="REV", help="the commit to compare against (default: none, this tree alone)")
    ap.add_argument("--steps", type=int, default=10_000, metavar="N", help="steps per timed run (default 10000)")
    ap.add_argument("--repeats", type=int, default=5, metavar="R", help="timed runs per tree (default 5)")
    ap.add_argument("--out", type=Path, metavar="FILE.json", help="also write the result here")
    args = ap.parse_args(argv)
    if args.steps < 1 or args.repeats < 1:
        ap.error("--steps and --repeats must be at least 1")
    if args.out is not None and not args.out.parent.is_dir():
        ap.error(f"the folder of --out does not exist: {args.out.parent}")
    with tempfile.TemporaryDirectory(prefix="tying-endtoend-") as tmp:
        work = Path(tmp)
        trees = {"this": ROOT}
        if args.before:
            trees["before"] = unpack(args.before, work)
        t0 = time.perf_counter()
        result = measure(trees, args.steps, args.repeats, work)
        result["before"] = args.before
        result["elapsed_s"] = time.perf_counter() - t0
    if args.before:
        a, b = result["trees"]["this"], result["trees"]["before"]
        result["speedup_cpu"] = a["cpu_steps_per_s"] / b["cpu_steps_per_s"]
        result["speedup_wall"] = a["wall_steps_per_s"] / b["wall_steps_per_s"]
        result["cold_start_cpu_ratio"] = a["cold_start_cpu_s"] / b["cold_start_cpu_s"]
        print(f"this / {args.before}: {result['speedup_cpu']:.2f}x (median CPU steps/s), "
              f"{result['speedup_wall']:.2f}x (wall); cold start {result['cold_start_cpu_ratio']:.2f}x (CPU); "
              f"bit-identical: {result['bit_identical']}")
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
