"""Benchmarks: our numba models side by side with a PyTorch eager reference, and how the cost grows.

``python -m benchmarks [--quick]`` (or ``tying bench``) first checks that the
torch reference computes the same losses, gradients and AdamW updates as our
kernels (float64, rtol 1e-6; it refuses to time anything otherwise), then
times training throughput, scaling in d / V / T / batch, the generators and the
sweep runner, and writes ``benchmarks/results/latest.{json,md,png}``.
torch is a benchmark-only extra: ``pip install ".[bench]"``.
"""
