"""tying.torch.StreamDataset against our own training loop, and tying.analyze against our own runs.

CI installs the torch extra, so these run there; a checkout without torch skips the bridge's tests
(the analyze tests need no torch).
"""
import csv
import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tying
from tying.core.errors import InputError
from tying.experiments.lm_claims import twins_claims
from tying.experiments.results import Group, table_curves
from tying.generators import Examples, load_grammar, pcfg_corpus, relation_pairs, transforms
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


# ------------------------------------------------------------------------------ analyze
@pytest.fixture(scope="module", params=[False, True], ids=["untied", "tied"])
def run(request, twins):
    tc = TrainConfig(steps=60, batch_size=B, lr=1e-2, record_every=20, eval_every=60, progress=False)
    return tying.train(twins, ModelConfig(d=6, ff=8, tied=request.param), tc, progress=False)


def test_analyze_is_the_analysis_of_the_run(run, twins):
    tied = run.model_cfg.tied
    res = tying.analyze(run.E_in[-1], None if tied else run.E_out[-1], twins,
                        snapshots=(run.emb_steps, run.E_in, run.E_out))
    pairs = relation_pairs(twins)
    assert len(pairs) == 4 and res["tied"] is tied
    np.testing.assert_array_equal(res["steps"], run.emb_steps)
    np.testing.assert_array_equal(res["pairs"], pairs)
    tables = ["tied"] if tied else ["untied input", "untied output"]
    assert list(res["distances"]) == tables
    group = Group(twins, [run])
    for t in tables:
        np.testing.assert_array_equal(res["distances"][t], table_curves(group, pairs, t)[0])
        E = run.E_out if t == "untied output" else run.E_in  # by hand: the norm of the row difference
        a, b = res["pairs"].T
        np.testing.assert_allclose(res["distances"][t], np.sqrt(((E[:, a] - E[:, b]) ** 2).sum(-1)), rtol=1e-14)
    ra, rb = res["reference_pairs"].T  # the yardstick: random pairs of common plain words
    assert len(ra) == 60 and not any("#" in twins.vocab[s] for s in np.r_[ra, rb])
    for t in tables:
        E = run.E_out if t == "untied output" else run.E_in
        np.testing.assert_allclose(res["reference"][t], np.median(np.linalg.norm(E[:, ra] - E[:, rb], axis=-1), 1),
                                   rtol=1e-14)
    want = [c.__dict__ for c in twins_claims({(0, "model", tied): group})]
    assert res["claims"][:len(want)] == want and len(want) == len(tables)
    rows = res["claims"][len(want):]  # P6's sign per recorded pair and table
    assert len(rows) == len(pairs) * len(tables) and all(r["experiment"] == "relations" for r in rows)
    assert res["relation"] == ["DH holds"] * 4 and np.all(res["se"] == 1) and np.all(res["ce"] == 1)
    # the dict form of the snapshots is the same analysis
    as_dict = {int(s): (a, b) for s, a, b in zip(run.emb_steps, run.E_in, run.E_out)}
    again = tying.analyze(run.E_in[-1], run.E_out[-1], twins, snapshots=as_dict)
    assert again["claims"] == res["claims"]
    assert all(np.array_equal(again["distances"][t], res["distances"][t]) for t in tables)


def test_swapping_the_tables_changes_the_analysis(run, twins):
    if run.model_cfg.tied:
        pytest.skip("a tied run has one table")
    res = tying.analyze(run.E_in[-1], run.E_out[-1], twins)
    swapped = tying.analyze(run.E_out[-1], run.E_in[-1], twins)
    np.testing.assert_array_equal(swapped["distances"]["untied input"], res["distances"]["untied output"])
    assert not np.array_equal(swapped["distances"]["untied input"], res["distances"]["untied input"])
    assert swapped["claims"] != res["claims"]


def test_analyze_writes_files_that_load(run, twins, tmp_path):
    res = tying.analyze(run.E_in[-1], run.E_out[-1], twins, snapshots=(run.emb_steps, run.E_in, run.E_out),
                        out=tmp_path / "a")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["analysis.npz", "claims.json", "distances.csv", "distances.pdf", "distances.png"]
    with open(tmp_path / "a" / "distances.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == sum(d.size for d in res["distances"].values())
    for r in rows:
        k, i = list(res["steps"]).index(int(r["step"])), res["pair_names"].index((r["a_name"], r["b_name"]))
        assert float(r["distance"]) == res["distances"][r["table"]][k, i]
    assert json.loads((tmp_path / "a" / "claims.json").read_text()) == res["claims"]
    with np.load(tmp_path / "a" / "analysis.npz") as z:
        for t, d in res["distances"].items():
            np.testing.assert_array_equal(z[t.replace(" ", "_")], d)
            np.testing.assert_array_equal(z["reference_" + t.replace(" ", "_")], res["reference"][t])
        np.testing.assert_array_equal(z["pairs"], res["pairs"])
    with pytest.raises(InputError):  # an existing folder is refused
        tying.analyze(run.E_in[-1], run.E_out[-1], twins, out=tmp_path / "a")


def _bad(V):
    rng = np.random.default_rng(0)
    E = rng.normal(size=(V, 5))
    nan = E.copy()
    nan[3, 1] = np.nan
    return [
        ("rows", (E[:-1], None, {}), "rows but the corpus has"),
        ("3-d", (E[None], None, {}), "must be a (vocabulary, dim) table"),
        ("nan", (nan, None, {}), "non-finite entry at row 3"),
        ("out-rows", (E, E[:-2], {}), "E_out has"),
        ("text", ([["a"]], None, {}), "not a numeric array"),
        ("snap-width", (E, None, {"snapshots": {0: (E[:, :4], E[:, :4])}, "step": 4}), "different widths"),
        ("snap-same-step", (E, None, {"snapshots": {4: (E + 1, E + 1)}}), "differs from the final tables"),
        ("snap-step", (E, None, {"snapshots": {-1: (E, E)}}), "not an integer >= 0"),
        ("step-before", (E, None, {"snapshots": {4: (E, E)}, "step": 2}), "must be an integer >="),
        ("snap-count", (E, None, {"snapshots": ([0, 1], E[None], None)}), "2 steps but 1 E_in"),
        ("snap-kind", (E, None, {"snapshots": 3}), "snapshots must be"),
    ]


@pytest.mark.parametrize("case", range(11))
def test_analyze_bad_input_is_one_line_and_writes_nothing(twins, tmp_path, case):
    name, (E_in, E_out, kw), expect = _bad(twins.vocab_size)[case]
    with pytest.raises(InputError) as e:
        tying.analyze(E_in, E_out, twins, out=tmp_path / "out", **kw)
    assert expect in str(e.value) and "\n" not in str(e.value), (name, str(e.value))
    assert not (tmp_path / "out").exists()


def test_good_tables_pass_the_same_checks(twins):
    """Negative control of the bad-input cases: the same tables, well formed, are accepted."""
    E = np.random.default_rng(0).normal(size=(twins.vocab_size, 5))
    res = tying.analyze(E, E + 1, twins, snapshots={0: (E, E + 1), 2: (E, E + 1)}, step=4)
    assert list(res["steps"]) == [0, 2, 4] and not res["tied"]


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


@needs_torch
def test_analyze_reads_tensors_as_their_arrays(twins):
    E = np.random.default_rng(1).normal(size=(twins.vocab_size, 5))
    t = torch.tensor(E, requires_grad=True)  # a model's live parameter: analyze detaches it
    a, b = tying.analyze(t, None, twins), tying.analyze(E, E, twins)
    assert a["tied"] and a["claims"] == b["claims"]
    np.testing.assert_array_equal(a["distances"]["tied"], b["distances"]["tied"])
