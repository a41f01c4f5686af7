"""Small sympy building blocks shared by the symbolic halves: a softmax head over real symbols."""
from __future__ import annotations

import sympy as sp


def vec(name: str, n: int, **assume) -> list:
    return list(sp.symbols(f"{name}0:{n}", real=True, **assume))


def mat(name: str, rows: int, cols: int) -> sp.Matrix:
    return sp.Matrix(rows, cols, lambda i, j: sp.Symbol(f"{name}{i}_{j}", real=True))


def logits(h, O: sp.Matrix, b=None) -> list:
    """z_s = <h, o_s> + b_s."""
    V, d = O.shape
    return [sum(h[k] * O[s, k] for k in range(d)) + (b[s] if b is not None else 0) for s in range(V)]


def softmax(z) -> list:
    Z = sum(sp.exp(v) for v in z)
    return [sp.exp(v) / Z for v in z]


def ce(z, y: int):
    """Cross-entropy of logits z against target y, in log-sum-exp form."""
    return sp.log(sum(sp.exp(v) for v in z)) - z[y]


def is_zero(expr) -> bool:
    """True when sympy can simplify expr to exactly 0."""
    return sp.simplify(expr) == 0


def zero_all(exprs) -> bool:
    return all(is_zero(e) for e in exprs)


def nonzero_somewhere(expr, seed: int = 0) -> bool:
    """True when expr is provably not identically 0: its value at a rational point is nonzero.

    A nonzero value at one point is a proof, and much faster than asking
    simplify to fail; positive symbols get positive values.
    """
    import random

    rng = random.Random(seed)
    # values in (0, 0.45], so that probability-like symbols stay valid when a few are summed
    point = {s: sp.Rational(rng.randint(1, 9), 20) * (1 if s.is_positive or s.is_nonnegative else rng.choice((-1, 1)))
             for s in expr.free_symbols}
    return abs(sp.N(expr.subs(point), 30)) > 1e-20
