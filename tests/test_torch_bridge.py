"""tying.torch.StreamDataset against our own training loop (tying.analyze: test_analyze.py).

CI installs the torch extra, so these run there; a checkout without torch skips the bridge's tests.
"""
import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tying.core.errors import InputError
from tying.generators import Examples, load_grammar, pcfg_corpus, transforms
from tying.models import Model, ModelConfig, TrainConfig
from tying.models.train import _Trainer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks/ is in the checkout, not installed

try:
    import torch
except ModuleNotFoundError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="the torch extra is not installed")

B, STEPS = 12, 300  # 300 steps cross the first chunk of 256 (models.train.chunk_steps)


@pytest.fixture(scope="module", params=["mlm", "causal"])
def corpus(request):
    c = pcfg_corpus(load_grammar("toy-english"), 120, 0, task=request.param)
    return transforms.twins(c, 3, 0.5) if request.param == "mlm" else c


@pytest.fixture(scope="module")
def twins():
    return transforms.twins(pcfg_corpus(load_grammar("toy-english"), 120, 1, task="mlm"), 4, 0.5)


def loop_batches(corpus, tc, n):
    """The arrays train()'s loop hands its kernel at steps 0..n-1, and the losses the kernel returns."""
    tr = _Trainer(corpus, Model.from_corpus(corpus, ModelConfig(d=4, ff=8), seed=tc.seed), tc)
    out, losses = [], []
    for k in range(n):
        tr._batches(1)
        chunk, s = tr.chunk, tr.pos
        a, b = chunk[2][s], chunk[2][s + 1]
        out.append((chunk[0][s], chunk[1][s], *(x[a:b] for x in chunk[3:])))
        losses.append(tr.steps(k, 1)[0][0])
    return out, np.array(losses)


# ------------------------------------------------------------------------------ the stream
@needs_torch
def test_batches_are_the_training_loops(corpus):
    from tying.torch import StreamDataset

    tc = TrainConfig(steps=STEPS, batch_size=B, seed=7)
    ours, _ = loop_batches(corpus, tc, STEPS)
    theirs = list(StreamDataset(corpus, "train", B, 7, steps=STEPS))
    assert len(theirs) == STEPS
    causal, mask_id = corpus.task == "causal", corpus.specials["mask"]
    for (tokens, lengths, seq, pos, sym, w), hf in zip(ours, theirs):
        ids, att, lab = (hf[k].numpy() for k in ("input_ids", "attention_mask", "labels"))
        assert all(hf[k].dtype == torch.int64 for k in hf)
        np.testing.assert_array_equal(ids, tokens)
        np.testing.assert_array_equal(att.sum(1), lengths)
        assert np.all(np.diff(att, axis=1) <= 0)  # ones, then zeros
        np.testing.assert_array_equal(lab[seq, pos + causal], sym)  # every target where HF reads it
        assert np.count_nonzero(lab != -100) == len(sym)  # and -100 everywhere else
        assert np.all(w == 1 / len(w))  # why HF's mean over labels is our loss
        if causal:  # HF's convention: labels = input_ids on the real tokens after the first
            keep = att.astype(bool)
            keep[:, 0] = False
            np.testing.assert_array_equal(lab[keep], ids[keep])
            assert np.all(lab[~keep] == -100)
        else:
            assert np.all(ids[lab != -100] == mask_id)


@needs_torch
def test_another_seed_is_another_stream(corpus):
    from tying.torch import StreamDataset

    a = next(iter(StreamDataset(corpus, "train", B, 7, steps=1)))
    b = next(iter(StreamDataset(corpus, "train", B, 8, steps=1)))
    assert not torch.equal(a["input_ids"], b["input_ids"])
    again = next(iter(StreamDataset(corpus, "train", B, 7, steps=1)))
    assert all(torch.equal(a[k], again[k]) for k in a)


@needs_torch
def test_endless_and_workers(twins):
    from tying.torch import StreamDataset

    some = list(StreamDataset(twins, "train", B, 2, steps=7))
    endless = StreamDataset(twins, "train", B, 2)
    head = list(itertools.islice(endless, 7))
    assert all(torch.equal(x[k], y[k]) for x, y in zip(some, head) for k in x)
    with pytest.raises(TypeError):
        len(endless)
    # two workers share the stream out: the loader's order is that of no worker, nothing twice
    loader = torch.utils.data.DataLoader(StreamDataset(twins, "train", B, 2, steps=7), batch_size=None, num_workers=2)
    got = list(loader)
    assert len(got) == 7
    assert all(torch.equal(x[k], y[k]) for x, y in zip(some, got) for k in x)


@needs_torch
@pytest.mark.parametrize("split, batch, steps", [("validation", B, 3), ("train", 0, 3), ("train", B, -1),
                                                  ("train", B, 2.5)])
def test_stream_bad_input(twins, split, batch, steps):
    from tying.torch import StreamDataset

    with pytest.raises(InputError) as e:
        StreamDataset(twins, split, batch, 0, steps=steps)
    assert "\n" not in str(e.value)


# ------------------------------------------------------------------------------ a torch model on the stream
def as_examples(hf: dict, causal: bool) -> Examples:
    """A Hugging Face batch back in our sparse form, read from its labels alone."""
    lab = hf["labels"].numpy()
    seq, pos = np.nonzero(lab != -100)
    sym = lab[seq, pos]
    n = len(sym)
    return Examples(hf["input_ids"].numpy()[None].astype(np.int32), hf["attention_mask"].numpy().sum(1)[None],
                    np.array([0, n], np.int64), seq.astype(np.int32), (pos - causal).astype(np.int32),
                    sym.astype(np.int32), np.full(n, 1.0 / n))


@needs_torch
def test_torch_model_on_the_bridge_has_our_loss_curve(corpus):
    from benchmarks.reference_torch import Reference, batch, optimizer
    from tying.torch import StreamDataset

    tc = TrainConfig(steps=STEPS, batch_size=B, seed=5, lr=1e-2, t_max=STEPS)
    cfg = ModelConfig(d=4, ff=8)
    P0 = Model.from_corpus(corpus, cfg, seed=5).P.copy()
    _, ours = loop_batches(corpus, tc, STEPS)  # the same initial parameters (seed 5)
    causal = corpus.task == "causal"

    def torch_curve(seed, steps):
        fitted = Model.from_corpus(corpus, cfg, seed=5).cfg
        ref = Reference(fitted, P0)
        opt, sched = optimizer(ref, tc)
        losses = []
        for hf in StreamDataset(corpus, "train", B, seed, steps=steps):
            opt.zero_grad(set_to_none=True)
            loss, _ = ref(batch(fitted, as_examples(hf, causal)))
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        return np.array(losses)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: a second thread on a shared machine costs 10x
    try:
        theirs = torch_curve(5, STEPS)
        other = torch_curve(6, 20)  # negative control: another seed's stream, same parameters
    finally:
        torch.set_num_threads(threads)
    assert ours[-1] < 0.8 * ours[0]  # the model learns: the curve is not flat
    np.testing.assert_allclose(theirs, ours, rtol=1e-10, atol=0)
    assert np.max(np.abs(other - ours[:20])) > 1e-3


# ------------------------------------------------------------------------------ imports
def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)


def test_import_tying_does_not_import_torch():
    r = _python("import sys, tying, tying.experiments; tying.analyze; print('torch' in sys.modules)")
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stderr


def test_without_torch_the_bridge_says_how_to_get_it():
    r = _python("import sys; sys.modules['torch'] = None  # as if the torch extra were not installed\n"
                "import tying.torch")
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert last == "ModuleNotFoundError: tying.torch needs PyTorch: pip install 'tying[torch]'"
