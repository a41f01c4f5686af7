"""P5. Semantic equivalence and input embeddings.

Let a and b be SE: replacing a by b in the input never changes the target
distribution, and both are surface forms of one meaning m, chosen at every
occurrence independently of context with weights w_a, w_b (w_a + w_b = 1).
For untied input rows e_a, e_b of any model:

  (i)   setting e_b := e_a in an optimal model keeps it optimal: the loss at
        e_a = e_b is the meaning-level loss, which no longer depends on w, and
        every b-context now computes what its a-twin computed (optimal, by SE);
  (ii)  at e_a = e_b, grad_{e_a} L / w_a = grad_{e_b} L / w_b;
  (iii) hence with w_a = w_b the gradients are equal, and SGD or Adam(W) (whose
        updates are coordinatewise functions of equal gradient histories)
        preserve e_a = e_b, up to floating-point rounding;
  (iv)  (found while checking (iii)) Adam(W) preserves e_a = e_b even when
        w_a != w_b: by (ii) the gradients stay proportional, g_a = (w_a/w_b) g_b,
        and Adam's step m / (sqrt(v) + eps) is invariant to a per-coordinate
        scale, up to eps.  SGD's steps differ by the factor w_a / w_b, so it splits them.

Proof of (ii): at e_a = e_b all realizations of a meaning-level context give
the same per-position input gradients g_t, and position t holds a with
probability w_a independently of the others, so grad_{e_a} L = w_a sum_t g_t
and grad_{e_b} L = w_b sum_t g_t.  The symbolic check uses a generic model: the
loss at each realized context is a generic quadratic in the embeddings, which
has arbitrary values and first derivatives at the symmetric point, and only
those enter (ii).

Negative controls: a pair that is not SE (a bit-0 symbol against a bit-1
symbol) has gradients that are not parallel; a surface choice that depends on
context breaks (ii); unequal weights (w_a != w_b) break (iii).
"""
from __future__ import annotations

import itertools

import numpy as np
import sympy as sp

from . import lab, sym
from .result import Result

ID = "P5"
OPT_TOL = 1e-3  # nats above the Bayes CE that still count as optimal
EXACT_TOL = 1e-10  # relative gap between two float64 sums of the same terms
EQUAL_TOL = 1e-10  # the bound on |e_a - e_b| after 1000 steps
ADAM_TOL = 1e-6  # Adam's eps (1e-12) breaks exact scale invariance slightly
STEPS = 1000
OPTIMIZERS = {"sgd": {"lr": 0.5}, "adamw": {"lr": 1e-2, "wd": 0.1}}  # AdamW: betas 0.9/0.999, eps 1e-12
KEY_NUMBERS = ("worst_optimal_gap", "worst_ratio_gap", "worst_equal_rows")
STATEMENT = "a, b SE with context-free weights w_a, w_b => at e_a = e_b, grad_e_a L / w_a = grad_e_b L / w_b; e_b := e_a keeps an optimum; w_a = w_b: SGD/AdamW keep e_a = e_b"


def generic_quadratic(name: str, *args):
    """A quadratic with fresh symbolic coefficients: arbitrary value and gradient at any point."""
    terms = [1, *args, *(x * y for x, y in itertools.combinations_with_replacement(args, 2))]
    return sum(sp.Symbol(f"{name}_{i}", real=True) * t for i, t in enumerate(terms))


def _population(wa, second=None):
    """Loss of a generic model over the meaning-level contexts 'm m', 'm c', 'c m', each m realized as a or b.

    The model is one generic function per meaning-level context (f, g, k) of the
    embeddings it reads, shared by all realizations: a and b differ only through e_a, e_b.
    ``second[s1][s2]``: probability that the second m of 'm m' is s2 given that the first
    is s1 (None: independent of context, the weights w).
    """
    ea, eb, ec, x, y = sp.symbols("e_a e_b e_c x y", real=True)
    f, g, k = generic_quadratic("f", x, y), generic_quadratic("g", x, y), generic_quadratic("k", x, y)
    E, W = {"a": ea, "b": eb}, {"a": wa, "b": 1 - wa}
    second = second or {s: W for s in "ab"}
    L = 0
    for s1 in "ab":
        for s2 in "ab":
            L += W[s1] * second[s1][s2] * f.subs({x: E[s1], y: E[s2]}, simultaneous=True)
        L += W[s1] * (g.subs({x: E[s1], y: ec}, simultaneous=True) + k.subs({x: ec, y: E[s1]}, simultaneous=True))
    return L, ea, eb


def _ratio_gap(L, ea, eb, wa):
    e = sp.Symbol("e", real=True)
    at = {ea: e, eb: e}
    return (sp.diff(L, ea).subs(at) / wa - sp.diff(L, eb).subs(at) / (1 - wa)), L.subs(at)


def symbolic() -> Result:
    res = Result(ID, "symbolic", STATEMENT)
    wa = sp.Symbol("w_a", positive=True)
    L, ea, eb = _population(wa)
    gap, merged = _ratio_gap(L, ea, eb, wa)
    res.check("(ii) at e_a = e_b: grad_e_a L / w_a = grad_e_b L / w_b (generic model)", sym.is_zero(gap))
    res.check("(i) at e_a = e_b the loss is the meaning-level loss: it does not depend on w_a",
              sym.is_zero(sp.diff(merged, wa)))
    half = sp.Rational(1, 2)
    e = sp.Symbol("e", real=True)
    res.check("(iii) w_a = w_b = 1/2: equal gradients at e_a = e_b",
              sym.is_zero((sp.diff(L, ea) - sp.diff(L, eb)).subs({ea: e, eb: e, wa: half})))

    # (iv) Adam: by (ii) the gradients of e_a and e_b stay proportional (g_a = c g_b, c = w_a / w_b), so by
    # induction m_a = c m_b and v_a = c^2 v_b, and the steps m / sqrt(v) are equal: with eps = 0 Adam(W)
    # keeps e_a = e_b for any weights, where SGD's steps differ by the factor c.
    c, mb, vb, gb, b1, b2 = sp.symbols("c m_b v_b g_b beta1 beta2", positive=True)
    m_next = [b1 * m + (1 - b1) * g for m, g in ((c * mb, c * gb), (mb, gb))]
    v_next = [b2 * v + (1 - b2) * g**2 for v, g in ((c**2 * vb, c * gb), (vb, gb))]
    res.check("(iv) one Adam step keeps m_a = c m_b and v_a = c^2 v_b",
              sym.is_zero(m_next[0] - c * m_next[1]) and sym.is_zero(v_next[0] - c**2 * v_next[1]))
    res.check("(iv) Adam's steps m_a/sqrt(v_a) and m_b/sqrt(v_b) are equal (eps = 0)",
              sym.is_zero(m_next[0] / sp.sqrt(v_next[0]) - m_next[1] / sp.sqrt(v_next[1])))
    # SGD's steps are the gradients themselves: at e_a = e_b they differ wherever w_a != w_b
    at_equal = {ea: e, eb: e}
    res.control("(iv) SGD's steps -eta grad_e_a L and -eta grad_e_b L are equal at e_a = e_b (generic w_a)",
                not sym.nonzero_somewhere((sp.diff(L, ea) - sp.diff(L, eb)).subs(at_equal)))

    # Premise removed: the second surface form depends on the first (an allomorph-like rule).
    beta, gamma = sp.symbols("beta gamma", positive=True)
    ctx = {"a": {"a": beta, "b": 1 - beta}, "b": {"a": gamma, "b": 1 - gamma}}
    Lc, ea, eb = _population(wa, ctx)
    gap_c, _ = _ratio_gap(Lc, ea, eb, wa)
    res.control("(ii) with a context-dependent surface choice", not sym.nonzero_somewhere(gap_c))
    res.control("(iii) equal gradients with w_a != w_b",
                not sym.nonzero_somewhere((sp.diff(L, ea) - sp.diff(L, eb)).subs({ea: e, eb: e, wa: sp.Rational(1, 10)})))
    res.tol(symbolic="exact (sympy)")
    return res


def _grad_at_equal(s, arch: str, a: int, b: int, seed: int):
    """(relative gap of grad/w, 1 - cos) at e_b := e_a, with w the symbols' input frequencies."""
    m = lab.model(s, arch, seed=seed)
    E = lab.emb(m)
    E[m.in_row[b]] = E[m.in_row[a]]
    G = lab.emb_grad(m, m.loss_grad(s.pop)[2])
    ga, gb = G[m.in_row[a]] / lab.input_freq(s, a), G[m.in_row[b]] / lab.input_freq(s, b)
    gap = np.linalg.norm(ga - gb) / max(np.linalg.norm(ga) + np.linalg.norm(gb), 1e-300)
    return float(gap), float(1 - ga @ gb / (np.linalg.norm(ga) * np.linalg.norm(gb)))


def _keeps_equal(s, arch: str, a: int, b: int, opt: str, steps: int, seed: int) -> float:
    """Largest |e_a - e_b| (max norm) over a run of population-mode training started at e_b := e_a."""
    m = lab.model(s, arch, seed=seed)
    E = lab.emb(m)
    E[m.in_row[b]] = E[m.in_row[a]]
    o = lab.Descent(m, s.pop, opt, **OPTIMIZERS[opt])
    worst = 0.0
    for _ in range(steps // 50):
        o.run(50)
        worst = max(worst, float(np.abs(E[m.in_row[a]] - E[m.in_row[b]]).max()))
    return worst


def numeric(quick: bool = True) -> Result:
    """Parity DH: 0a/0b (weights 0.1/0.9) and 1a/1b (0.5/0.5) are SE pairs; 0a/1a is not."""
    res = Result(ID, "numeric", STATEMENT)
    bits = 3 if quick else 4
    s, allo = lab.parity(bits), lab.parity_allomorph(bits)
    archs = ("transformer", "mixer", "bilinear", "lstm")
    res.tol(optimal=OPT_TOL, ratio=EXACT_TOL, equal_rows=EQUAL_TOL, adam_unequal_weights=ADAM_TOL)
    res.number(bits=bits, steps=STEPS, optimizers=OPTIMIZERS)
    worst = {"optimal_gap": 0.0, "ratio_gap": 0.0, "equal_rows": 0.0}

    # (i) an optimal model (a mixer at the Bayes CE) stays optimal after e_b := e_a
    m, losses = lab.fitted(bits, "mixer", (), 1000 if quick else 1500)
    bayes, E = s.truth.cross_entropy(), lab.emb(m)
    res.number(**{"(i) trained mixer: loss - bayes": losses[-1] - bayes})

    def gap_after(a, b):
        P = m.P.copy()
        E[m.in_row[b]] = E[m.in_row[a]]
        gap = m.loss(s.pop)[0] - bayes
        m.P[:] = P
        return gap

    for a, b in ((0, 1), (1, 0), (2, 3), (3, 2)):
        g = gap_after(a, b)
        res.number(**{f"(i) e_{b} := e_{a}: loss - bayes": g})
        res.check(f"(i) SE pair: e_{b} := e_{a} keeps the trained mixer at the Bayes CE", g <= OPT_TOL, g)
        worst["optimal_gap"] = max(worst["optimal_gap"], g)
    for a, b in ((0, 2), (2, 0)):
        g = gap_after(a, b)
        res.number(**{f"(i) control e_{b} := e_{a}: loss - bayes": g})
        res.control(f"(i) not SE: e_{b} := e_{a} keeps the optimum", g <= OPT_TOL, g)

    # (ii) grad_e_a / w_a = grad_e_b / w_b at e_a = e_b, for any parameters, any architecture
    for arch in archs:
        for a, b in ((0, 1), (2, 3)):
            gap, _ = _grad_at_equal(s, arch, a, b, seed=0)
            res.check(f"(ii) {arch}: grad_e{a}/w = grad_e{b}/w at e_{a} = e_{b}", gap <= EXACT_TOL, gap)
            worst["ratio_gap"] = max(worst["ratio_gap"], gap)
        gap, cos = _grad_at_equal(s, arch, 0, 2, seed=0)
        res.number(**{f"(ii) {arch} not SE (0, 2): 1 - cos": cos})
        if arch != "bilinear":
            res.control(f"(ii) {arch}: gradients of a non-SE pair (0, 2) are parallel", cos <= EXACT_TOL, cos)
        # The bilinear model is no control here: its gradients see only first-order statistics, and a
        # single visible bit says nothing about a parity target, so 0a and 1a look alike to it (1 - cos ~ 1e-16).
        gap, _ = _grad_at_equal(allo, arch, 0, 1, seed=0)
        res.number(**{f"(ii) control {arch} allomorph (0, 1): gap": gap})
        res.control(f"(ii) {arch}: grad/w equal with a context-dependent surface choice", gap <= EXACT_TOL, gap)

    # (iii) w_a = w_b: SGD and AdamW keep e_a = e_b for 1000 population steps
    for arch in (("transformer",) if quick else archs):
        for opt in ("sgd", "adamw"):
            d = _keeps_equal(s, arch, 2, 3, opt, STEPS, seed=3)
            res.number(**{f"(iii) {arch} {opt}: max |e_2 - e_3|": d})
            res.check(f"(iii) {arch} {opt}: e_2 = e_3 kept for {STEPS} steps", d <= EQUAL_TOL, d)
            worst["equal_rows"] = max(worst["equal_rows"], d)
        d = _keeps_equal(s, arch, 0, 1, "sgd", STEPS, seed=3)
        res.number(**{f"(iii) control {arch} sgd w 0.1/0.9: max |e_0 - e_1|": d})
        res.control(f"(iii) {arch} sgd: e_0 = e_1 kept although w_0 != w_1", d <= EQUAL_TOL, d)
        d = _keeps_equal(s, arch, 0, 2, "adamw", STEPS, seed=3)
        res.number(**{f"(iii) {arch} adamw not SE (0, 2): max |e_0 - e_2|": d})
        if arch != "bilinear":  # see (ii): to the bilinear model 0a and 1a look SE, so Adam keeps them together
            res.control(f"(iii) {arch} adamw: e_0 = e_2 kept for a non-SE pair", d <= EQUAL_TOL, d)
        # (iv) Adam divides each coordinate by its own RMS, so proportional gradients (ii) give equal steps
        d = _keeps_equal(s, arch, 0, 1, "adamw", STEPS, seed=3)
        res.number(**{f"(iv) {arch} adamw w 0.1/0.9: max |e_0 - e_1|": d})
        res.check(f"(iv) {arch} adamw keeps e_0 = e_1 (w 0.1/0.9) up to its eps", d <= ADAM_TOL, d)
    res.number(**{f"worst_{k}": v for k, v in worst.items()})
    return res
