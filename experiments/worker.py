"""One run of a sweep, in a worker process: corpus (cached), training, summary.

``execute(fn, config, out_root)`` is what the executor runs.  It gives every
run function the same guarantees: the run is built in a temp folder that
becomes ``OUT/runs/<run_id>/`` in one rename when it is complete, its log is
``OUT/logs/<run_id>.log`` while it runs and ``log.txt`` in its folder after,
and an exception is recorded as status ``failed`` instead of escaping.  The
folder's ``summary.json`` (written last) is the completion marker.

A run function is ``fn(config, out_root, run_dir) -> dict``: it writes what it
wants into ``run_dir`` and returns a summary (``status`` defaults to
"completed"; "diverged" is a finished run too).  ``run_one`` is the real one.
"""
from __future__ import annotations

import json
import logging
import math
import os
import shutil
import signal
import socket
import threading
import time
import traceback
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from tying.core import atomic
from tying.generators import Corpus
from tying.core.errors import InputError

from .corpora import generator_function
from .spec import canonical, content_hash, run_id

log = logging.getLogger("tying.run")
FINISHED = ("completed", "diverged")  # a restarted sweep skips these; failed/interrupted runs run again


# ---------------------------------------------------------------------------- corpora
def corpus_file(cfg: dict, out_root) -> Path:
    return Path(out_root) / "corpora" / f"{content_hash(cfg)}.npz"


def build_corpus(cfg: dict) -> Corpus:
    options = {k: v for k, v in cfg.items() if k != "generator"}
    return generator_function(cfg["generator"])(**options)


def load_corpus(cfg: dict, out_root) -> Corpus:
    """The corpus of a resolved [corpus] config, built once per content hash into OUT/corpora/.

    Two workers that build the same corpus at once write identical bytes (seeded
    generators) and each rename is atomic, so the race costs only time.
    """
    path = corpus_file(cfg, out_root)
    if path.is_file():
        return Corpus.load(path)
    corpus = build_corpus(cfg).validate()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(path, corpus.to_bytes())
    return corpus


def resolve_pairs(corpus: Corpus, pairs) -> list[tuple[int, int]]:
    """Symbol pairs as ids: names or ids from the spec, or the corpus's recorded relations."""
    if pairs is None:
        return [(int(r["a"]), int(r["b"])) for r in corpus.relations]
    out = []
    for p in pairs:
        if len(p) != 2:
            raise InputError(f"record.pairs: a pair needs two symbols, got {p!r}")
        ids = []
        for s in p:
            if isinstance(s, str):
                ids.append(corpus.symbol_id(s))
            elif isinstance(s, int) and 0 <= s < corpus.vocab_size:
                ids.append(s)
            else:
                raise InputError(f"record.pairs: symbol {s!r} is not in the corpus vocabulary")
        out.append(tuple(ids))
    return out


# ---------------------------------------------------------------------------- the real run
def run_one(config: dict, out_root: str, run_dir: str) -> dict:
    """Build (or reuse) the corpus, train, save the Run into run_dir, return its summary."""
    from tying.models import ModelConfig
    from tying.models import train

    corpus = load_corpus(config["corpus"], out_root)
    pairs = resolve_pairs(corpus, config["record"]["pairs"])
    tc = train_config(config)
    log.info("corpus %s: %d sequences, %d symbols", corpus_file(config["corpus"], out_root).name,
             corpus.n_sequences, corpus.vocab_size)
    run = train(corpus, ModelConfig(**config["model"]), tc, progress=False)
    log.info("%s: %s", run.status, run.message)
    run.write_into(run_dir)  # run_dir is already the temp folder that execute() renames into place
    return summarize(run, corpus, pairs)


def train_config(config: dict):
    """The TrainConfig of a resolved run config (its [train] section and the record intervals)."""
    from tying.models import TrainConfig

    rec = config["record"]
    return TrainConfig(**config["train"], record_every=rec["every"], eval_every=rec["eval_every"], progress=False)


def summarize(run, corpus: Corpus, pairs) -> dict:
    """The run's final numbers: last train/validation point and the final distance of each pair."""
    def last(a):
        return _finite(a[-1]) if len(a) else None

    s = {"status": run.status, "message": run.message, "final_step": run.final_step,
         "train_loss": last(run.train_loss), "train_acc": last(run.train_acc),
         "val_loss": last(run.val_loss), "val_acc": last(run.val_acc),
         "fit_loss": last(run.fit_loss), "fit_acc": last(run.fit_acc),
         "best_val_acc": _finite(max(run.val_acc)) if len(run.val_acc) else None}
    if pairs:
        d_in, d_out = run.distances(pairs, "in")[-1], run.distances(pairs, "out")[-1]
        s["distances"] = [{"a": a, "b": b, "a_name": corpus.vocab[a], "b_name": corpus.vocab[b],
                           "in": _finite(x), "out": _finite(y)} for (a, b), x, y in zip(pairs, d_in, d_out)]
    return s


def _finite(x):
    x = float(x)
    return x if math.isfinite(x) else None  # summary.json stays strict JSON


# ---------------------------------------------------------------------------- the guarantees
def init_process() -> None:
    """The initializer of a local pool's worker process."""
    # A Ctrl-C at a terminal reaches every process of the group; the driver alone decides what stops,
    # and it ends the workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # tqdm's default lock is a named semaphore, which a worker ended mid-run leaves behind for
    # multiprocessing to warn about; a worker's bars are all disabled, so a thread lock serves.
    tqdm.set_lock(threading.RLock())


def execute(fn, config: dict, out_root: str) -> dict:
    """Run fn on one config with an atomic run folder, a log and failure capture; return the summary."""
    out, rid = Path(out_root), run_id(config)
    live = out / "logs" / f"{rid}.log"
    live.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with atomic.directory(out / "runs" / rid, force=True) as tmp:
        with _log_to(live):
            log.info("run %s on %s: %s", rid, _where(), canonical(config))
            try:
                # round-trip through strict JSON now, so a bad summary fails this run only
                summary = json.loads(json.dumps(dict(fn(config, str(out), str(tmp)) or {}), allow_nan=False))
            except Exception as e:  # one broken run must not stop the sweep
                log.error("failed:\n%s", traceback.format_exc())
                summary = {"status": "failed", "message": f"{type(e).__name__}: {e}"}
            log.info("run %s %s after %.1f s", rid, summary.get("status", "completed"), time.time() - t0)
        summary = finish(tmp, config, summary, time.time() - t0, live)
    live.unlink(missing_ok=True)
    return summary


def record_failure(config: dict, out_root: str, error: BaseException) -> dict:
    """Record a run that died outside fn (a lost worker process, say) as failed."""
    out, rid = Path(out_root), run_id(config)
    live = out / "logs" / f"{rid}.log"
    summary = {"status": "failed", "message": f"{type(error).__name__}: {error}"}
    with atomic.directory(out / "runs" / rid, force=True) as tmp:
        summary = finish(tmp, config, summary, 0.0, live)
    live.unlink(missing_ok=True)
    return summary


def finish(folder: Path, config: dict, summary: dict, seconds: float, log_file: Path) -> dict:
    summary = {"run_id": run_id(config), "status": "completed", "message": "", **summary,
               "seconds": round(seconds, 3), "worker": _where(), "config": config}
    if log_file.is_file():
        shutil.copyfile(log_file, Path(folder) / "log.txt")
    (Path(folder) / "summary.json").write_text(json.dumps(summary, indent=1, allow_nan=False) + "\n")
    return summary


def finished(run_dir) -> dict | None:
    """The summary of a finished run folder, else None."""
    try:
        summary = json.loads((Path(run_dir) / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    return summary if summary.get("status") in FINISHED else None


def _where() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@contextmanager
def _log_to(path: Path):
    """Send this thread's "tying" log records to path (a Dask worker may run other runs in other threads)."""
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    me = threading.get_ident()
    handler.addFilter(lambda r: r.thread == me)
    logger = logging.getLogger("tying")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()
