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


def nonzero_somewhere(expr, tries: int = 3) -> bool:
    """True when expr is provably not identically 0: its value at some rational point is nonzero.

    A nonzero value at one point is a proof, and much faster than asking
    simplify to fail.  Points give every symbol a distinct value in (0, 0.45]
    (negated at random unless the symbol is positive), so that probability-like
    symbols stay valid when a few are summed and no two symbols coincide.
    """
    import random

    syms = sorted(expr.free_symbols, key=lambda x: x.name)
    for seed in range(tries):
        rng = random.Random(seed)
        ks = rng.sample(range(1, 46), len(syms)) if len(syms) <= 45 else [rng.randint(1, 10**6) for _ in syms]
        scale = 100 if len(syms) <= 45 else 10**6 / 0.45
        point = {x: sp.Rational(k) / scale * (1 if (x.is_positive or x.is_nonnegative) else rng.choice((-1, 1)))
                 for x, k in zip(syms, ks)}
        if abs(sp.N(expr.subs(point), 30)) > 1e-20:
            return True
    return False
