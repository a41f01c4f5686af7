"""The sweep runner: every run of a spec, through a ``concurrent.futures.Executor``.

Locally that is a process pool with one worker per core; ``dask="tcp://..."``
sends the same runs to a Dask cluster through ``Client(address).get_executor()``
(the optional extra ``dask``; the workers must see OUT on a shared filesystem).

The output folder::

    OUT/sweep.json            the spec and its run ids (of the latest sweep into OUT)
    OUT/corpora/<hash>.npz    each distinct corpus, built once (in the driver, before any run)
    OUT/runs/<run_id>/        a finished run: summary.json (the completion marker), log.txt,
                              and what the run function saved (config.json, metrics.csv, embeddings.npz)
    OUT/logs/<run_id>.log     the log of a run in flight
    OUT/results.csv           one row per recorded run (status, final numbers, config), for pandas

Restarting after a kill: a run folder appears in one rename when the run is
complete, so a restarted sweep skips every run whose folder holds a
completed or diverged summary, reruns failed or interrupted ones, and loses at
most the runs that were in flight.  It first deletes the leftovers of the
killed sweep (temp folders, logs).  A lock file keeps two sweeps out of one OUT.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import multiprocessing
import os
import shutil
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from generators import atomic
from generators.errors import InputError
from models.config import ModelConfig

from . import worker
from .spec import Spec, content_hash, load_spec, run_id
from .worker import run_one

DASK_TIMEOUT = "10s"  # to reach the scheduler


def sweep(spec_or_path, out_dir, workers: int | None = None, dask: str | None = None, fn=run_one,
          progress: bool = True) -> list[dict]:
    """Run every unfinished run of the spec into out_dir; return all its summaries in grid order."""
    spec: Spec = load_spec(spec_or_path)
    out = Path(out_dir).resolve()
    fresh = not out.exists()
    for sub in ("runs", "logs", "corpora"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    with _lock(out):
        clean(out)
        try:
            prepare(spec, out)
        except InputError:
            if fresh:  # bad input leaves no trace; an existing folder keeps its finished runs
                shutil.rmtree(out)
            raise
        atomic.write_text(out / "sweep.json", json.dumps(
            {"name": spec.name, "spec": spec.source, "runs": spec.ids}, indent=1, default=str) + "\n")
        done = {rid: s for rid in spec.ids if (s := worker.finished(out / "runs" / rid))}
        todo = [c for c in spec.runs if run_id(c) not in done]
        counts = Counter(s["status"] for s in done.values())
        bar = tqdm(total=len(spec.runs), initial=len(done), desc=spec.name, unit="run", disable=not progress,
                   dynamic_ncols=True)
        try:
            if todo:
                with executor(workers, dask) as ex:
                    futures = {ex.submit(worker.execute, fn, c, str(out)): c for c in todo}
                    for f in as_completed(futures):
                        try:
                            s = f.result()
                        except Exception as e:  # the worker itself died; fn's own errors never get here
                            s = worker.record_failure(futures[f], str(out), e)
                        done[s["run_id"]] = s
                        counts[s["status"]] += 1
                        bar.set_postfix(counts, refresh=False)
                        bar.update(1)
        finally:
            bar.close()
        load_results(out)
    return [done[rid] for rid in spec.ids]


def load_results(out_dir) -> list[dict]:
    """The summaries of every run recorded in out_dir (sorted by run id); also writes OUT/results.csv."""
    out = Path(out_dir)
    if not (out / "runs").is_dir():
        raise InputError(f"no sweep results in {out} (it has no runs/ folder)")
    summaries = []
    for d in sorted((out / "runs").iterdir()):
        if d.name.startswith("."):
            continue
        with contextlib.suppress(OSError, ValueError):
            summaries.append(json.loads((d / "summary.json").read_text()))
    rows = [_flat(s) for s in summaries]
    columns = list(dict.fromkeys(k for r in rows for k in r if "." not in k))
    columns += sorted({k for r in rows for k in r if "." in k})
    buf = io.StringIO()
    w = csv.DictWriter(buf, columns, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic.write_text(out / "results.csv", buf.getvalue())
    return summaries


def _flat(summary: dict) -> dict:
    """A CSV row: config options as "section.key" columns, lists and tables as JSON."""
    row = {k: v for k, v in summary.items() if k != "config"}
    for section, options in summary.get("config", {}).items():
        row.update({f"{section}.{k}": v for k, v in options.items()})
    return {k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in row.items()}


# ---------------------------------------------------------------------------- before the runs
def clean(out: Path) -> None:
    """Delete what a killed sweep left behind: temp folders/files, folders without a summary, logs."""
    for sub in ("runs", "corpora"):
        for p in (out / sub).iterdir():
            if p.name.startswith(".") or (sub == "runs" and not (p / "summary.json").is_file()):
                shutil.rmtree(p) if p.is_dir() else p.unlink()
    for p in (out / "logs").iterdir():
        p.unlink()


def prepare(spec: Spec, out: Path) -> None:
    """Build each distinct corpus once and check every run against it, so bad input fails before any run."""
    corpora = {}
    for cfg in spec.runs:
        key = content_hash(cfg["corpus"])
        if key not in corpora:
            corpora[key] = worker.load_corpus(cfg["corpus"], out)
        c = corpora[key]
        worker.resolve_pairs(c, cfg["record"]["pairs"])
        ModelConfig(**cfg["model"]).fit(c.vocab_size, c.max_len, c.task)


@contextlib.contextmanager
def _lock(out: Path):
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock
        yield
        return
    with open(out / ".lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(f"another sweep is running in {out}") from None
        yield  # the kernel drops the lock when the process dies, even by SIGKILL


# ---------------------------------------------------------------------------- executors
def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextlib.contextmanager
def executor(workers: int | None = None, dask: str | None = None):
    """A concurrent.futures executor: a local process pool, or a Dask cluster's."""
    if dask:
        try:
            from distributed import Client
        except ImportError:
            raise InputError("--dask needs the optional dask extra: pip install 'tying[dask]'") from None
        try:
            client = Client(dask, timeout=DASK_TIMEOUT)
        except (OSError, TimeoutError, ValueError) as e:
            raise InputError(f"cannot connect to the Dask scheduler at {dask} ({e})") from None
        try:
            yield client.get_executor(pure=False)
        finally:
            client.close()
        return
    n = default_workers() if workers is None else workers
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"workers must be a positive integer, got {workers!r}")
    # forkserver: workers start from a clean process, not a fork of one holding threads (tqdm, numba)
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    ex = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context(method))
    try:
        yield ex
    except BaseException:
        ex.shutdown(wait=False, cancel_futures=True)
        raise
    ex.shutdown(wait=True)


def _positive_int(text: str) -> int:
    import argparse

    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return n


def add_executor_args(parser) -> None:
    """The --workers / --dask options, for every command that runs a sweep."""
    parser.add_argument("--workers", type=_positive_int, default=None, metavar="N",
                        help="local worker processes (default: one per core)")
    parser.add_argument("--dask", default=None, metavar="ADDRESS",
                        help="run on a Dask distributed cluster, e.g. tcp://host:8786 (extra 'dask'); "
                        "the workers must see the output folder")
