"""P3. Separation when the distributional hypothesis breaks.

A model that reproduces the data conditional (q = p) satisfies, at every
context x where p(a|x) + p(b|x) > 0,

    <h(x), o_a - o_b> + (b_a - b_b) = log r(x),    r(x) = p(a|x) / p(b|x),

because log q_a - log q_b = z_a - z_b.  By Cauchy-Schwarz
|<h, o_a - o_b>| <= |h| |o_a - o_b|, hence

    |o_a - o_b| >= max_x |log r(x) - (b_a - b_b)| / |h(x)|.

* Without an output bias, the paper's constant ratio 0.1/0.9 forces
  |o_a - o_b| >= log 9 / max_x |h(x)|.
* With a bias a constant ratio is absorbed (b_a - b_b = log r, o_a = o_b fits),
  but a ratio that depends on context is not: subtracting the identity at two
  contexts removes the bias, <h(x) - h(x'), o_a - o_b> = log r(x) - log r(x'),
  so |o_a - o_b| >= |log r(x) - log r(x')| / |h(x) - h(x')| with or without bias.

The bound uses the data's r(x); the model enters only through h(x) and b.  A
model that does not fit pays a fit error eps(x) = |z_a - z_b - log r(x)|, and
the numeric check reports it beside the bound.

Negative control: the no-bias bound applied to a model with a bias, on a
constant ratio, fails (the rows contract below it).
"""
from __future__ import annotations

import sympy as sp

from . import sym
from .result import Result

ID = "P3"
STATEMENT = "q = p => <h, o_a-o_b> + (b_a-b_b) = log r(x), so |o_a-o_b| >= max_x |log r(x) - db| / |h(x)|; a bias absorbs a constant r, not a context-dependent one"


def symbolic() -> Result:
    res = Result(ID, "symbolic", STATEMENT)
    V, d = 3, 2
    h = sym.vec("h", d)
    O = sym.mat("o", V, d)
    b = sym.vec("b", V)
    z = sym.logits(h, O, b)
    q = sym.softmax(z)
    D = [O[0, k] - O[1, k] for k in range(d)]
    res.check("log q_a - log q_b = <h, o_a - o_b> + (b_a - b_b)",
              sym.is_zero(sp.expand_log(sp.log(q[0]) - sp.log(q[1]), force=True)
                          - sum(hk * Dk for hk, Dk in zip(h, D)) - (b[0] - b[1])))
    for n in (2, 3):  # Lagrange's identity makes Cauchy-Schwarz a sum of squares
        u, v = sym.vec("u", n), sym.vec("v", n)
        gap = sum(x * x for x in u) * sum(x * x for x in v) - sum(x * y for x, y in zip(u, v)) ** 2
        squares = sum((u[i] * v[j] - u[j] * v[i]) ** 2 for i in range(n) for j in range(i + 1, n))
        res.check(f"|u|^2 |v|^2 - <u,v>^2 = sum_(i<j) (u_i v_j - u_j v_i)^2 >= 0 (n={n})",
                  sp.expand(gap - squares) == 0)

    r = sp.Symbol("r", positive=True)
    tied_rows = {O[1, k]: O[0, k] for k in range(d)}  # o_a = o_b
    fit = sp.expand_log(sp.log(q[0] / q[1]), force=True).subs(tied_rows)
    res.check("a bias absorbs a constant ratio: o_a = o_b, b_a - b_b = log r gives q_a/q_b = r for every h",
              sym.is_zero(fit.subs(b[0], b[1] + sp.log(r)) - sp.log(r)))
    res.check("with o_a = o_b the model's log-ratio b_a - b_b does not depend on h",
              all(sym.is_zero(sp.diff(fit, hk)) for hk in h))
    h2 = sym.vec("g", d)
    r1, r2 = sp.symbols("r1 r2", positive=True)
    ids = [sum(hk * Dk for hk, Dk in zip(hx, D)) + (b[0] - b[1]) - sp.log(rx) for hx, rx in ((h, r1), (h2, r2))]
    res.check("context-dependent ratio: the bias cancels, <h - h', o_a - o_b> = log r(x) - log r(x')",
              sym.is_zero(ids[0] - ids[1] - (sum((x - y) * Dk for x, y, Dk in zip(h, h2, D)) - sp.log(r1) + sp.log(r2))))
    b_fit = sp.solve(ids[0].subs(tied_rows), b[0])
    res.check("with o_a = o_b, fitting r1 at x leaves the residual log r1 - log r2 at x'",
              len(b_fit) == 1 and sym.is_zero(ids[1].subs(tied_rows).subs(b[0], b_fit[0]) - sp.log(r1) + sp.log(r2)))
    # Premise (no bias) removed: o_a = o_b with b_a - b_b = log(1/9) fits exactly, yet |o_a - o_b| = 0
    # is below the no-bias bound log 9 / |h| at any h.
    hn = sp.Rational(3, 2)
    res.control("no-bias bound |o_a - o_b| >= |log r| / |h| for a biased model (r = 1/9)",
                bool(0 >= abs(sp.log(sp.Rational(1, 9))) / hn))
    res.number(log9=float(sp.log(9)))
    res.tol(symbolic="exact (sympy)")
    return res


def numeric(quick: bool = True) -> Result:
    raise NotImplementedError
