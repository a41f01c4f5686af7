"""The tying variants through the trainer, `tying train` (flags and TOML keys) and sweep specs."""
import dataclasses
import json

import numpy as np
import pytest

from tying.experiments import spec as sp
from tying.experiments.cli import main
from tying.generators.parity import parity_corpus
from tying.generators.population import enumerate_population
from tying.models import ModelConfig, TrainConfig, VARIANT_DEFAULTS, train
from tying.models.model import Model
from tying.models.run import Run

VARIANTS = {"alpha": dict(input_grad_scale=4.0), "c": dict(input_multiplier="sqrt(d)"),
            "k": dict(tied_dims=2), "map": dict(tie_map=True)}
FLAGS = {"alpha": ["--input-grad-scale", "4"], "c": ["--input-multiplier", "sqrt(d)"],
         "k": ["--tied-dims", "2"], "map": ["--tie-map"]}


@pytest.fixture(scope="module")
def p3():
    return parity_corpus(3, zero=(0.1, 0.9), one=(0.5, 0.5), splits=(0.75, 0.25, 0.0), seed=1)


def sgd(steps=3):
    return TrainConfig(steps=steps, mode="population", optimizer="sgd", lr=0.5, schedule="constant",
                       weight_decay=0.0, record_every=1, eval_every=1, record_params=True, progress=False)


@pytest.mark.parametrize("arch", ["bilinear", "mixer"])
@pytest.mark.parametrize("name", VARIANTS)
def test_training_steps_along_the_variant_gradient(p3, arch, name):
    cfg = ModelConfig(arch=arch, tied=True, output_bias=True, **VARIANTS[name])
    run = train(p3, cfg, sgd())
    model = Model.from_corpus(p3, cfg, seed=0)
    pop = enumerate_population(p3, "train")
    for t in range(3):  # plain SGD written out with the model's own gradient
        _, _, G = model.loss_grad(pop)
        model.P -= 0.5 * G
        np.testing.assert_allclose(run.param_hist[t + 1], model.P, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(run.E_in[-1], model.E_in())  # what the input role reads, recorded
    np.testing.assert_array_equal(run.E_out[-1], model.E_out())
    # control: plain tying from the same start (the table's first V rows) takes another path
    plain = train(p3, dataclasses.replace(cfg, **{k: VARIANT_DEFAULTS[k] for k in VARIANTS[name]}), sgd())
    n = p3.vocab_size * cfg.d
    assert plain.param_hist[0][:n].tobytes() == run.param_hist[0][:n].tobytes()
    assert not np.allclose(plain.params[:n], run.params[:n], rtol=1e-6, atol=1e-8)


def test_sqrt_d_reads_the_table_times_sqrt_d(p3):
    cfg = ModelConfig(arch="transformer", tied=True, d=16, ff=8, input_multiplier="sqrt(d)")
    run = train(p3, cfg, sgd(2))
    emb = Model(run.model_cfg, P=run.params).views()["emb"]
    np.testing.assert_array_equal(run.E_in[-1], 4.0 * emb)
    np.testing.assert_array_equal(run.E_out[-1], emb)


@pytest.mark.parametrize("name", VARIANTS)
def test_cli_trains_each_variant_and_records_it(p3, tmp_path, name, capsys):
    corpus = tmp_path / "p3.npz"
    p3.save(corpus)
    common = ["train", "--corpus", str(corpus), "--arch", "lstm", "--tied", "--steps", "4", "--record-every", "2",
              "--eval-every", "2", "--no-progress"]
    assert main(common + ["-o", str(tmp_path / "flags")] + FLAGS[name]) == 0
    value = VARIANTS[name]
    line = capsys.readouterr().out  # the summary line names the variant, and a plain run's names none
    assert all(f" {k}=" in line for k in value), line
    assert main(common + ["-o", str(tmp_path / "plain")]) == 0
    assert not any(f" {k}=" in capsys.readouterr().out for k in VARIANT_DEFAULTS)
    toml = "".join(f"{k} = {json.dumps(v)}\n" for k, v in value.items())
    (tmp_path / "v.toml").write_text("[model]\n" + toml)
    assert main(common + ["-o", str(tmp_path / "toml"), "--config", str(tmp_path / "v.toml")]) == 0
    config = json.loads((tmp_path / "flags" / "config.json").read_text())
    for k, v in value.items():
        assert config["model"][k] == v
    a, b = (np.load(tmp_path / f / "embeddings.npz") for f in ("flags", "toml"))
    assert sorted(a.files) == sorted(b.files) and all(np.array_equal(a[f], b[f]) for f in a.files)
    run = Run.load(tmp_path / "flags")
    assert run.status == "completed" and np.all(np.isfinite(run.train_loss))
    assert run.model_cfg == Run.load(tmp_path / "toml").model_cfg
    assert Model(run.model_cfg, P=run.params).E_in().tobytes() == run.E_in[-1].tobytes()


def test_spec_keys_and_unchanged_run_ids():
    base = '[corpus]\ngenerator = "parity"\nbits = 3\n'
    plain = sp.expand(sp.tomllib.loads(base + "[model]\ntied = true\n"))[0]
    assert not set(VARIANT_DEFAULTS) & set(plain["model"])  # the config a spec resolved to before the variants
    neutral = sp.expand(sp.tomllib.loads(base + "[model]\ntied = true\ninput_grad_scale = 1\ntie_map = false\n"))[0]
    assert sp.run_id(neutral) == sp.run_id(plain)
    grid = sp.expand(sp.tomllib.loads(base + "[model]\ntied = true\ninput_grad_scale = [0.25, 4]\n"
                                             "input_multiplier = 'sqrt(d)'\ntied_dims = [0, 2]\n"))
    assert len({sp.run_id(c) for c in grid} | {sp.run_id(plain)}) == 5
    assert {(c["model"]["input_grad_scale"], c["model"]["tied_dims"]) for c in grid} == \
        {(0.25, 0), (0.25, 2), (4.0, 0), (4.0, 2)}
