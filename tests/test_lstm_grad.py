"""The LSTM kernel against finite differences, an independent NumPy forward and hand-worked values.

Gradient check criterion: kernel_contract.check_gradient (as the transformer's), plus every cell
block receiving some gradient.  The contract shared with the other architectures (tying, padding,
target order, accumulation into G, float32, Stream batches) is in test_kernel_contract.py.
"""
import itertools
import math

import numpy as np
import pytest

import kernel_contract as kc
from kernel_contract import kernel, make_params
from tying.models import params
from tying.models.config import ModelConfig

V, T = kc.V, kc.T


def make_cfg(objective="mlm", tied=False, bias=False, merge=False, layers=2, bi=True, positional=True, d=3,
             hidden=3, dtype="float64"):
    return kc.make_cfg("lstm", objective, tied, bias, [(1, 3)] if merge else [], positional, dtype, d=d,
                       layers=layers, hidden=hidden, bidirectional=bi)


def make_batch(objective, seed=0, B=6, padded=True, min_len=2):
    """Random rows with lengths min_len..T, the first one min_len (all T unless padded): see kernel_contract."""
    return kc.make_batch(objective, seed, B, lengths=None if padded else np.full(B, T), min_len=min_len,
                         shortest_first=padded)


kernel_hidden = kc.hidden


# ---------------------------------------------------------------- NumPy reference
def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # a different formula from the kernel's


def reference_hidden(cfg, P, tokens, lengths, tgt_seq, tgt_pos):
    """torch nn.LSTM on each row cut to its length (as a packed sequence), then the projection."""
    W = params.views(cfg, P.astype(np.float64))
    in_row, _, _ = params.sharing_map(cfg)
    H, dirs = cfg.hidden, 2 if cfg.bidirectional else 1
    out = []
    for b in range(tokens.shape[0]):
        L = lengths[b]
        x = W["emb"][in_row[tokens[b, :L]]]
        if cfg.positional:
            x = x + W["pos"][:L]
        for i in range(cfg.layers):
            ys = []
            for r in range(dirs):
                p = lambda n: W[f"layer{i}.dir{r}.{n}"]
                xs = x if r == 0 else x[::-1]
                h, c, hs = np.zeros(H), np.zeros(H), []
                for xt in xs:
                    gi, gf, gg, go = np.split(p("w_ih") @ xt + p("b_ih") + p("w_hh") @ h + p("b_hh"), 4)
                    c = sigmoid(gf) * c + sigmoid(gi) * np.tanh(gg)
                    h = sigmoid(go) * np.tanh(c)
                    hs.append(h)
                hs = np.array(hs)
                ys.append(hs if r == 0 else hs[::-1])
            x = np.concatenate(ys, axis=1)
        out.append(x @ W["proj_w"].T + W["proj_b"])
    return np.array([out[b][p] for b, p in zip(tgt_seq, tgt_pos)]).reshape(len(tgt_seq), cfg.d)


def reference_loss(cfg, P, tokens, lengths, tgt_seq, tgt_pos, tgt_sym, tgt_w):
    H = reference_hidden(cfg, P, tokens, lengths, tgt_seq, tgt_pos)
    return kc.reference_loss_from_hidden(cfg, P, H, tgt_sym, tgt_w)


# ---------------------------------------------------------------- finite differences
def check_gradient(cfg, P, batch):
    G = kc.check_gradient(cfg, P, batch)
    # every cell block receives gradient (none is skipped by the backward pass)
    for name, g in params.views(cfg, G).items():
        if name.startswith("layer") or name.startswith("proj"):
            assert np.any(g != 0.0), name
    return G


SHARING = list(itertools.product(["mlm", "causal"], [False, True], [False, True], [False, True]))


@pytest.mark.parametrize("objective,tied,bias,merge", SHARING)
def test_gradient_sharing(objective, tied, bias, merge):
    cfg = make_cfg(objective, tied, bias, merge)  # bidirectional for mlm; the config makes causal one-way
    assert cfg.bidirectional == (objective == "mlm")
    check_gradient(cfg, make_params(cfg, 1), make_batch(objective, 2))


SHAPES = [(1, False, "mlm"), (1, True, "mlm"), (2, False, "mlm"), (2, True, "mlm"), (1, False, "causal"),
          (2, False, "causal"), (3, True, "mlm"), (3, False, "causal")]


@pytest.mark.parametrize("layers,bi,objective", SHAPES)
def test_gradient_shapes(layers, bi, objective):
    k = SHAPES.index((layers, bi, objective))
    cfg = make_cfg(objective, tied=k % 2 == 1, bias=k % 3 == 0, merge=k % 4 == 0, layers=layers, bi=bi,
                   positional=k % 2 == 0, d=2 + k % 3, hidden=2 + k % 2)
    check_gradient(cfg, make_params(cfg, k), make_batch(objective, k, padded=k % 3 != 1))


def test_gradient_with_one_token_rows():
    cfg = make_cfg("mlm", bias=True)
    batch = make_batch("mlm", 21, min_len=1)
    assert 1 in batch[1][:-1]
    check_gradient(cfg, make_params(cfg, 21), batch)


def test_target_outside_its_row_is_refused():
    cfg = make_cfg("mlm")
    tokens, lengths, seq, pos, sym, w = make_batch("mlm", 22)
    pos = pos.copy()
    pos[0] = lengths[seq[0]]
    with pytest.raises(ValueError, match="outside its sequence"):
        kernel(cfg, make_params(cfg), (tokens, lengths, seq, pos, sym, w))


def test_gradient_paper_small_shape():
    cfg = ModelConfig(arch="lstm", tied=True).fit(V, T, "mlm")
    assert (cfg.layers, cfg.d, cfg.hidden, cfg.bidirectional) == (2, 4, 8, True)
    check_gradient(cfg, make_params(cfg, 3), make_batch("mlm", 4, B=3))


@pytest.mark.parametrize("objective", ["mlm", "causal"])
@pytest.mark.parametrize("layers,bi", [(1, False), (1, True), (2, True), (3, False)])
def test_matches_numpy_reference(objective, layers, bi):
    cfg = make_cfg(objective, tied=layers % 2 == 1, bias=True, merge=True, layers=layers, bi=bi, d=4, hidden=5)
    P = make_params(cfg, layers)
    batch = make_batch(objective, layers + 10, B=9, min_len=1)
    assert 1 in batch[1][:-1]  # a one-token row with targets (mlm) or without any (causal)
    loss, acc, _ = kernel(cfg, P, batch, False)
    ref_loss, ref_acc = reference_loss(cfg, P, *batch)
    assert abs(loss - ref_loss) <= 1e-12 * max(1.0, abs(ref_loss))
    assert abs(acc - ref_acc) <= 1e-12
    assert np.abs(kernel_hidden(cfg, P, batch) - reference_hidden(cfg, P, *batch[:4])).max() <= 1e-12


def test_hand_worked_gate_order_and_directions():
    """With zero weight matrices each gate is a constant; torch's order i, f, g, o gives, after k steps
    from the zero state, c_k = i g (1 - f^k) / (1 - f) and h_k = o tanh(c_k).  With H = 1, two directions
    and proj = identity, h at position t of a length-L row is [h_{t+1} (forward), h_{L-t} (backward)]."""
    cfg = make_cfg("mlm", layers=1, bi=True, positional=False, d=2, hidden=1)
    P = np.zeros(params.layout(cfg)[-1])
    W = params.views(cfg, P)
    W["emb"][:] = np.random.default_rng(0).standard_normal(W["emb"].shape)  # must not matter
    gates = {0: (0.3, 1.2, -0.7, 0.5), 1: (-0.4, 0.8, 1.5, -1.1)}  # pre-activations of i, f, g, o per direction
    for r, pre in gates.items():
        W[f"layer0.dir{r}.b_ih"][:] = 0.25 * np.array(pre)
        W[f"layer0.dir{r}.b_hh"][:] = 0.75 * np.array(pre)  # torch adds both biases
    W["proj_w"][:] = np.eye(2)
    L = 4
    tokens = np.array([[0, 1, 2, 3, 4]], np.int32)
    batch = (tokens, np.array([L], np.int32), np.zeros(L, np.int32), np.arange(L, dtype=np.int32))
    h = kernel_hidden(cfg, P, batch)
    sig = lambda x: 1.0 / (1.0 + math.exp(-x))

    def h_after(k, pre):
        i, f, g, o = sig(pre[0]), sig(pre[1]), math.tanh(pre[2]), sig(pre[3])
        return o * math.tanh(i * g * (1.0 - f**k) / (1.0 - f))

    for t in range(L):
        assert abs(h[t, 0] - h_after(t + 1, gates[0])) <= 1e-15
        assert abs(h[t, 1] - h_after(L - t, gates[1])) <= 1e-15


def test_directions_see_the_right_context():
    """A one-way LSTM's h at p ignores every later token; a bidirectional one sees both sides."""
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, V - 1, (1, T)).astype(np.int32)
    p = 2
    later, earlier = tokens.copy(), tokens.copy()
    later[0, p + 1] = (later[0, p + 1] + 1) % (V - 1)
    earlier[0, p - 1] = (earlier[0, p - 1] + 1) % (V - 1)
    rest = (np.array([T], np.int32), np.zeros(1, np.int32), np.array([p], np.int32))
    one_way, two_way = make_cfg("causal", layers=2), make_cfg("mlm", layers=2, bi=True)
    for cfg in (one_way, two_way):
        P = make_params(cfg, 2)
        h0, h_later, h_earlier = (kernel_hidden(cfg, P, (x,) + rest) for x in (tokens, later, earlier))
        assert np.abs(h_earlier - h0).max() > 1e-6
        if cfg is one_way:
            assert np.array_equal(h_later, h0)
        else:
            assert np.abs(h_later - h0).max() > 1e-6
