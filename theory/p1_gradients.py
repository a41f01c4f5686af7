"""P1. Softmax cross-entropy gradients.

With z_s = <h, o_s> + b_s, q = softmax(z) and l = logsumexp(z) - z_y:

    dl/dz   = q - onehot(y)
    dl/do_s = (q_s - [y = s]) h
    dl/dh   = E_out^T (q - onehot(y))
    dl/db   = q - onehot(y)

With tied tables (E_in = E_out = E) the gradient of E is the input-role part
plus the output-role part: dL/dE = dL/dE_in + dL/dE_out evaluated at E_in = E_out = E.

Symbolic: the derivatives of the symbolic loss (V = 3, d = 2, with and without
bias, every target) minus the closed forms simplify to 0; the tied gradient
of a CBOW model minus (input part + output part) simplifies to 0.
Numeric: the numba backward pass of every architecture against central
finite differences of the loss, the head closed form against the output-row
and bias gradients, and tied = input part + output part on real models.
Negative control: the tied gradient without its output-role part, and a
closed form built from the wrong probabilities (onehot instead of q), fail.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import sympy as sp

from tying.generators import Examples
from tying.models import ARCHS, OBJECTIVES, ModelConfig, Model
from tying.models.params import D_R

from . import lab, sym
from .result import Result

ID = "P1"
FD_TOL = 1e-6  # central differences, norm-wise relative error
EXACT_TOL = 1e-10  # two float64 computations of the same sum
KEY_NUMBERS = ("max_rel_err_fd", "max_rel_err_tied_sum", "control_rel_err_tied_input_only")
STATEMENT = "dl/dz = q - onehot(y), dl/do_s = (q_s - [y=s]) h, dl/dh = E_out^T (q - onehot), dl/db = q - onehot; tied grad = input part + output part"


def symbolic() -> Result:
    res = Result(ID, "symbolic", STATEMENT)
    V, d = 3, 2
    h = sym.vec("h", d)
    O = sym.mat("o", V, d)
    for bias in (False, True):
        b = sym.vec("b", V) if bias else None
        z = sym.logits(h, O, b)
        q = sym.softmax(z)
        zs = sym.vec("z", V)
        qs = sym.softmax(zs)
        tag = "with bias" if bias else "no bias"
        for y in range(V):
            l = sym.ce(z, y)
            r = [qs[s] - (1 if s == y else 0) for s in range(V)]
            res.check(f"dl/dz = q - onehot ({tag}, y={y})",
                      sym.zero_all(sp.diff(sym.ce(zs, y), zs[s]) - r[s] for s in range(V)))
            r = [q[s] - (1 if s == y else 0) for s in range(V)]
            res.check(f"dl/do_s = (q_s - [y=s]) h ({tag}, y={y})",
                      sym.zero_all(sp.diff(l, O[s, k]) - r[s] * h[k] for s in range(V) for k in range(d)))
            res.check(f"dl/dh = E_out^T (q - onehot) ({tag}, y={y})",
                      sym.zero_all(sp.diff(l, h[k]) - sum(O[s, k] * r[s] for s in range(V)) for k in range(d)))
            if bias:
                res.check(f"dl/db = q - onehot (y={y})", sym.zero_all(sp.diff(l, b[s]) - r[s] for s in range(V)))

    # Tying: a CBOW model whose context holds the target's own symbol, so row 0 plays both roles.
    Ein, Eout, E = sym.mat("i", V, d), sym.mat("u", V, d), sym.mat("e", V, d)
    ctx, y = (0, 1), 0

    def loss(A, B):
        h = [sum(A[c, k] for c in ctx) / len(ctx) for k in range(d)]
        return sym.ce(sym.logits(h, B), y)

    tie = {**{Ein[s, k]: E[s, k] for s in range(V) for k in range(d)},
           **{Eout[s, k]: E[s, k] for s in range(V) for k in range(d)}}
    untied, tied = loss(Ein, Eout), loss(E, E)
    parts_in = [sp.diff(untied, Ein[s, k]).subs(tie) for s in range(V) for k in range(d)]
    parts_out = [sp.diff(untied, Eout[s, k]).subs(tie) for s in range(V) for k in range(d)]
    g_tied = [sp.diff(tied, E[s, k]) for s in range(V) for k in range(d)]
    res.check("tied dL/dE = dL/dE_in + dL/dE_out (CBOW, V=3, d=2)",
              sym.zero_all(g - a - c for g, a, c in zip(g_tied, parts_in, parts_out)))
    # Premise removed: dropping the output role must leave a nonzero remainder on the target's row.
    res.control("tied dL/dE = dL/dE_in alone", not any(sym.nonzero_somewhere(g - a) for g, a in zip(g_tied, parts_in)))
    res.tol(symbolic="exact (sympy simplify to 0)")
    return res


def _batch(V: int, T: int, B: int, causal: bool, rng) -> Examples:
    """A random padded batch (variable lengths), one masked target per row (MLM) or every next token (causal)."""
    lengths = rng.integers(2, T + 1, B).astype(np.int32)
    tokens = np.zeros((1, B, T), np.int32)
    seq, pos, tgt = [], [], []
    for b, L in enumerate(lengths):
        tokens[0, b, :L] = rng.integers(0, V - 1, L)
        if causal:
            for t in range(L - 1):
                seq.append(b), pos.append(t), tgt.append(tokens[0, b, t + 1])
        else:
            t = rng.integers(0, L)
            seq.append(b), pos.append(t), tgt.append(tokens[0, b, t])
            tokens[0, b, t] = V - 1  # the mask symbol
    w = rng.random(len(seq)) + 0.1
    return Examples(tokens, lengths[None], np.array([0, len(seq)], np.int64), np.array(seq, np.int32),
                    np.array(pos, np.int32), np.array(tgt, np.int32), w / w.sum())


def _fd(m: Model, ex: Examples, eps: float = 1e-6) -> np.ndarray:
    P, g = m.P, np.empty_like(m.P)
    for i in range(P.size):
        x = P[i]
        P[i] = x + eps
        up = m.loss(ex)[0]
        P[i] = x - eps
        down = m.loss(ex)[0]
        P[i] = x
        g[i] = (up - down) / (2 * eps)
    return g


def _rel(a, b) -> float:
    """Norm-wise relative error |a - b| / (|a| + |b|), the gradient-check standard."""
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))


def _untied_twin(m: Model) -> Model:
    """An untied model whose input and output rows hold the tied model's values."""
    cfg = dataclasses.replace(m.cfg, tied=False)
    u = Model(cfg, seed=0)
    V, src, dst = cfg.vocab_size, m.views(), u.views()
    for name, a in src.items():
        if name == "emb":
            dst[name][:V], dst[name][V:] = a, a
        elif name == "out_bias":
            dst[name][V:] = a
        else:
            dst[name][...] = a
    return u


def _closed_form_out(m: Model, ex: Examples, onehot: bool = True):
    """Output-row and bias gradients from dl/dz = q - onehot(y) scattered through out_row."""
    h, _, q = lab.head(m, ex)
    dz = q.copy()
    if onehot:
        dz[np.arange(len(dz)), ex.tgt_sym] -= 1.0
    dz *= ex.tgt_w[:, None]
    R = m.dims[D_R]
    gE, gb = np.zeros((R, m.cfg.d)), np.zeros(R)
    np.add.at(gE, m.out_row, dz.T @ h)
    np.add.at(gb, m.out_row, dz.sum(0))
    return gE, gb


def numeric(quick: bool = True) -> Result:
    """Every architecture x objective x tied/untied x bias (x merged rows), on random padded batches."""
    res = Result(ID, "numeric", STATEMENT)
    rng = np.random.default_rng(1)
    V, T, B = 6, 5, 3  # every combination is cheap, so quick and full runs check the same set
    worst = {"fd": 0.0, "closed_form": 0.0, "tied_sum": 0.0, "loss_from_h": 0.0}
    controls = {"tied_input_only": np.inf, "closed_form_no_onehot": np.inf}
    checked = {}
    for arch in ARCHS:
        combos = [(o, t, b, mg) for o in OBJECTIVES for t in (False, True) for b in (False, True)
                  for mg in ((), ((0, 1),))]
        for objective, tied, bias, merge in combos:
            # a causal mixer mixes tokens through a lower-triangular T x T map
            extra = {"token_ff": T} if arch == "mixer" and objective == "causal" else {}
            cfg = ModelConfig(arch=arch, tied=tied, output_bias=bias, merge_out=list(merge), positional=True, **extra)
            cfg = cfg.fit(V, T, objective)
            m = Model(cfg, seed=int(rng.integers(1 << 30)))
            ex = _batch(V, T, B, objective == "causal", rng)
            checked[arch] = checked.get(arch, 0) + 1
            loss, _, G = m.loss_grad(ex)
            worst["loss_from_h"] = max(worst["loss_from_h"], abs(loss - lab.fit_loss(m, ex)))
            worst["fd"] = max(worst["fd"], _rel(G, _fd(m, ex)))
            gE, gb = _closed_form_out(m, ex)
            if not tied:  # untied: the output rows carry the output role only
                V_ = cfg.vocab_size
                worst["closed_form"] = max(worst["closed_form"], _rel(lab.emb_grad(m, G)[V_:], gE[V_:]))
                if bias:
                    worst["closed_form"] = max(worst["closed_form"], _rel(lab.bias_grad(m, G), gb))
                gE0, _ = _closed_form_out(m, ex, onehot=False)
                controls["closed_form_no_onehot"] = min(controls["closed_form_no_onehot"],
                                                        _rel(lab.emb_grad(m, G)[V_:], gE0[V_:]))
            elif not merge:
                u = _untied_twin(m)
                _, _, Gu = u.loss_grad(ex)
                Eu, V_ = lab.emb_grad(u, Gu), cfg.vocab_size
                worst["tied_sum"] = max(worst["tied_sum"], _rel(lab.emb_grad(m, G), Eu[:V_] + Eu[V_:]))
                controls["tied_input_only"] = min(controls["tied_input_only"], _rel(lab.emb_grad(m, G), Eu[:V_]))
    # Whole populations (hundreds of rows, several kernel chunks): the kernel's loss and output-row gradient
    # against the head recomputed from hidden(), which runs the forward pass by a separate entry point.
    from .p6_quadrants import quadrant_corpus

    for s in (lab.parity(3), quadrant_corpus()):
        for arch in ARCHS:
            extra = {"token_ff": s.corpus.max_len} if arch == "mixer" and s.corpus.task == "causal" else {}
            m = lab.model(s, arch, seed=7, **extra)
            loss, _, G = m.loss_grad(s.pop)
            worst["population_loss_from_h"] = max(worst.get("population_loss_from_h", 0.0),
                                                  abs(loss - lab.fit_loss(m, s.pop)) / loss)
            gE, _ = _closed_form_out(m, s.pop)
            V_ = m.cfg.vocab_size
            worst["closed_form"] = max(worst["closed_form"], _rel(lab.emb_grad(m, G)[V_:], gE[V_:]))
    # the registry (models.archs) is the list of architectures; this guards the combinations, not the list
    res.check(f"every architecture ({', '.join(ARCHS)}) ran all 16 combinations",
              set(checked) == set(ARCHS) and all(n == 16 for n in checked.values()), checked)
    res.check("population batches: kernel loss = loss recomputed from hidden()",
              worst["population_loss_from_h"] <= EXACT_TOL, worst["population_loss_from_h"])
    res.number(**{f"max_rel_err_{k}": v for k, v in worst.items()}, checked=checked,
               **{f"control_rel_err_{k}": v for k, v in controls.items()})
    res.tol(fd=FD_TOL, closed_form=EXACT_TOL, tied_sum=EXACT_TOL, loss_from_h=EXACT_TOL,
            population_loss_from_h=EXACT_TOL)
    res.check("backward = central finite differences (every arch x objective x tied x bias x merge)",
              worst["fd"] <= FD_TOL, worst["fd"])
    res.check("the loss recomputed from h, E_out, b matches the kernel", worst["loss_from_h"] <= EXACT_TOL,
              worst["loss_from_h"])
    res.check("output-row and bias gradients = sum_n w_n (q - onehot) h_n", worst["closed_form"] <= EXACT_TOL,
              worst["closed_form"])
    res.check("tied gradient = input-role part + output-role part", worst["tied_sum"] <= EXACT_TOL, worst["tied_sum"])
    res.control("tied gradient = input-role part alone", controls["tied_input_only"] <= FD_TOL,
                controls["tied_input_only"])
    res.control("output-row gradient = sum_n w_n q h_n (the onehot dropped)",
                controls["closed_form_no_onehot"] <= FD_TOL, controls["closed_form_no_onehot"])
    return res
