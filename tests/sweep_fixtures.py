"""Run functions for the sweep tests; a module of its own so worker processes can import them.

Each call leaves marker files in OUT/marks/ (``<run_id>.<unique>.start`` and
``.end``), so a test can count how often each run's function actually ran.
"""
from __future__ import annotations

import logging
import os
import time
import uuid
from pathlib import Path

from tying.experiments.spec import run_id

SPEC = """
name = "fixture"
seeds = {seeds}
[corpus]
generator = "parity"
bits = 2
splits = [0.5, 0.5, 0.0]
[train]
steps = 1
"""


def write_spec(path: Path, seeds) -> Path:
    path.write_text(SPEC.format(seeds=list(seeds)))
    return path


def marks(out: Path, rid: str, kind: str) -> int:
    return len(list((Path(out) / "marks").glob(f"{rid}.*.{kind}")))


def slow(config, out_root, run_dir, delay=0.0, fail_seed=None, diverge_seed=None, hold_from=None):
    """Write a payload in two halves with a sleep between; fail or diverge on request by seed.

    Seeds >= hold_from wait halfway until the file OUT/release exists (at most a minute).
    """
    rid, seed = run_id(config), config["train"]["seed"]
    tag = f"{rid}.{os.getpid()}.{uuid.uuid4().hex}"
    folder = Path(out_root) / "marks"
    folder.mkdir(exist_ok=True)
    (folder / f"{tag}.start").touch()
    payload = Path(run_dir) / "payload.txt"
    payload.write_text("half-written ")
    time.sleep(delay)
    deadline = time.time() + 60
    while hold_from is not None and seed >= hold_from and not (Path(out_root) / "release").exists():
        if time.time() > deadline:
            raise TimeoutError("nobody released the held run")
        time.sleep(0.01)
    if seed == fail_seed:
        raise RuntimeError(f"seed {seed} is cursed")
    payload.write_text(rid)
    logging.getLogger("tying.run").info("payload of seed %d written", seed)
    (folder / f"{tag}.end").touch()
    return {"status": "diverged" if seed == diverge_seed else "completed", "seed": seed}
