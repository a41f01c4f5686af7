"""The Model class: construction, validation, embeddings through the sharing map, hidden states."""
import math

import numpy as np
import pytest

from tying import models
from tying.generators.corpus import Corpus, Realization
from tying.core.errors import InputError
from tying.generators.examples import Examples, Stream
from tying.models import Model, ModelConfig, archs, params

V, T = 5, 4


def corpus(task="mlm"):
    vocab = ["a", "b", "c", "d", "[MASK]"]
    seqs = [[0, 1, 2, 3], [1, 1, 0], [3, 2], [2, 0, 1, 3], [0, 3, 3], [2, 2, 1, 0]]
    return Corpus(vocab=vocab, meanings=vocab, seqs=np.concatenate(seqs).astype(np.int32),
                  offsets=np.cumsum([0] + [len(s) for s in seqs]).astype(np.int64),
                  split=np.zeros(len(seqs), np.int8), maskable=np.ones(sum(map(len, seqs)), bool),
                  real=Realization.identity(V, V), task=task, mask_rate=0.0,
                  specials={"mask": 4, "pad": -1, "labels": []}).validate()


def test_package_exports():
    assert models.ModelConfig is ModelConfig and models.Model is Model
    assert models.TrainConfig.__name__ == "TrainConfig"


def test_the_registry_is_the_list_of_architectures():
    assert models.ARCHS == tuple(archs.REGISTRY) and len(set(archs.ARCH_CODE.values())) == len(archs.ARCHS)
    for arch, a in archs.REGISTRY.items():  # the paper-small shapes are the config's defaults
        cfg = ModelConfig(arch=arch)
        assert all(getattr(cfg, k) == v for k, v in a.small.items()) and archs.PAPER_SMALL[arch] == a.small
    with pytest.raises(InputError, match=", ".join(archs.ARCHS)):
        ModelConfig(arch="rnn")
    assert {"ARCHS", "archs", "Optimizer"} <= set(models.__all__)


def test_from_corpus_fits_the_corpus():
    m = Model.from_corpus(corpus("causal"), ModelConfig(arch="mixer"), seed=0)
    assert (m.cfg.vocab_size, m.cfg.seq_len, m.cfg.objective) == (V, T, "causal")
    assert m.cfg.token_ff == T  # the paper-small token_ff is widened so token mixing can be masked causally
    assert m.arch_code == archs.ARCH_CODE["mixer"] and m.P.size == params.layout(m.cfg)[-1]
    with pytest.raises(InputError, match="5 symbols"):  # vocabulary too small for the corpus
        Model.from_corpus(corpus(), ModelConfig(arch="bilinear", vocab_size=4))


def test_bad_configs_raise_input_error():
    with pytest.raises(InputError, match="fit it to a corpus"):
        Model(ModelConfig(arch="bilinear"))
    with pytest.raises(InputError, match="token_ff == seq_len"):
        Model(ModelConfig(arch="mixer", token_ff=3).fit(V, T, "causal"))
    with pytest.raises(InputError, match="token_ff == seq_len"):
        Model.from_corpus(corpus("causal"), ModelConfig(arch="mixer", token_ff=3))
    cfg = ModelConfig(arch="bilinear").fit(V, T, "mlm")
    with pytest.raises(InputError, match="shape"):
        Model(cfg, P=np.zeros(3))


def test_seeded_parameters_and_given_arrays():
    cfg = ModelConfig(arch="mixer").fit(V, T, "mlm")
    a, b, c = Model(cfg, seed=1), Model(cfg, seed=1), Model(cfg, seed=2)
    assert a.P.tobytes() == b.P.tobytes() and a.P.tobytes() != c.P.tobytes()
    P = a.P.copy()
    m = Model(cfg, P=P)
    assert m.P is P  # no copy: a trainer's updates are the model's parameters
    m.views()["emb"][0] = 7.0  # views write through
    assert (P[: cfg.d] == 7.0).all() and (m.E_in()[0] == 7.0).all()
    m32 = Model(ModelConfig(arch="mixer", dtype="float32").fit(V, T, "mlm"), seed=1)
    assert m32.P.dtype == np.float32 and np.array_equal(m32.P, a.P.astype(np.float32))


def test_embeddings_follow_the_sharing_map():
    untied = Model(ModelConfig(arch="bilinear", output_bias=True).fit(V, T, "mlm"), seed=3)
    emb = untied.views()["emb"]
    np.testing.assert_array_equal(untied.E_in(), emb[:V])
    np.testing.assert_array_equal(untied.E_out(), emb[V:])
    untied.views()["out_bias"][:] = np.arange(2 * V)
    np.testing.assert_array_equal(untied.b_out(), np.arange(V, 2 * V))
    tied = Model(ModelConfig(arch="bilinear", tied=True).fit(V, T, "mlm"), seed=3)
    np.testing.assert_array_equal(tied.E_in(), tied.E_out())
    assert tied.views()["emb"].shape == (V, tied.cfg.d)
    np.testing.assert_array_equal(tied.b_out(), np.zeros(V))
    merged = Model(ModelConfig(arch="bilinear", merge_out=[(1, 3)]).fit(V, T, "mlm"), seed=3)
    E = merged.E_out()
    np.testing.assert_array_equal(E[1], E[3])
    assert not np.array_equal(E[1], E[2]) and not np.array_equal(merged.E_in()[1], merged.E_in()[3])
    E[1] = 0.0  # a copy, not a view
    assert merged.E_out()[1].any()


@pytest.mark.parametrize("arch", archs.ARCHS)
@pytest.mark.parametrize("task", ["mlm", "causal"])
def test_hidden_reproduces_the_loss(arch, task):
    """softmax(h E_out^T + b) from Model.hidden gives the loss and accuracy the kernels report."""
    m = Model.from_corpus(corpus(task), ModelConfig(arch=arch, output_bias=True, tied=True), seed=4)
    m.views()["out_bias"][:] = np.random.default_rng(5).standard_normal(V)
    ex = Stream(corpus(task), "train", batch_size=4, seed=6).next(2)
    for s in range(2):
        b = ex.batch(s)
        H = m.hidden(ex, s)
        assert H.shape == (len(b.tgt_sym), m.cfg.d)
        z = H @ m.E_out().T + m.b_out()
        lse = np.log(np.exp(z).sum(1))
        n = np.arange(len(b.tgt_sym))
        loss, acc = m.loss(ex, s)
        assert loss == pytest.approx(np.sum(b.tgt_w * (lse - z[n, b.tgt_sym])), rel=1e-12)
        assert acc == pytest.approx(np.sum(b.tgt_w * (z.argmax(1) == b.tgt_sym)), abs=1e-12)
        assert m.loss(b) == (loss, acc)  # batch s of a stream is the same as the one-batch slice


def test_loss_grad_returns():
    m = Model.from_corpus(corpus(), ModelConfig(arch="mixer"), seed=7)
    ex = Stream(corpus(), "train", batch_size=6, seed=8).next(1)
    loss, acc, G = m.loss_grad(ex)
    assert G.shape == m.P.shape and G.dtype == m.P.dtype and np.abs(G).max() > 0
    assert m.loss_grad(ex, want_grad=False) == (loss, acc, None)
    assert math.isfinite(loss) and 0.0 <= acc <= 1.0
    # one SGD step along -G lowers the loss
    m2 = Model(m.cfg, P=m.P - 1e-3 * G)
    assert m2.loss(ex)[0] < loss


def test_bad_batches_raise_input_error():
    m = Model.from_corpus(corpus(), ModelConfig(arch="bilinear"), seed=0)

    def ex(tokens, lengths, pos=(0,), sym=(1,)):
        n = len(pos)
        return Examples(np.array([tokens], np.int32), np.array([lengths], np.int32), np.array([0, n]),
                        np.zeros(n, np.int32), np.array(pos, np.int32), np.array(sym, np.int32), np.full(n, 1 / n))

    assert math.isfinite(m.loss(ex([[4, 1, 2, 3]], [4]))[0])
    with pytest.raises(InputError, match="vocabulary"):
        m.loss(ex([[4, 1, 5, 3]], [4]))
    with pytest.raises(InputError, match="length 5"):
        m.loss(ex([[4, 1, 2, 3, 0]], [5]))
    with pytest.raises(InputError, match="targets"):
        m.loss(ex([[4, 1, 2, 3]], [2], pos=(3,)))
    with pytest.raises(InputError, match="targets"):
        m.loss(ex([[4, 1, 2, 3]], [4], sym=(V,)))
    with pytest.raises(InputError, match="batch 1"):
        m.loss(ex([[4, 1, 2, 3]], [4]), s=1)


@pytest.mark.parametrize("arch", archs.ARCHS)
def test_tied_and_untied_share_every_initial_value_at_one_seed(arch):
    """Pairing by seed: a tied and an untied model of one seed differ only by the untied output rows."""
    c = corpus()
    tied, untied = (Model.from_corpus(c, ModelConfig(arch=arch, tied=t, positional=True), seed=7) for t in (True, False))
    vt, vu = params.views(tied.cfg, tied.P), params.views(untied.cfg, untied.P)
    assert vt.keys() == vu.keys()
    for name in vt:
        if name == "emb":
            np.testing.assert_array_equal(vt[name], vu[name][:V])
        else:
            np.testing.assert_array_equal(vt[name], vu[name], err_msg=name)
    np.testing.assert_array_equal(tied.E_in(), untied.E_in())
    assert not np.allclose(untied.E_out(), untied.E_in())  # the output rows are drawn, not copied
    other = Model.from_corpus(c, ModelConfig(arch=arch, tied=False, positional=True), seed=8)
    assert not np.allclose(other.E_out(), untied.E_out()) and not np.allclose(other.E_in(), untied.E_in())
