"""Optimizers and schedules against torch's update equations, written out independently here."""
import math

import numpy as np
import pytest

from tying.models.optim_kernels import CONSTANT, COSINE, adam_step, lr_at, sgd_step


# ---------------------------------------------------------------- references (torch docs' pseudo-code)
def ref_sgd(p, grads, lr, momentum, wd):
    p, buf = p.copy(), None
    for g in grads:
        g = g + wd * p
        if momentum:
            buf = g.copy() if buf is None else momentum * buf + g
            g = buf
        p = p - lr * g
    return p


def ref_adam(p, grads, lrs, b1, b2, eps, wd, decoupled):
    p, m, v = p.copy(), np.zeros_like(p), np.zeros_like(p)
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        if decoupled:
            p = p - lr * wd * p
        else:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


def run_sgd(p, grads, lr, momentum, wd, dtype=np.float64):
    P, buf = p.astype(dtype), np.zeros(len(p), dtype)
    for t, g in enumerate(grads):
        sgd_step(P, g.astype(dtype), buf, t, lr, momentum, wd)
    return P


def run_adam(p, grads, lrs, b1, b2, eps, wd, decoupled, dtype=np.float64):
    P, m, v = p.astype(dtype), np.zeros(len(p), dtype), np.zeros(len(p), dtype)
    for t, (g, lr) in enumerate(zip(grads, lrs)):
        adam_step(P, g.astype(dtype), m, v, t, lr, b1, b2, eps, wd, decoupled)
    return P


@pytest.fixture
def problem():
    rng = np.random.default_rng(7)
    return rng.standard_normal(13), [rng.standard_normal(13) for _ in range(6)]


# ---------------------------------------------------------------- hand-worked one-parameter examples
def test_sgd_momentum_by_hand():
    # g = 1 twice, lr 0.1, momentum 0.9: buf 1 -> p 0.9; buf 0.9 + 1 = 1.9 -> p 0.9 - 0.19 = 0.71
    one = [np.ones(1), np.ones(1)]
    assert run_sgd(np.ones(1), one, 0.1, 0.9, 0.0)[0] == pytest.approx(0.71, abs=1e-15)
    # with weight decay 0.5: g 1.5, buf 1.5, p 0.85; g 1 + 0.425 = 1.425, buf 1.35 + 1.425 = 2.775, p 0.5725
    assert run_sgd(np.ones(1), one, 0.1, 0.9, 0.5)[0] == pytest.approx(0.5725, abs=1e-15)
    # without momentum: plain p -= lr * g
    assert run_sgd(np.ones(1), one, 0.1, 0.0, 0.0)[0] == pytest.approx(0.8, abs=1e-15)


def test_adam_by_hand():
    # g = +1 then -1, lr 0.1, eps 0: step 1 m_hat = v_hat = 1 -> p = 0.9;
    # step 2 m = 0.09 - 0.1 = -0.01, m_hat = -0.01 / 0.19 = -1/19, v_hat = 0.001999 / 0.001999 = 1
    # -> p = 0.9 + 0.1 / 19
    grads = [np.ones(1), -np.ones(1)]
    p = run_adam(np.ones(1), grads, [0.1, 0.1], 0.9, 0.999, 0.0, 0.0, False)[0]
    assert p == pytest.approx(0.9 + 0.1 / 19, abs=1e-14)


def test_adamw_by_hand():
    # constant g = 0.5, lr 0.1, wd 0.1, eps 0: Adam's step is exactly lr each time,
    # decay multiplies by 1 - 0.01: p = 0.99 - 0.1 = 0.89, then 0.89 * 0.99 - 0.1 = 0.7811
    grads = [np.full(1, 0.5)] * 2
    p = run_adam(np.ones(1), grads, [0.1, 0.1], 0.9, 0.999, 0.0, 0.1, True)[0]
    assert p == pytest.approx(0.7811, abs=1e-14)
    # Adam's L2 decay instead enters the gradient: g = 0.5 + 0.1 * p, still a step of exactly lr at t = 1
    p1 = run_adam(np.ones(1), grads[:1], [0.1], 0.9, 0.999, 0.0, 0.1, False)[0]
    assert p1 == pytest.approx(0.9, abs=1e-15)


def test_eps_is_added_to_sqrt_v_hat():
    # one step, g = 1e-6, eps = 1e-6: m_hat = 1e-6, sqrt(v_hat) = 1e-6 -> step = lr * 1e-6 / 2e-6 = lr / 2
    p = run_adam(np.zeros(1), [np.full(1, 1e-6)], [0.1], 0.9, 0.999, 1e-6, 0.0, True)[0]
    assert p == pytest.approx(-0.05, rel=1e-12)


def test_cosine_by_hand():
    assert lr_at(0, 1.0, COSINE, 10, 0.0) == 1.0
    assert lr_at(5, 1.0, COSINE, 10, 0.0) == pytest.approx(0.5, abs=1e-15)
    assert lr_at(10, 1.0, COSINE, 10, 0.0) == pytest.approx(0.0, abs=1e-15)
    assert lr_at(15, 1.0, COSINE, 10, 0.0) == pytest.approx(0.5, abs=1e-15)  # periodic past T_max
    assert lr_at(20, 1.0, COSINE, 10, 0.0) == pytest.approx(1.0, abs=1e-15)
    # the paper: 5e-4 -> 1e-5 over 10000 steps; halfway is the midpoint 2.55e-4
    assert lr_at(5000, 5e-4, COSINE, 10000, 1e-5) == pytest.approx(2.55e-4, rel=1e-12)
    assert lr_at(10000, 5e-4, COSINE, 10000, 1e-5) == pytest.approx(1e-5, rel=1e-12)
    assert lr_at(12345, 5e-4, CONSTANT, 10000, 1e-5) == 5e-4


# ---------------------------------------------------------------- several steps against the references
@pytest.mark.parametrize("momentum, wd", [(0.0, 0.0), (0.9, 0.0), (0.5, 0.1)])
def test_sgd_matches_reference(problem, momentum, wd):
    p, grads = problem
    np.testing.assert_allclose(run_sgd(p, grads, 0.03, momentum, wd), ref_sgd(p, grads, 0.03, momentum, wd),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("decoupled, wd, eps", [(False, 0.0, 1e-8), (False, 0.1, 1e-8), (True, 0.1, 1e-12),
                                                (True, 0.0, 1e-12)])
def test_adam_matches_reference_with_cosine_lr(problem, decoupled, wd, eps):
    p, grads = problem
    lrs = [1e-3 + (5e-2 - 1e-3) * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(len(grads))]
    ours = [lr_at(t, 5e-2, COSINE, 4, 1e-3) for t in range(len(grads))]
    np.testing.assert_allclose(ours, lrs, rtol=1e-13)
    np.testing.assert_allclose(run_adam(p, grads, ours, 0.9, 0.999, eps, wd, decoupled),
                               ref_adam(p, grads, lrs, 0.9, 0.999, eps, wd, decoupled), rtol=1e-12, atol=1e-12)


def test_float32_runs_and_agrees_loosely(problem):
    p, grads = problem
    lrs = [1e-2] * len(grads)
    for dt in (np.float32, np.float64):
        got = run_adam(p, grads, lrs, 0.9, 0.999, 1e-8, 0.1, True, dtype=dt)
        assert got.dtype == dt
        np.testing.assert_allclose(got, ref_adam(p, grads, lrs, 0.9, 0.999, 1e-8, 0.1, True), rtol=1e-5, atol=1e-6)
        got = run_sgd(p, grads, 1e-2, 0.9, 0.1, dtype=dt)
        np.testing.assert_allclose(got, ref_sgd(p, grads, 1e-2, 0.9, 0.1), rtol=1e-5, atol=1e-6)
