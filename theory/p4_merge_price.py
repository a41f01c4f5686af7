"""P4. The price of merging output rows.

If o_a = o_b and b_a = b_b, then z_a = z_b at every context, and the least
extra cross-entropy over the Bayes entropy at context x is

    (p_a + p_b) * KL(Bern(rho) || Bern(1/2)),    rho = p_a / (p_a + p_b),

attained when the pair's total mass q_a + q_b equals p_a + p_b and every other
q_s = p_s.  Its expectation over contexts is exactly the DH-violation metric
D(a, b) of the generators (``generators.truth``).  For parity DH (zero 0.1/0.9,
one 0.5/0.5) over the whole population D(0, 1) = 0.5 KL(Bern(0.1) || Bern(0.5)) ~= 0.1840 nats.

Proof: with z_a = z_b = s, CE(s, t) = logsumexp(s, s, t) - (p_a + p_b) s - sum_c p_c t_c
is convex (log-sum-exp restricted to a subspace); its stationary point has
e^s / Z = (p_a + p_b) / 2 and e^{t_c} / Z = p_c, and the excess over the entropy
simplifies to the expression above.  When p_a + p_b = 1 the infimum is the
limit s - t -> infinity.

Numeric: a model whose output rows a, b are merged (``ModelConfig(merge_out=[(a, b)])``),
trained in population mode, ends at Bayes CE + D(a, b); the unmerged model ends at Bayes CE.
Negative control: the same "ends at Bayes CE + D" check on the unmerged model fails.
"""
from __future__ import annotations

import math

import numpy as np
import sympy as sp

from . import sym
from .result import Result

ID = "P4"
END_TOL = 1e-3  # nats between the final population loss and its prediction
BOUND_TOL = 1e-9  # rounding below the lower bound
KEY_NUMBERS = ("D_01", "bayes_ce", "merged_gap", "unmerged_gap")
STATEMENT = "o_a = o_b, b_a = b_b => least extra CE at x is (p_a+p_b) KL(Bern(rho)||Bern(1/2)), rho = p_a/(p_a+p_b); its expectation is D(a,b)"


def kl_half(rho):
    """KL(Bern(rho) || Bern(1/2)) in nats (sympy or float)."""
    log = sp.log if isinstance(rho, sp.Basic) else math.log
    return sum(x * log(2 * x) for x in (rho, 1 - rho) if x != 0)


def symbolic() -> Result:
    res = Result(ID, "symbolic", STATEMENT)
    # Unnormalised positive masses keep every log argument provably positive.
    A, B, C, D = sp.symbols("A B C D", positive=True)
    s, t = sp.symbols("s t", real=True)
    N = A + B + C + D
    p = [A / N, B / N, C / N, D / N]
    P, rho = p[0] + p[1], p[0] / (p[0] + p[1])
    entropy = -sum(x * sp.log(x) for x in p)
    price = P * kl_half(rho)

    def ce(z, pv):
        return sp.log(sum(sp.exp(v) for v in z)) - sum(pi * zi for pi, zi in zip(pv, z))

    # Merged rows: logits (s, s, t, 0); the last logit is fixed since softmax ignores a shift.
    merged = ce([s, s, t, 0], p)
    sol = sp.solve([sp.diff(merged, v) for v in (s, t)], [s, t], dict=True)
    res.check("the merged CE has exactly one stationary point (s*, t*)", len(sol) == 1)
    excess = merged.subs(sol[0]) - entropy
    res.check("min over the shared logit of CE - H(p) = (p_a+p_b) KL(Bern(rho)||Bern(1/2)) (V=4)",
              sym.is_zero(sp.expand_log(excess - price, force=True)))
    hess = sp.hessian(merged, (s, t))
    res.check("the stationary point is a minimum (Hessian positive definite: convex CE)",
              sp.simplify(hess[0, 0]).is_positive is True and sp.simplify(hess.det()).is_positive is True)
    # p_a + p_b = 1 (parity): the infimum is approached as the shared logit grows.
    q = sp.Symbol("rho", positive=True)
    boundary = sp.limit(ce([s, s, 0], [q, 1 - q, 0]) + q * sp.log(q) + (1 - q) * sp.log(1 - q), s, sp.oo)
    res.check("p_a + p_b = 1: the infimum (s -> oo) of the excess is KL(Bern(rho)||Bern(1/2))",
              sym.is_zero(sp.expand_log(boundary - kl_half(q), force=True)))
    # Parity DH from the derived price: half the contexts have p_a + p_b = 1, rho = 0.1 (the limit above),
    # the other half p_a + p_b = 0 (price 0); compared with 0.1 ln 0.2 + 0.9 ln 1.8 worked out by hand.
    d_parity = sp.Rational(1, 2) * boundary.subs(q, sp.Rational(1, 10))
    by_hand = 0.5 * (0.1 * math.log(0.2) + 0.9 * math.log(1.8))
    res.number(D_parity_dh=float(d_parity))
    res.check("parity DH: D(0,1) from the derived price = 0.5 (0.1 ln 0.2 + 0.9 ln 1.8) ~= 0.1840",
              abs(float(d_parity) - by_hand) <= 1e-12, float(d_parity))

    # Premise removed (rows not merged): the free logits reach q = p, so the excess is 0,
    # which is below the claimed price whenever rho != 1/2.
    sa, sb = sp.symbols("s_a s_b", real=True)
    free = ce([sa, sb, t, 0], p)
    fsol = sp.solve([sp.diff(free, v) for v in (sa, sb, t)], [sa, sb, t], dict=True)
    free_excess = sp.simplify(sp.expand_log(free.subs(fsol[0]) - entropy, force=True))
    at = {A: 1, B: 9, C: 5, D: 5}  # rho = 0.1
    res.control("unmerged rows still pay (p_a+p_b) KL (at rho = 0.1)",
                bool(sp.N((free_excess - price).subs(at)) >= -1e-12))
    res.number(unmerged_min_excess=float(sp.N(free_excess.subs(at))), merged_price_example=float(sp.N(price.subs(at))))
    res.tol(symbolic="exact (sympy)")
    return res


def numeric(quick: bool = True) -> Result:
    """Parity DH population, a mixer (it reaches the Bayes CE; the paper-small transformer does not in
    population mode), Adam without decay, output rows of 0 and 1 merged or not."""
    from . import lab

    res = Result(ID, "numeric", STATEMENT)
    bits, steps = (3, 1000) if quick else (4, 1500)
    s = lab.parity(bits)
    bayes, D = s.truth.cross_entropy(), s.truth.dh_violation(0, 1)
    _, free = lab.fitted(bits, "mixer", (), steps)
    _, merged = lab.fitted(bits, "mixer", ((0, 1),), steps)
    res.number(bits=bits, steps=steps, bayes_ce=bayes, D_01=D, merged_final=merged[-1], unmerged_final=free[-1],
               merged_gap=merged[-1] - bayes - D, unmerged_gap=free[-1] - bayes,
               merged_min_over_run_minus_bound=float(np.min(merged) - bayes - D))
    res.tol(end=END_TOL, bound=BOUND_TOL)
    res.check("parity DH: D(0,1) = 0.5 KL(Bern(0.1)||Bern(0.5))", abs(D - 0.5 * kl_half(0.1)) <= 1e-12, D)
    res.check("merged rows end at Bayes CE + D(0,1)", abs(merged[-1] - bayes - D) <= END_TOL, merged[-1] - bayes - D)
    res.check("merged rows never go below Bayes CE + D(0,1)", np.min(merged) >= bayes + D - BOUND_TOL,
              float(np.min(merged) - bayes - D))
    res.check("unmerged rows end at Bayes CE", abs(free[-1] - bayes) <= END_TOL, free[-1] - bayes)
    res.control("unmerged rows end at Bayes CE + D(0,1)", abs(free[-1] - bayes - D) <= END_TOL,
                free[-1] - bayes - D)
    res.control("unmerged rows never go below Bayes CE + D(0,1)", np.min(free) >= bayes + D - BOUND_TOL,
                float(np.min(free) - bayes - D))
    return res
