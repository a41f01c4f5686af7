"""P2. Conditional equivalence contracts output embeddings.

If p(a|x) = p(b|x) for every context x (a and b are CE), then for untied
output rows o_a, o_b (and biases b_a, b_b, if any) of any model h(x):

  (i)   the population loss is symmetric under swapping (o_a, b_a) and (o_b, b_b);
  (ii)  equal rows receive equal gradients;
  (iii) under gradient flow with L2 decay lambda >= 0 on the rows,
        d/dt (|o_a - o_b|^2 + (b_a - b_b)^2)
            = -2 E_x[(q_a - q_b)(z_a - z_b)] - 2 lambda (|o_a - o_b|^2 + (b_a - b_b)^2)
            <= -2 lambda (|o_a - o_b|^2 + (b_a - b_b)^2),
        because (softmax(z)_a - softmax(z)_b)(z_a - z_b) >= 0 (the sign lemma).

Proof sketch: dL/do_s = E_x[(q_s - p_s) h], so with p_a = p_b the data terms
cancel in dL/do_a - dL/do_b = E_x[(q_a - q_b) h]; pairing with o_a - o_b gives
E_x[(q_a - q_b)(z_a - z_b - (b_a - b_b))], and the bias coordinate supplies the
rest.  The sign lemma: q_a - q_b = (e^{z_a} - e^{z_b}) / sum_j e^{z_j} has the sign of z_a - z_b.

A discrete gradient step of size eta on the rows therefore satisfies
|D'|^2 <= (1 - eta lambda)^2 |D|^2 + eta^2 |g_a - g_b|^2 (D = o_a - o_b, g the loss gradient):
the distance never grows by more than the second-order term.

Since the data term never pushes a CE pair apart, the pair contracts at least
as fast as weight decay alone: after n steps |D_n| <= (1 - eta lambda)^n |D_0|
up to the accumulated second-order terms (a small relative slack in the check).

Negative control: for a pair with p(a|x) != p(b|x) the same identities fail,
the step bound fails, and the pair ends far above the pure-decay distance
(its data term pushes it apart).
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from tying.models.params import D_R, EMB, OUT_BIAS

from . import lab, sym
from .result import Result

ID = "P2"
STEP_TOL = 1e-10  # rounding allowance per step, relative to max(1, |D|^2)
EXACT_TOL = 1e-12  # the same population sum in two orders
DECAY_SLACK = 0.01  # relative room above the pure-decay distance (1 - eta lambda)^n |D_0|: second-order terms
KEY_NUMBERS = ("worst_ce_step_excess", "worst_ce_over_decay", "worst_non_ce_step_excess", "best_non_ce_over_decay")
STATEMENT = "p(a|x)=p(b|x) for all x => loss symmetric in o_a<->o_b, equal rows get equal gradients, d/dt|o_a-o_b|^2 = -2E[(q_a-q_b)(z_a-z_b)] - 2 lambda |o_a-o_b|^2 <= 0"


def _sign_lemma(res: Result) -> None:
    """(q_a - q_b)(z_a - z_b) >= 0, by cases z_a - z_b = log(1+p), -log(1+p) (p > 0), or 0."""
    p = sp.Symbol("p", positive=True)
    zb, zc = sp.symbols("z_b z_c", real=True)
    za = sp.Symbol("z_a", real=True)
    S = sp.exp(za) + sp.exp(zb) + sp.exp(zc)
    q = sym.softmax([za, zb, zc])
    res.check("q_a - q_b = (e^z_a - e^z_b) / sum_j e^z_j", sym.is_zero(q[0] - q[1] - (sp.exp(za) - sp.exp(zb)) / S))
    prod = (q[0] - q[1]) * (za - zb)
    res.check("sign lemma, z_a > z_b: (q_a - q_b)(z_a - z_b) > 0",
              sp.simplify(prod.subs(za, zb + sp.log(1 + p))).is_positive is True)
    res.check("sign lemma, z_a < z_b: (q_a - q_b)(z_a - z_b) > 0",
              sp.simplify(prod.subs(za, zb - sp.log(1 + p))).is_positive is True)
    res.check("sign lemma, z_a = z_b: (q_a - q_b)(z_a - z_b) = 0", sym.is_zero(prod.subs(za, zb)))


def _population(p_rows, bias: bool):
    """Population loss over two contexts with hidden states h_x (d = 2, V = 3, symbols a=0, b=1)."""
    V, d = 3, 2
    O = sym.mat("o", V, d)
    b = sym.vec("b", V) if bias else [0] * V
    H = [sym.vec(f"h{x}_", d) for x in range(2)]
    pi = sp.symbols("pi0:2", positive=True)
    L, flow_terms = 0, 0
    for x in range(2):
        z = sym.logits(H[x], O, b)
        q = sym.softmax(z)
        L += pi[x] * sum(p_rows[x][y] * sym.ce(z, y) for y in range(V))
        flow_terms += pi[x] * (q[0] - q[1]) * (z[0] - z[1])
    return L, O, b, flow_terms


def _identities(p_rows, bias: bool):
    """(swap difference, equal-row gradient differences, gradient-flow identity residual)."""
    L, O, b, flow_terms = _population(p_rows, bias)
    d = O.shape[1]
    lam = sp.Symbol("lambda", nonnegative=True)
    rows = [O[0, k] for k in range(d)] + ([b[0]] if bias else [])
    rows_b = [O[1, k] for k in range(d)] + ([b[1]] if bias else [])
    swapped = L.subs({**dict(zip(rows, rows_b)), **dict(zip(rows_b, rows))}, simultaneous=True)
    grad_a = [sp.diff(L, v) for v in rows]
    grad_b = [sp.diff(L, v) for v in rows_b]
    equal = dict(zip(rows_b, rows))
    eq_grads = [(ga - gb).subs(equal) for ga, gb in zip(grad_a, grad_b)]
    # gradient flow with L2 decay: d theta/dt = -dL/dtheta - lambda theta
    D = [ra - rb for ra, rb in zip(rows, rows_b)]
    dDdt = [-(ga - gb) - lam * Di for ga, gb, Di in zip(grad_a, grad_b, D)]
    ddt_norm = 2 * sum(Di * di for Di, di in zip(D, dDdt))
    claim = -2 * flow_terms - 2 * lam * sum(Di**2 for Di in D)
    return L - swapped, eq_grads, ddt_norm - claim


def symbolic() -> Result:
    res = Result(ID, "symbolic", STATEMENT)
    _sign_lemma(res)
    al = sp.symbols("alpha0:2", positive=True)
    be = sp.symbols("beta0:2", positive=True)
    ce_rows = [(al[x], al[x], 1 - 2 * al[x]) for x in range(2)]  # p(a|x) = p(b|x)
    non_ce = [(al[x], be[x], 1 - al[x] - be[x]) for x in range(2)]
    for bias in (False, True):
        tag = "with bias" if bias else "no bias"
        swap, eq, flow = _identities(ce_rows, bias)
        res.check(f"(i) loss symmetric under o_a <-> o_b ({tag})", sym.is_zero(swap))
        res.check(f"(ii) equal rows get equal gradients ({tag})", sym.zero_all(eq))
        res.check(f"(iii) d/dt|D|^2 = -2E[(q_a-q_b)(z_a-z_b)] - 2 lambda |D|^2 ({tag})", sym.is_zero(flow))
        swap, eq, flow = _identities(non_ce, bias)
        res.control(f"(i) symmetry without p(a|x)=p(b|x) ({tag})", not sym.nonzero_somewhere(swap))
        res.control(f"(ii) equal gradients without p(a|x)=p(b|x) ({tag})", not any(sym.nonzero_somewhere(e) for e in eq))
        res.control(f"(iii) flow identity without p(a|x)=p(b|x) ({tag})", not sym.nonzero_somewhere(flow))
    res.tol(symbolic="exact (sympy simplify to 0; sign by sympy assumptions)")
    return res


def _out_vec(m, P_or_G) -> np.ndarray:
    """Per-symbol output vectors (o_s, b_s) of a parameter or gradient array, (V, d [+ 1])."""
    R, d = m.dims[D_R], m.cfg.d
    E = P_or_G[m.offs[EMB] : m.offs[EMB] + R * d].reshape(R, d)[m.out_row]
    if not m.cfg.output_bias:
        return E
    return np.concatenate([E, P_or_G[m.offs[OUT_BIAS] : m.offs[OUT_BIAS + 1]][m.out_row][:, None]], axis=1)


def _descent(s, arch: str, bias: bool, pairs: dict, steps: int, eta: float, lam: float, seed: int) -> dict:
    """Population GD with L2 decay; per pair the worst excess of |D'|^2 over the step bound, and the distances."""
    m = lab.model(s, arch, seed=seed, output_bias=bias)
    if bias:  # a random bias makes the bias coordinate part of the test
        m.P[m.offs[OUT_BIAS] : m.offs[OUT_BIAS + 1]] = np.random.default_rng(seed).normal(size=m.dims[D_R])
    opt = lab.Descent(m, s.pop, "sgd", lr=eta, wd=lam)
    out = {k: {"excess": -np.inf, "start": None} for k in pairs}
    O = _out_vec(m, m.P)
    for _ in range(steps):
        D = {k: O[a] - O[b] for k, (a, b) in pairs.items()}
        G = _out_vec(m, opt.step())
        O = _out_vec(m, m.P)
        for k, (a, b) in pairs.items():
            Dn, g = O[a] - O[b], G[a] - G[b]
            bound = (1 - eta * lam) ** 2 * (D[k] @ D[k]) + eta**2 * (g @ g)
            r = out[k]
            r["excess"] = max(r["excess"], (Dn @ Dn - bound) / max(1.0, D[k] @ D[k]))
            r["start"] = np.sqrt(D[k] @ D[k]) if r["start"] is None else r["start"]
            r["end"] = np.sqrt(Dn @ Dn)
    return out


def _symmetry(s, arch: str, pair, seed: int) -> tuple[float, float]:
    """(|L(swapped) - L| / L, relative gap between the gradients of two rows made equal)."""
    m = lab.model(s, arch, seed=seed)
    E, a, b = lab.emb(m), m.out_row[pair[0]], m.out_row[pair[1]]
    L = m.loss(s.pop)[0]
    E[[a, b]] = E[[b, a]]
    swap = abs(m.loss(s.pop)[0] - L) / L
    E[b] = E[a]
    G = lab.emb_grad(m, m.loss_grad(s.pop)[2])
    return swap, float(np.linalg.norm(G[a] - G[b]) / max(np.linalg.norm(G[a]) + np.linalg.norm(G[b]), 1e-300))


def numeric(quick: bool = True) -> Result:
    """Parity DH: symbols 2, 3 (bit 1, weights 0.5/0.5) are CE; 0, 1 (bit 0, 0.1/0.9) are not."""
    res = Result(ID, "numeric", STATEMENT)
    s = lab.parity(3 if quick else 4)
    archs = ("transformer",) if quick else ("transformer", "mixer", "bilinear", "lstm")
    steps, eta, lam = (500, 0.5, 0.01) if quick else (2000, 0.5, 0.01)
    pairs = {"ce": (2, 3), "non_ce": (0, 1)}
    res.tol(step_excess=STEP_TOL, symmetry=EXACT_TOL, over_decay=1 + DECAY_SLACK)
    res.number(eta=eta, weight_decay=lam, steps=steps, bits=3 if quick else 4, pure_decay=(1 - eta * lam) ** steps)
    worst = {"ce_excess": -np.inf, "ce_ratio": 0.0, "non_ce_excess": np.inf, "non_ce_ratio": np.inf}
    for arch in archs:
        swap, gap = _symmetry(s, arch, pairs["ce"], seed=0)
        swap_c, gap_c = _symmetry(s, arch, pairs["non_ce"], seed=0)
        res.check(f"(i) {arch}: loss unchanged by swapping the CE pair's output rows", swap <= EXACT_TOL, swap)
        res.check(f"(ii) {arch}: equal CE rows get equal gradients", gap <= EXACT_TOL, gap)
        res.control(f"(i) {arch}: swapping a non-CE pair", swap_c <= EXACT_TOL, swap_c)
        res.control(f"(ii) {arch}: equal non-CE rows", gap_c <= EXACT_TOL, gap_c)
        for bias in ((False, True) if not quick or arch == "transformer" else (False,)):
            tag = f"{arch}{' +bias' if bias else ''}"
            r = _descent(s, arch, bias, pairs, steps, eta, lam, seed=1)
            ce, nc = r["ce"], r["non_ce"]
            # the distance relative to weight decay alone: <= 1 when the data term never pushes the pair apart
            over = {k: v["end"] / ((1 - eta * lam) ** steps * v["start"]) for k, v in r.items()}
            res.number(**{f"{tag}: {k} {q}": v[q] for k, v in r.items() for q in ("excess", "start", "end")},
                       **{f"{tag}: {k} over_decay": v for k, v in over.items()})
            res.check(f"(iii) {tag}: |D'|^2 <= (1 - eta lam)^2 |D|^2 + eta^2 |g_a - g_b|^2 at every step (CE pair)",
                      ce["excess"] <= STEP_TOL, ce["excess"])
            res.check(f"(iii) {tag}: the CE pair contracts at least as fast as decay alone: "
                      f"|D_n| <= (1 - eta lam)^n |D_0| (1 + {DECAY_SLACK})", over["ce"] <= 1 + DECAY_SLACK, over["ce"])
            res.control(f"(iii) {tag}: the step bound for the non-CE pair", nc["excess"] <= STEP_TOL, nc["excess"])
            res.control(f"(iii) {tag}: the non-CE pair contracts at least as fast as decay alone",
                        over["non_ce"] <= 1 + DECAY_SLACK, over["non_ce"])
            worst["ce_excess"] = max(worst["ce_excess"], ce["excess"])
            worst["ce_ratio"] = max(worst["ce_ratio"], over["ce"])
            worst["non_ce_excess"] = min(worst["non_ce_excess"], nc["excess"])
            worst["non_ce_ratio"] = min(worst["non_ce_ratio"], over["non_ce"])
    res.number(worst_ce_step_excess=worst["ce_excess"], worst_ce_over_decay=worst["ce_ratio"],
               worst_non_ce_step_excess=worst["non_ce_excess"], best_non_ce_over_decay=worst["non_ce_ratio"])
    return res
