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
constant ratio, fails: the merged biased model (o_a := o_b, b_a - b_b = log r)
fits, yet its rows are 0 apart, below its own no-bias bound.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from tying.models.params import D_R

from . import lab, sym
from .result import Result

ID = "P3"
FIT = 0.1  # rows must stand at least (1 - FIT) times the data bound apart
FIT_GAP = 1e-3  # a model "fits" when its population loss is within this many nats of the Bayes CE
OPT_TOL = 1e-3  # nats above the Bayes CE that still count as optimal
BOUND_TOL = 1e-9  # rounding below a lower bound
KEY_NUMBERS = ("skewed no bias: distance", "skewed no bias: bound", "skewed no bias: paper_bound",
               "allomorph bias: distance", "allomorph bias: pair_bound")
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
    # Premise (no bias) removed: the merged biased model above fits, and its row distance and the no-bias
    # bound are both computed from it; the bound must fail at some h (here h = (1, 1/2), r = 1/9).
    fits = sym.is_zero(fit.subs(b[0], b[1] + sp.log(r)) - sp.log(r))
    dist = sp.sqrt(sum(Dk**2 for Dk in D)).subs(tied_rows)
    no_bias_bound = sp.Abs(sp.log(r)) / sp.sqrt(sum(hk**2 for hk in h))
    at = {r: sp.Rational(1, 9), h[0]: 1, h[1]: sp.Rational(1, 2)}
    res.control("no-bias bound |o_a - o_b| >= |log r| / |h| for the fitting biased model o_a = o_b, b_a - b_b = log r",
                fits and bool(sp.simplify((dist - no_bias_bound).subs(at)) >= 0),
                float(sp.N((dist - no_bias_bound).subs(at))))
    res.number(log9=float(sp.log(9)))
    res.tol(symbolic="exact (sympy)")
    return res


def separation_bound(log_r, h) -> float:
    """The paper's form of the bound, the one the reproduction's claims use: max |log r(x)| over
    max ||h(x)||, over the contexts where both symbols are possible (no output bias)."""
    return float(np.max(np.abs(log_r)) / np.linalg.norm(np.atleast_2d(h), axis=1).max())


def _geometry(m, s, a: int, b: int) -> dict:
    """The data's log r(x) beside the model's h(x), z_a - z_b and rows, over distinct contexts with p_a + p_b > 0."""
    ctx, pa, pb, px = lab.pair_conditionals(s, a, b)
    _, first = np.unique(ctx, return_index=True)
    pa, pb, px = pa[first], pb[first], px[first]
    h, z, _ = lab.head(m, s.pop)
    k = pa + pb > 0
    if np.any(k & ((pa == 0) | (pb == 0))):
        raise ValueError("a context where exactly one of the pair is possible: log r is infinite")
    h, zd, logr = h[first][k], (z[first, a] - z[first, b])[k], np.log(pa[k] / pb[k])
    hn = np.linalg.norm(h, axis=1)
    db = float(m.b_out()[a] - m.b_out()[b])
    E = m.E_out()
    i, j = np.triu_indices(len(h), 1)
    dh = np.linalg.norm(h[i] - h[j], axis=1)
    ok = dh > 1e-12
    # the bias-free bound from two contexts: <h(x) - h(x'), o_a - o_b> = log r(x) - log r(x').  Equal ratios
    # differ by rounding (~1e-16), which over two nearly equal h would read as a bound of ~1e-9: call it 0.
    dlogr = np.abs(logr[i] - logr[j])
    pair = np.where(dlogr > 1e-12, dlogr, 0.0)[ok] / dh[ok]
    rho, mass = pa[k] / (pa[k] + pb[k]), px[k] * (pa[k] + pb[k])
    c = np.sum(mass * rho) / np.sum(mass)  # the best shared-row ratio a bias can set
    kl = lambda c: np.sum(mass * (rho * np.log(rho / c) + (1 - rho) * np.log((1 - rho) / (1 - c))))  # noqa: E731
    return {
        "distance": float(np.linalg.norm(E[a] - E[b])), "delta_b": db,
        "bound": float(np.max(np.abs(logr - db) / hn)), "bound_no_bias": float(np.max(np.abs(logr) / hn)),
        "paper_bound": separation_bound(logr, h), "pair_bound": float(pair.max(initial=0.0)),
        "fit_error": float(np.max(np.abs(zd - logr))), "fit_error_over_h": float(np.max(np.abs(zd - logr) / hn)),
        "D_half": float(kl(0.5)), "D_bias": float(kl(c)), "best_bias_ratio": float(c),
    }


def _merge_rows(m, s, a: int, b: int, delta_b: float | None):
    """o_a := o_b with b_a := b_b + delta_b (None: the best delta_b); (population loss, delta_b used, merged model)."""
    u = m if m.cfg.output_bias else lab.with_bias(m, np.zeros(m.dims[D_R]))
    u = lab.with_bias(u, u.views()["out_bias"].copy())  # a copy
    E, bias, ra, rb = lab.emb(u), u.views()["out_bias"], u.out_row[a], u.out_row[b]
    E[ra] = E[rb]

    def loss(c):
        bias[ra] = bias[rb] + c
        return u.loss(s.pop)[0]

    if delta_b is None:  # the loss is convex in one logit offset: ternary search
        lo, hi = -15.0, 15.0
        for _ in range(80):
            x1, x2 = lo + (hi - lo) / 3, hi - (hi - lo) / 3
            lo, hi = (lo, x2) if loss(x1) < loss(x2) else (x1, hi)
        delta_b = (lo + hi) / 2
    return loss(delta_b), delta_b, u


def numeric(quick: bool = True) -> Result:
    """Mixers trained (Adam, population) on parity DH (0a/0b: constant ratio 1/9) and on a parity
    allomorph (0a/0b chosen by the preceding bit: log r in {-log 9, 0, log 9}).  Three bits: the
    paper-small mixer does not reliably fit the 4-bit allomorph."""
    res = Result(ID, "numeric", STATEMENT)
    bits, a, b = 3, 0, 1
    # Seed 1 needs ~3000 steps to come within FIT_GAP of Bayes (2000 leave it 0.0023 above).  Since the
    # untied output rows are drawn from their own stream, seed 0's biased allomorph mixer is 0.12 nats above
    # Bayes at 1000 steps and 0.0015 at 2000; at 3000 it is 0.0003 above.
    steps, seeds = (3000, (0,)) if quick else (4000, (0, 1, 2))
    skew, allo = lab.parity(bits), lab.parity_allomorph(bits)
    bayes, bayes_a = skew.truth.cross_entropy(), allo.truth.cross_entropy()
    res.tol(fit_gap=FIT_GAP, bound_fraction=1 - FIT, optimal=OPT_TOL, lower_bound=BOUND_TOL)
    res.number(bits=bits, steps=steps, seeds=list(seeds), log9=float(np.log(9)))
    for seed in seeds:
        tag = "" if seed == 0 else f"seed {seed} "
        trained = {}
        for name, corpus, s in (("skewed", "dh", skew), ("allomorph", "allomorph", allo)):
            for bias in (False, True):
                m, losses = lab.fitted(bits, "mixer", steps=steps, bias=bias, corpus=corpus, seed=seed)
                trained[name, bias] = m, losses[-1] - s.truth.cross_entropy()
                g = _geometry(m, s, a, b)
                res.number(**{f"{tag}{name} {'bias' if bias else 'no bias'}: {k}": v for k, v in
                              {**g, "loss - bayes": trained[name, bias][1]}.items()})

        # 1. no bias, constant ratio: the trained rows are held apart by the data bound
        m, gap = trained["skewed", False]
        g = _geometry(m, skew, a, b)
        res.check(f"{tag}skewed, no bias: the model fits (loss within {FIT_GAP} of Bayes)", gap <= FIT_GAP, gap)
        res.check(f"{tag}skewed, no bias: |o_a - o_b| >= 0.9 max_x |log r(x)| / |h(x)|",
                  g["distance"] >= (1 - FIT) * g["bound"], g["distance"] / g["bound"])
        res.check(f"{tag}D from this grouping = D from generators.truth",
                  abs(g["D_half"] - skew.truth.dh_violation(a, b)) <= 1e-12, g["D_half"])
        # 2. with a bias the constant ratio is absorbed: o_a = o_b, b_a - b_b = log r fits as well
        loss, _, merged = _merge_rows(m, skew, a, b, float(np.log(1 / 9)))
        gm = _geometry(merged, skew, a, b)
        res.number(**{f"{tag}skewed: o_a := o_b, db = log(1/9): loss - bayes": loss - bayes,
                      f"{tag}skewed merged bias: distance": gm["distance"],
                      f"{tag}skewed merged bias: bound_no_bias": gm["bound_no_bias"],
                      f"{tag}skewed no bias: pair_bound": g["pair_bound"]})
        res.check(f"{tag}skewed: a bias absorbs the ratio (o_a := o_b, b_a - b_b = log r stays within "
                  f"{OPT_TOL} of Bayes)", loss - bayes <= OPT_TOL, loss - bayes)
        res.check(f"{tag}skewed: the data price of o_a = o_b with a free bias is 0", g["D_bias"] <= 1e-12,
                  g["D_bias"])
        res.control(f"{tag}skewed: the merged biased model fits (within {OPT_TOL} of Bayes) and satisfies the "
                    "no-bias bound |o_a - o_b| >= 0.9 max_x |log r| / |h|",
                    loss - bayes <= OPT_TOL and gm["distance"] >= (1 - FIT) * gm["bound_no_bias"],
                    gm["distance"] / gm["bound_no_bias"])
        # data check (not a control): a constant ratio gives the two-context bound nothing to work with
        res.check(f"{tag}skewed: the two-context bound is 0 for a constant ratio", g["pair_bound"] <= BOUND_TOL,
                  g["pair_bound"])
        # 3. a context-dependent ratio is not absorbed, bias or not
        m, gap = trained["allomorph", True]
        ga = _geometry(m, allo, a, b)
        res.check(f"{tag}allomorph, bias: the model fits (loss within {FIT_GAP} of Bayes)", gap <= FIT_GAP, gap)
        res.check(f"{tag}allomorph, bias: |o_a - o_b| >= 0.9 max |log r(x) - log r(x')| / |h(x) - h(x')| > 0",
                  ga["pair_bound"] > 0 and ga["distance"] >= (1 - FIT) * ga["pair_bound"],
                  ga["distance"] / max(ga["pair_bound"], 1e-300))
        loss_a, c, _ = _merge_rows(m, allo, a, b, None)
        res.number(**{f"{tag}allomorph: o_a := o_b, best db: loss - bayes": loss_a - bayes_a,
                      f"{tag}allomorph: best db": c})
        res.check(f"{tag}allomorph: o_a = o_b with the best bias costs at least min_c E[(p_a+p_b) KL(rho || c)] > 0",
                  ga["D_bias"] > OPT_TOL and loss_a - bayes_a >= ga["D_bias"] - BOUND_TOL,
                  loss_a - bayes_a - ga["D_bias"])
        res.control(f"{tag}allomorph: a bias absorbs the ratio (o_a := o_b with the best bias stays within "
                    f"{OPT_TOL} of Bayes)", loss_a - bayes_a <= OPT_TOL, loss_a - bayes_a)
    return res
