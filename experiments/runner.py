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

Ctrl-C: local workers ignore SIGINT (a terminal sends it to every process of
the group); the driver ends them at once, deletes their half-made runs,
records none of them and exits, so the same command resumes.  A Dask cluster
cannot stop a run that has started (see ``executor``).
"""
from __future__ import annotations

import contextlib
import csv
import importlib.util
import io
import json
import multiprocessing
import multiprocessing.forkserver
import os
import shutil
import signal
import threading
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from tqdm import tqdm

from tying.core import atomic, interrupt
from tying.core.errors import InputError
from tying.models import ModelConfig, check_memory

from . import worker
from .spec import Spec, content_hash, load_spec, run_id
from .worker import run_one

DASK_TIMEOUT = "10s"  # to reach the scheduler


def sweep(spec_or_path, out_dir, workers: int | None = None, dask: str | None = None, fn=run_one,
          progress: bool = True) -> list[dict]:
    """Run every unfinished run of the spec into out_dir; return all its summaries in grid order."""
    spec: Spec = load_spec(spec_or_path)
    out = Path(out_dir).resolve()
    check_executor(workers, dask)  # a missing extra or a bad worker count, before any folder is made
    if out.exists() and not out.is_dir():
        raise InputError(f"output path {out_dir} is not a folder")
    fresh = not out.exists()
    for sub in ("runs", "logs", "corpora"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    with _lock(out):
        clean(out)
        done = {rid: s for rid in spec.ids if (s := worker.finished(out / "runs" / rid))}
        todo = [c for c in spec.runs if run_id(c) not in done]
        counts = Counter(s["status"] for s in done.values())
        try:
            # the executor first, so that an unreachable scheduler is known before the corpora are built
            with executor(workers, dask) if todo else contextlib.nullcontext() as ex:
                prepare(spec, out)
                atomic.write_text(out / "sweep.json", json.dumps(
                    {"name": spec.name, "spec": spec.source, "runs": spec.ids}, indent=1, default=str) + "\n")
                if todo:
                    _run_all(ex, fn, todo, out, done, counts, spec.name, len(spec.runs), progress)
        except InputError:
            if fresh:  # bad input leaves no trace; an existing folder keeps its finished runs
                shutil.rmtree(out)
            raise
        except KeyboardInterrupt:  # the workers are stopped: delete their half-made runs, record none of them
            clean(out)
            raise
        load_results(out)
    return [done[rid] for rid in spec.ids]


def _run_all(ex, fn, todo: list, out: Path, done: dict, counts: Counter, name: str, total: int, progress: bool):
    bar = tqdm(total=total, initial=len(done), desc=name, unit="run", disable=not progress, dynamic_ncols=True)
    try:
        with interrupt.deferred():  # a Ctrl-C mid-submit would leave a worker process the pool does not know
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
        check_memory(ModelConfig(**cfg["model"]).fit(c.vocab_size, c.max_len, c.task), worker.train_config(cfg))


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


def check_executor(workers: int | None = None, dask: str | None = None) -> None:
    """Refuse a worker count that is not a positive integer, and --dask without the extra."""
    if dask:
        if importlib.util.find_spec("distributed") is None:
            raise InputError("--dask needs the optional dask extra: pip install 'tying[dask]'")
    elif workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise InputError(f"workers must be a positive integer, got {workers!r}")


@contextlib.contextmanager
def executor(workers: int | None = None, dask: str | None = None):
    """A concurrent.futures executor: a local process pool, or a Dask cluster's.

    Leaving it by an exception (Ctrl-C) stops the local workers at once; their runs in flight
    are lost and recorded nowhere.  A Dask cluster cancels the runs that have not started, but
    cannot stop a running one: it finishes on its worker and appears in OUT/runs/ when complete.
    """
    check_executor(workers, dask)
    if dask:
        try:
            from distributed import Client
        except ImportError:  # found but broken
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
    ex = ProcessPoolExecutor(default_workers() if workers is None else workers, mp_context=_pool_context(),
                             initializer=worker.init_process)
    try:
        yield ex
    except BaseException:
        _stop(ex)
        raise
    ex.shutdown(wait=True)


def _pool_context():
    # forkserver: workers start from a clean process, not a fork of one holding threads (tqdm, numba)
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    # A worker is forked from the forkserver and gets the SIGINT disposition the forkserver started with.
    # Started while SIGINT is ignored, it keeps ignoring it (an ignored signal stays ignored across exec,
    # and Python then installs no handler), so no worker can take a Ctrl-C before its initializer runs.
    if threading.current_thread() is threading.main_thread():
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            multiprocessing.forkserver.ensure_running()
        finally:
            signal.signal(signal.SIGINT, old)
    return multiprocessing.get_context("forkserver")


def _stop(ex: ProcessPoolExecutor) -> None:
    """Cancel the runs not started and end the workers now, so none keeps writing into OUT unlocked."""
    procs = list((getattr(ex, "_processes", None) or {}).values())  # the pool has no public way to kill
    ex.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        p.terminate()
    for p in procs:
        p.join(10)
        if p.is_alive():
            p.kill()
            p.join()
    ex.shutdown(wait=True)  # the pool's own thread sees them gone and releases its queues
