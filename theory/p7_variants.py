"""P7. An SE-but-not-CE pair under the tying variants: input pull, output push, a compromise set by alpha and k.

Let a, b be SE but not CE: one meaning m written a with probability p and b
with 1 - p (p != 1/2), in the input as in the target.  A tied row then serves
two roles, and the variants of issue #16 weigh them: the table receives
alpha g_in + g_out (``input_grad_scale``), or only k of the d columns are shared
(``tied_dims``).  Write u = e_a - e_b.

(1) The input role pulls the pair together: for a model whose h is linear in
    the input rows and whose loss is convex in h (the bilinear model),
    <g_in_a / w_a - g_in_b / w_b, u> >= 0, w the input frequencies (convex
    functions have monotone gradients; P5 (ii) is the case u = 0).
(2) The output role pushes them apart: alone it settles where the pair's
    ratio is fitted, <h, o_a - o_b> = log r, so |o_a - o_b| >= P3's bound.
(3) The tied table settles where alpha g_in + g_out = 0 (for alpha != 1 not a
    stationary point of the loss), strictly between merged rows and P3's
    separation, and the pair's distance there falls as alpha grows; with
    k < d shared columns the output role keeps private columns and fits the
    ratio again.

Symbolic (exact, for a minimal tied bilinear population; d = 1, every other
row frozen): an output context with h = 1 whose target is a (p) or b (1 - p),
and an input context whose only context token is m (read as e_a or e_b) and
whose target is t (pi, logit h) or t' (1 - pi, logit 0).  With masses beta,
gamma: L = beta [lse(e_a, e_b) - p e_a - (1-p) e_b] + gamma E_m[lse(h, 0) - pi h].
sympy proves (1) and (2) as sign identities, and (3) in closed form: the fixed
points are e_a = logit(pi + s/p), e_b = logit(pi - s/(1-p)) with
alpha(s) = beta (p - sigma(u(s))) / (gamma s), u(s) increasing and alpha(s)
decreasing, so u(alpha) falls from log r (alpha -> 0) to 0 (alpha -> oo).
Assumptions: exactly this population; p > 1/2 (else swap a and b); alpha > 0.

Numeric: parity DH (3 bits, MLM; 0a/0b split 0.1/0.9), the bilinear model in
population mode (Adam, lr 1e-2, no decay): alpha in ALPHAS at k = d, and
k in {0, d/2} at alpha = 1.  Controls: the SE-and-CE pair 1a/1b of the same
runs (P3's bound is 0, no ordering, nothing to misfit), alpha on an untied table,
and the output role in place of the input role in (1).
"""
from __future__ import annotations

import mpmath as mp
import numpy as np
import sympy as sp

from . import lab, sym
from .p3_separation import separation_bound
from .result import Result

ID = "P7"
ALPHAS = (0.25, 1.0, 4.0, 16.0)
STEP = 0.05  # each larger alpha must bring the pair at least 5% closer
FIT_TOL = 1e-2  # nats: max_x |z_a - z_b - log r(x)| of a model that fits the pair's ratio
MISFIT = 5e-2  # nats: the fully tied compromise misses the ratio by at least this much
FIT = 0.1  # output rows stand at least (1 - FIT) times P3's bound apart, as in P3
ARCHS = ("bilinear",)  # the claims need h linear in the input rows and a loss convex in h (docs/theory.md)
PAIR, CE_PAIR = (0, 1), (2, 3)  # parity DH: 0a/0b SE, not CE; 1a/1b SE and CE
KEY_NUMBERS = ("distance by alpha", "control distance by alpha", "untied: distance / P3 bound", "tied misfit")
STATEMENT = ("a, b SE not CE, tied: the input role pulls e_a, e_b together, the output role pushes them to P3's "
             "bound; the table settles where alpha g_in + g_out = 0, closer as alpha grows; k < d shared columns refit")


# ------------------------------------------------------------------------------------------- symbolic
def _fixed_distance(p, pi, alpha, beta=1, gamma=1, digits=40) -> float:
    """u at the fixed point of the minimal model, by bisection on s in (0, s_max) (F is increasing there)."""
    with mp.workdps(digits):
        p, pi, alpha, beta, gamma = (mp.mpf(x) for x in (p, pi, alpha, beta, gamma))
        lg = lambda y: mp.log(y / (1 - y))  # noqa: E731
        phi = lambda s: lg(pi + s / p) - lg(pi - s / (1 - p))  # noqa: E731
        F = lambda s: alpha * gamma * s - beta * (p - 1 / (1 + mp.exp(-phi(s))))  # noqa: E731
        lo, hi = mp.mpf(0), min(p * (1 - pi), (1 - p) * pi)
        for _ in range(3 * digits + 20):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if F(mid) < 0 else (lo, mid)
        return float(phi((lo + hi) / 2))


def _between(us, log_r) -> bool:
    """log r > u_1 > u_2 > ... > 0: the fixed-point distances fall strictly as alpha grows, inside P3's bound."""
    return bool(log_r > us[0] and all(v > w for v, w in zip(us, us[1:])) and us[-1] > 0)


def symbolic() -> Result:
    res = Result(ID, "symbolic", STATEMENT)
    ea, eb, s = sp.symbols("e_a e_b s", real=True)
    # X = e^e_a, Y = e^e_b turn every logit and sigmoid into a rational function, which cancel() decides quickly
    X, Y, p, pi, alpha, beta, gamma, t = sp.symbols("X Y p pi alpha beta gamma t", positive=True)
    lse = lambda *z: sp.log(sum(sp.exp(v) for v in z))  # noqa: E731
    ell = lambda h: lse(h, 0) - pi * h  # noqa: E731
    L_out = beta * (lse(ea, eb) - p * ea - (1 - p) * eb)
    L_in = gamma * (p * ell(ea) + (1 - p) * ell(eb))
    exps = {ea: sp.log(X), eb: sp.log(Y)}
    g_out = [sp.diff(L_out, v).subs(exps) for v in (ea, eb)]
    g_in = [sp.diff(L_in, v).subs(exps) for v in (ea, eb)]
    sig_a, sig_b, sig_u, r = X / (1 + X), Y / (1 + Y), X / (X + Y), p / (1 - p)

    res.check("sign lemma: sigma(e_a) - sigma(e_b) = (e^e_a - e^e_b) / ((1 + e^e_a)(1 + e^e_b)), the sign of u",
              sym.is_zero(sig_a - sig_b - (X - Y) / ((1 + X) * (1 + Y))))
    # (1) input role
    res.check("(1) g_in_a / p - g_in_b / (1-p) = gamma (sigma(e_a) - sigma(e_b)), so <., u> >= 0: a pull",
              sym.is_zero(g_in[0] / p - g_in[1] / (1 - p) - gamma * (sig_a - sig_b)))
    res.check("(1) the input role alone rests at merged rows e_a = e_b = logit(pi)",
              all(sym.is_zero(g.subs({X: pi / (1 - pi), Y: pi / (1 - pi)})) for g in g_in))
    # (2) output role
    res.check("(2) g_out_a = -g_out_b = beta (sigma(u) - p): the output role sees only u",
              sym.is_zero(g_out[0] + g_out[1]) and sym.is_zero(g_out[0] - beta * (sig_u - p)))
    res.check("(2) sigma(u) - p = (e^u - r) / ((1 + e^u)(1 + r)), r = p/(1-p): the sign of u - log r, so the "
              "output role alone rests only at u = log r (P3's bound log r / |h|, |h| = 1) and "
              "<g_out_a - g_out_b, u> = 2 beta (sigma(u) - p) u < 0 for 0 < u < log r: a push",
              sym.is_zero(sig_u - p - (X / Y - r) / ((1 + X / Y) * (1 + r))) and sym.is_zero(g_out[0].subs(X, r * Y)))
    # (3) the alpha-scaled field: its zeros, parametrised by s
    field = [alpha * gi + go for gi, go in zip(g_in, g_out)]
    S = beta * (p - sig_u) / (alpha * gamma)
    res.check("(3) with s := beta (p - sigma(u)) / (alpha gamma): field_a = alpha gamma p (sigma(e_a) - pi - s/p) "
              "and field_b = alpha gamma (1-p) (sigma(e_b) - pi + s/(1-p)), so the fixed points are exactly "
              "e_a = logit(pi + s/p), e_b = logit(pi - s/(1-p)), alpha = beta (p - sigma(u(s))) / (gamma s)",
              sym.is_zero(field[0] - alpha * gamma * p * (sig_a - pi - S / p))
              and sym.is_zero(field[1] - alpha * gamma * (1 - p) * (sig_b - pi + S / (1 - p))))
    ya, yb = pi + s / p, pi - s / (1 - p)
    u_s = sp.log(ya / (1 - ya)) - sp.log(yb / (1 - yb))
    dphi = 1 / (p * ya * (1 - ya)) + 1 / ((1 - p) * yb * (1 - yb))
    res.check("(3) du/ds = 1/(p y_a (1-y_a)) + 1/((1-p) y_b (1-y_b)) > 0 (each y in (0, 1): y (1-y) = t/(1+t)^2)",
              sym.is_zero(sp.diff(u_s, s) - dphi) and (t / (1 + t) ** 2).is_positive is True)
    # So N(s) = p - sigma(u(s)) falls (sigma and u(s) rise), from N(0) = p - 1/2 > 0 to 0 at u = log r; on that
    # interval alpha(s) = (beta/gamma) N(s)/s falls from +oo to 0 (a positive falling N over a rising s), and
    # s < 0 would need N < 0 with u < 0 < log r: impossible.  Hence u(alpha) falls from log r to 0.
    res.check("(3) u(0) = 0 and N(0) = p - 1/2: alpha(s) -> +oo as s -> 0+ when p > 1/2",
              u_s.subs(s, 0) == 0 and sym.is_zero((p - sig_u).subs({X: pi / (1 - pi), Y: pi / (1 - pi)}) - (p - sp.S.Half)))
    # an instance, solved to 40 digits: p = 0.9 (r = 9), pi = 1/3, beta = gamma = 1
    us = [_fixed_distance(0.9, 1 / 3, a) for a in ALPHAS]
    res.number(**{"instance p=0.9: u by alpha": us, "instance log r": float(np.log(9))})
    res.check("(3) instance p = 0.9: log 9 > u(0.25) > u(1) > u(4) > u(16) > 0", _between(us, np.log(9)), us)
    # controls: the premise removed
    half = [_fixed_distance(0.5, 1 / 3, a) for a in ALPHAS]
    res.number(**{"control p=0.5: u by alpha": half})
    res.control("p = 1/2 (SE and CE): the output role alone holds the rows apart (log r != 0)",
                sp.log(r).subs(p, sp.S.Half) != 0)
    res.control("p = 1/2: log r > u(0.25) > u(1) > u(4) > u(16) > 0", _between(half, np.log(1)), half)
    oa, ob = sp.symbols("o_a o_b", real=True)  # untied: alpha scales only the input rows' gradient
    rest = sp.solve(sp.Eq(sp.diff(L_out.subs({ea: oa, eb: ob}), oa), 0), oa)
    res.control("untied rows: the output rows' rest point o_a - o_b moves with alpha",
                len(rest) != 1 or sp.diff(rest[0] - ob, alpha) != 0, str(rest))
    res.tol(symbolic="exact (sympy); the instance by 40-digit bisection")
    return res


# -------------------------------------------------------------------------------------------- numeric
def _train(s, arch: str, seed: int, steps: int, **variant):
    m = lab.model(s, arch, seed=seed, tied=True, **variant)
    lab.Descent(m, s.pop, "adam", lr=1e-2).run(steps)
    return m


def _pair(s, m, a: int, b: int) -> dict:
    """The pair's geometry against the data's exact ratio r(x), over the contexts where a or b is possible."""
    _, pa, pb, _ = lab.pair_conditionals(s, a, b)
    k = pa + pb > 0
    log_r = np.log(pa[k] / pb[k])
    h, z, _ = lab.head(m, s.pop)
    return {"out": float(np.linalg.norm(m.E_out()[a] - m.E_out()[b])),
            "in": float(np.linalg.norm(m.E_in()[a] - m.E_in()[b])),
            "bound": separation_bound(log_r, h[k]), "misfit": float(np.max(np.abs(z[k, a] - z[k, b] - log_r)))}


def _forces(s, m, a: int, b: int) -> dict:
    """<g_a - g_b, e_a - e_b> of each role on the shared table: G(alpha=0) is the output role's gradient,
    G(alpha=1) - G(alpha=0) the input role's (the table receives alpha g_in + g_out, linear in alpha)."""
    G = {}
    for alpha in (0.0, 1.0):
        twin = lab.model(s, m.cfg.arch, tied=True, input_grad_scale=alpha)
        twin.P[:] = m.P
        G[alpha] = lab.emb_grad(twin, twin.loss_grad(s.pop)[2])
    g_out, g_in, E = G[0.0], G[1.0] - G[0.0], lab.emb(m)
    u, wa, wb = E[a] - E[b], lab.input_freq(s, a), lab.input_freq(s, b)
    return {"pull": float((g_in[a] / wa - g_in[b] / wb) @ u), "push": float((g_out[a] - g_out[b]) @ u),
            "output pull": float((g_out[a] / wa - g_out[b] / wb) @ u)}


def _falls(ds) -> bool:
    """Each larger alpha brings the pair at least STEP closer."""
    return all(w <= (1 - STEP) * v for v, w in zip(ds, ds[1:]))


def _checks(res: Result, tag: str, g: dict, add) -> None:
    """The claims for one pair (g: its measurements); add is res.check, or res.control for the CE pair.
    (1) needs only SE, so it is checked on both pairs: the CE pair is pulled too."""
    tied, free = g["alpha"], g["k"]
    res.check(f"{tag}(1) input role pulls at every alpha: <g_in_a/w_a - g_in_b/w_b, u> > 0",
              all(f["pull"] > 0 for f in g["forces"]), [f["pull"] for f in g["forces"]])
    # The output role's raw push <g_out_a - g_out_b, u> is reported, not checked: at the trained compromise the
    # mean log-ratio is fitted (within 0.3%) and the misfit is a spread over contexts, so its sign is not forced
    # (it is positive at alpha = 4 in seeds 3 and 4 of the full run); the sign is proved for the minimal model.
    add(f"{tag}(2) k < d: the ratio is fitted (within {FIT_TOL}) and the output rows stand >= {1 - FIT} x P3's "
        "bound > 0 apart", all(x["misfit"] <= FIT_TOL and x["bound"] > 0 and x["out"] >= (1 - FIT) * x["bound"]
                               for x in free.values()),
        {k: x["out"] / x["bound"] if x["bound"] > 0 else float("inf") for k, x in free.items()})
    add(f"{tag}(3) k = d: a compromise: misses the ratio by >= {MISFIT} and stands closer than every k < d",
        tied[1.0]["misfit"] >= MISFIT and all(tied[1.0]["out"] < x["out"] for x in free.values()),
        tied[1.0]["misfit"])
    add(f"{tag}(3) k = d: the distance falls by >= {STEP:.0%} with each larger alpha",
        _falls([tied[a]["out"] for a in ALPHAS]), [tied[a]["out"] for a in ALPHAS])


def numeric(quick: bool = True) -> Result:
    res = Result(ID, "numeric", STATEMENT)
    # at 3000 steps seeds 3 and 4 still miss the ratio by 0.016-0.018 at k = d/2
    bits, steps = 3, (3000 if quick else 6000)
    seeds = (0,) if quick else (0, 1, 2, 3, 4)
    s = lab.parity(bits)
    t = s.truth
    res.number(bits=bits, steps=steps, seeds=list(seeds), alphas=list(ALPHAS),
               D_pair=t.dh_violation(*PAIR), D_control=t.dh_violation(*CE_PAIR))
    res.tol(step=STEP, fit=FIT_TOL, misfit=MISFIT, bound_fraction=1 - FIT)
    res.check("the pair is SE and not CE, the control pair SE and CE (generators.truth)",
              t.semantic_equivalent(*PAIR)[0] is True and not t.conditional_equivalent(*PAIR)
              and t.semantic_equivalent(*CE_PAIR)[0] is True and t.conditional_equivalent(*CE_PAIR))
    for arch in ARCHS:
        for seed in seeds:
            tag = f"{arch} seed {seed}: "
            d = lab.model(s, arch).cfg.d
            runs = {("alpha", a): _train(s, arch, seed, steps, input_grad_scale=a) for a in ALPHAS}
            runs.update({("k", k): _train(s, arch, seed, steps, tied_dims=k) for k in (0, d // 2)})
            untied = {a: _train(s, arch, seed, steps, tied_dims=0, input_grad_scale=a) for a in ALPHAS[::3]}
            for (a, b), add, name in ((PAIR, res.check, "pair"), (CE_PAIR, res.control, "control")):
                g = {"alpha": {x: _pair(s, runs["alpha", x], a, b) for x in ALPHAS},
                     "k": {k: _pair(s, runs["k", k], a, b) for k in (0, d // 2)},
                     "forces": [_forces(s, runs["alpha", x], a, b) for x in ALPHAS]}
                _checks(res, tag + ("" if name == "pair" else "SE&CE control "), g, add)
                if name == "pair":
                    forces = g["forces"]
                res.number(**{f"{tag}{name} distance by alpha": [g["alpha"][x]["out"] for x in ALPHAS],
                              f"{tag}{name} misfit by alpha": [g["alpha"][x]["misfit"] for x in ALPHAS],
                              f"{tag}{name} by k": {k: g["k"][k] for k in g["k"]},
                              f"{tag}{name} forces": g["forces"]})
            pulls = [f["output pull"] for f in forces]
            res.control(f"{tag}(1) is the input role's: the output role pulls the pair too, "
                        "<g_out_a/w_a - g_out_b/w_b, u> > 0 at every alpha", all(v > 0 for v in pulls), pulls)
            ds = [_pair(s, untied[x], *PAIR)["out"] for x in ALPHAS[::3]]
            res.number(**{f"{tag}untied output distance at alpha 0.25, 16": ds})
            res.control(f"{tag}untied (k = 0): the output rows' distance falls by >= {STEP:.0%} from alpha 0.25 "
                        "to 16", _falls(ds), ds)
    first = f"{ARCHS[0]} seed {seeds[0]}: "
    short = lambda xs: [round(x, 4) for x in xs]  # noqa: E731  (the key numbers are printed in the table)
    res.number(**{"distance by alpha": short(res.numbers[first + "pair distance by alpha"]),
                  "control distance by alpha": short(res.numbers[first + "control distance by alpha"]),
                  "tied misfit": res.numbers[first + "pair misfit by alpha"][1],
                  "untied: distance / P3 bound": next(c["value"] for c in res.checks if "k < d" in c["name"])["0"]})
    return res
