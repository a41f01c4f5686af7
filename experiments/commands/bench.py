"""``tying bench``: the benchmarks of ``benchmarks/`` (ours against PyTorch eager, scaling, generators, sweeps).

The benchmarks live in the source tree, not in the installed package, and
need the ``bench`` extra (torch); the command runs ``python -m benchmarks`` in
a fresh process from the checkout.  Exit codes: 0 done, 1 ours and torch disagree (nothing
reported), 2 bad input.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from tying.core.errors import InputError



def checkout() -> Path | None:
    """The source tree holding benchmarks/: the one this package runs from (editable install), else the
    current folder (a regular install run from a checkout)."""
    for root in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (root / "benchmarks" / "__main__.py").is_file():
            return root
    return None


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bench", help="benchmark the models against PyTorch eager (needs the bench extra)",
        description="Check that our kernels and a PyTorch eager reference agree (float64, rtol 1e-6), then time "
        "training throughput, scaling in d / V / T / batch, the generators and the sweep runner; write "
        "DIR/latest.json, .md and .png (DIR/quick.* with --quick).")
    p.add_argument("--quick", action="store_true", help="about a minute: fewer repeats and scaling points")
    p.add_argument("--jax", action="store_true",
                   help="instead: ours end to end against the JAX reference, one core (needs the jax extra, not "
                   "torch); writes DIR/jax.json and .md")
    p.add_argument("--out", default=None, metavar="DIR", help="results folder (default benchmarks/results)")
    p.set_defaults(func=run)


def run(args) -> int:
    root = checkout()
    if root is None:
        raise InputError("the benchmarks are not installed with the package: run tying bench from a source "
                         "checkout (pip install '.[bench]')")
    cmd = [sys.executable, "-m", "benchmarks"] + (["--quick"] if args.quick else []) + (["--jax"] if args.jax else [])
    if args.out is not None:  # the user's own mistake first, then what the machine lacks
        out = Path(args.out).resolve()
        if not out.parent.is_dir():
            raise InputError(f"output folder's parent does not exist: {out.parent}")
        cmd += ["--out", str(out)]
    if args.jax and importlib.util.find_spec("jax") is None:
        raise InputError("jax is not installed; install the jax extra: pip install '.[jax]'")
    if not args.jax and importlib.util.find_spec("torch") is None:
        raise InputError("torch is not installed; install the benchmark extra: pip install '.[bench]'")
    return subprocess.call(cmd, cwd=root)
