"""The JAX reference (benchmarks/reference_jax.py) against our kernels, and its sampler against the stream's law.

jax is a benchmark-only extra: every test here skips without it (CI does not install it), and
``python -m benchmarks --jax`` repeats the agreement check and refuses to report when it fails.
"""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks/ is in the checkout, not installed

pytest.importorskip("jax")
from benchmarks import reference_jax as rj, workloads  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from tying.models import Model, TrainConfig  # noqa: E402


@pytest.fixture(scope="module")
def corpus():
    return workloads.parity7()


@pytest.mark.parametrize("size,tied", [("small", False), ("small", True), ("medium", True)])
def test_loss_grad_and_adamw_equal_ours_in_float64(corpus, size, tied):
    # medium has two layers, so the all-rows layer is checked beside the masked-row-only last layer
    cfg = workloads.paper_config(corpus, "transformer", size, tied=tied)
    r = rj.check_agreement(cfg, workloads.parity_batches(corpus, 3, seed=4), steps=3)
    assert max(r["loss_rel"], r["grad_rel"], r["param_rel"]) <= 1e-12


def test_agreement_check_fails_for_a_different_model(corpus):
    # negative control: the JAX side with ReLU instead of GELU must be refused
    cfg = workloads.paper_config(corpus, "transformer")
    other = rj.Net(workloads.paper_config(corpus, "transformer", activation="relu"))
    with pytest.raises(rj.JaxAgreementError, match="disagree"):
        rj.check_agreement(cfg, workloads.parity_batches(corpus, 1, seed=4), steps=1, net=other)


def test_sampler_batches_are_valid_and_seeded(corpus):
    s = rj.Sampler(corpus)
    tokens, lengths, pos, sym, w = (np.asarray(x) for x in s(jax.random.key(3)))
    again = [np.asarray(x) for x in s(jax.random.key(3))]
    assert all(np.array_equal(a, b) for a, b in zip((tokens, lengths, pos, sym, w), again))
    assert not np.array_equal(tokens, np.asarray(s(jax.random.key(4))[0]))
    ids = corpus.split_ids("train")
    r, mask = corpus.real, corpus.specials["mask"]
    assert len(ids) == 115 and np.allclose(w, 1 / 115) and np.all(lengths == 8)
    for b, i in enumerate(ids):
        m = corpus.seqs[corpus.offsets[i] : corpus.offsets[i + 1]]
        ok = corpus.maskable[corpus.offsets[i] : corpus.offsets[i + 1]]
        assert np.flatnonzero(tokens[b] == mask).tolist() == [pos[b]] and ok[pos[b]]
        surface = tokens[b].copy()
        surface[pos[b]] = sym[b]
        for t in range(8):  # every symbol is a variant of its meaning with positive weight
            k = r.variants[m[t]].tolist().index(surface[t])
            assert r.weights[m[t], 0, k] > 0


def test_sampler_follows_the_realization_weights_and_masks_uniformly(corpus):
    s = rj.Sampler(corpus)
    n = 400
    tokens, _, pos, sym, _ = (np.asarray(x) for x in jax.vmap(s)(jax.random.split(jax.random.key(0), n)))
    M = np.asarray(s.M)
    surface = tokens.copy()
    np.put_along_axis(surface, pos[..., None], sym[..., None], axis=2)
    for meaning, symbol, p in ((0, 1, 0.9), (1, 3, 0.5)):  # parity-7's DH weights 0.1/0.9 and 0.5/0.5
        hits = surface[:, M == meaning] == symbol
        sigma = np.sqrt(p * (1 - p) / hits.size)
        assert abs(hits.mean() - p) < 5 * sigma
        assert abs(hits.mean() - (1 - p if p != 0.5 else 0.6)) > 5 * sigma  # negative control: another law
    counts = np.bincount(pos.ravel(), minlength=8)
    assert counts[7] == 0  # the label is never masked
    p = 1 / 7
    assert np.all(np.abs(counts[:7] / pos.size - p) < 5 * np.sqrt(p * (1 - p) / pos.size))


def test_scan_equals_the_steps_written_out(corpus):
    # the trainer's scan (sampling, grad, AdamW inside) against the same steps called one by one
    cfg = workloads.paper_config(corpus, "transformer")
    net, s, tc = rj.Net(cfg), rj.Sampler(corpus), TrainConfig()
    train, init = rj.trainer(net, s, tc)
    P0 = Model(cfg, seed=1).P
    (P, m, v, t, _), losses = train(init(P0, 5), 3)
    Q, mq, vq, key = jnp.asarray(P0), jnp.zeros_like(P), jnp.zeros_like(P), jax.random.key(5)
    grad = jax.value_and_grad(lambda P, b: net.loss(P, b)[0])
    for k in range(3):
        key, sub = jax.random.split(key)
        loss, G = grad(Q, s(sub))
        Q, mq, vq = rj.adamw(Q, G, mq, vq, jnp.float64(k), tc)
        assert float(losses[k]) == pytest.approx(float(loss), rel=1e-12, abs=0)
    assert int(t) == 3 and float(jnp.max(jnp.abs(P - Q))) <= 1e-12 * float(jnp.max(jnp.abs(Q)))
    assert float(jnp.max(jnp.abs(P - jnp.asarray(P0)))) > 1e-4  # negative control: the steps moved P


def test_jax_benchmark_refuses_a_missing_folder(tmp_path):
    out = tmp_path / "no" / "such"
    p = subprocess.run([sys.executable, "-m", "benchmarks", "--jax", "--out", str(out)], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 2 and "parent does not exist" in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and not out.parent.exists()


def test_tying_bench_jax_refuses_a_missing_folder(capsys, tmp_path):
    from cli_run import run_cli

    rc, _, err = run_cli(capsys, "bench", "--jax", "--out", tmp_path / "no" / "such")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "parent does not exist" in err
    assert not (tmp_path / "no").exists()
