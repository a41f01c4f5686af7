"""The cost of a tying variant: ms per training step against plain tying, per architecture.

A variant runs the plain kernels on effective tables (``models/variant_kernels.py``): one copy of
the parameters forward and one scatter backward per batch.  On the paper's parity-7 stream (the
paper-small shapes, batch 1024) this measures each variant's ms/step next to plain tying's, CPU
seconds of this process, best of ``repeats`` after a warm-up that compiles.

``python -m benchmarks.bench_variants [--steps 50] [--repeats 3] [--out FILE.json]``
"""
from __future__ import annotations

import argparse
import json
import time

from tying.core import atomic
from tying.models import ARCHS, Model, Optimizer, TrainConfig

from .workloads import paper_config, parity7, parity_batches

VARIANTS = {"tied": {}, "alpha=4": dict(input_grad_scale=4.0), "c=sqrt(d)": dict(input_multiplier="sqrt(d)"),
            "k=d/2": dict(tied_dims=2), "tie map": dict(tie_map=True)}


def ms_per_step(cfg, batches, steps: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats + 1):  # the first call compiles
        opt = Optimizer(Model(cfg, seed=0), TrainConfig(steps=steps))
        t0 = time.process_time()
        opt.run(batches, 0, 0, steps)
        best = min(best, time.process_time() - t0)
    return 1000 * best / steps


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", help="write the table as JSON here")
    args = p.parse_args(argv)
    corpus = parity7()
    batches = Optimizer.arrays(parity_batches(corpus, args.steps))
    table = {}
    for arch in ARCHS:
        table[arch] = {name: ms_per_step(paper_config(corpus, arch, tied=True, **kw), batches, args.steps,
                                         args.repeats) for name, kw in VARIANTS.items()}
        print(arch, "  ".join(f"{n} {v:.3f} ms" for n, v in table[arch].items()), flush=True)
    if args.out:
        atomic.write_text(args.out, json.dumps({"ms_per_step": table, "steps": args.steps}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
