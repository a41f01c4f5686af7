"""The sweep runner on a real local Dask cluster (the optional extra ``dask``)."""
from __future__ import annotations

import functools
import os

import pytest

import sweep_fixtures as fx
from tying.experiments import spec as sp, runner as sw
from tying.experiments.runner import sweep
from tying.core.errors import InputError
from tying.models.run import Run

LocalCluster = pytest.importorskip("distributed").LocalCluster  # CI installs the extra, so these run there


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


def test_a_sweep_runs_on_a_dask_cluster(cluster, tmp_path):
    spec, out = fx.write_spec(tmp_path / "s.toml", range(3)), tmp_path / "out"
    fn = functools.partial(fx.slow, fail_seed=1)
    res = sweep(spec, out, dask=cluster.scheduler_address, fn=fn, progress=False)
    assert [r["status"] for r in res] == ["completed", "failed", "completed"]
    assert res[1]["message"] == "RuntimeError: seed 1 is cursed"
    pids = {int(r["worker"].rsplit(":", 1)[1]) for r in res}
    assert len(pids) == 1 and os.getpid() not in pids  # ran in the cluster's worker process
    ids = sp.load_spec(spec).ids
    assert all((out / "runs" / rid / "payload.txt").read_text() == rid for rid in (ids[0], ids[2]))
    sweep(spec, out, dask=cluster.scheduler_address, fn=fn, progress=False)
    assert [fx.marks(out, rid, "start") for rid in ids] == [1, 2, 1]  # only the failed run ran again


def test_the_real_worker_runs_on_a_dask_cluster(cluster, tmp_path):
    spec = tmp_path / "real.toml"
    spec.write_text("""
[corpus]
generator = "parity"
bits = 3
splits = [0.75, 0.25, 0.0]
[model]
arch = "bilinear"
tied = true
[train]
steps = 10
[record]
every = 5
""")
    (r,) = sweep(spec, tmp_path / "out", dask=cluster.scheduler_address, progress=False)
    assert r["status"] == "completed", r["message"]
    run = Run.load(tmp_path / "out" / "runs" / r["run_id"])
    assert run.final_step == 10 and list(run.emb_steps) == [0, 5, 10] and run.model_cfg.tied


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:1", "nonsense://x"])
def test_an_unreachable_scheduler_is_an_input_error(address, monkeypatch, tmp_path):
    monkeypatch.setattr(sw, "DASK_TIMEOUT", "0.5s")
    with pytest.raises(InputError, match="cannot connect to the Dask scheduler at " + address):
        sweep(fx.write_spec(tmp_path / "s.toml", [0]), tmp_path / "out", dask=address, fn=fx.slow, progress=False)
    assert sorted(os.listdir(tmp_path)) == ["s.toml"]  # the new output folder is gone, and it held no corpus
