"""Ctrl-C, as a real SIGINT: to this process around interrupt.deferred(), and to the real commands in subprocesses."""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tying.core import interrupt
from tying.generators.parity import parity_corpus
from tying.models.config import ModelConfig, TrainConfig
from tying.models.run import Run
from tying.models.train import train

TYING = [sys.executable, "-m", "tying"]
DEADLINE = 120  # seconds any wait below may take on a loaded machine before the test gives up


# ---------------------------------------------------------------- the mechanism, with real signals to this process
def test_inside_a_block_ctrl_c_waits_for_check():
    with pytest.raises(KeyboardInterrupt):
        with interrupt.deferred():
            signal.raise_signal(signal.SIGINT)
            reached = True  # the default handler would have raised before this line
            interrupt.check()
            reached_after_check = True
    assert reached and "reached_after_check" not in locals()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_ctrl_c_after_the_last_check_is_raised_at_the_end_of_the_outermost_block():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with interrupt.deferred():
            with interrupt.deferred():  # nested: the outer block owns the signal
                signal.raise_signal(signal.SIGINT)
                done.append("inner")
            done.append("outer")
    assert done == ["inner", "outer"]
    with interrupt.deferred():  # the flag does not outlive its block
        interrupt.check()


def test_a_process_that_ignores_sigint_keeps_ignoring_it():
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interrupt.deferred():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            signal.raise_signal(signal.SIGINT)
            interrupt.check()  # nothing pending: the signal was ignored
    finally:
        signal.signal(signal.SIGINT, old)


def test_an_interrupt_wrapped_by_numba_is_recognised():
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as e:
            raise SystemError("CPUDispatcher(<function train_steps>) returned a result with an exception set") from e
    except SystemError as e:
        assert interrupt.caused_by_interrupt(e)
    assert not interrupt.caused_by_interrupt(SystemError("a real bug"))


# ---------------------------------------------------------------- the commands
def _start(args, cwd, **kw):
    return subprocess.Popen(TYING + args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _wait_for(what, condition, proc):
    deadline = time.time() + DEADLINE
    while not condition():
        assert proc.poll() is None, f"the command ended before {what}: {proc.communicate()}"
        if time.time() >= deadline:
            _kill(proc)  # a failed wait must not leave a command training on in the background
            raise AssertionError(f"no {what} after {DEADLINE} s")
        time.sleep(0.02)


def _kill(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL) if os.getpgid(proc.pid) == proc.pid else proc.kill()
    except ProcessLookupError:
        pass
    proc.wait()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")


def test_ctrl_c_mid_training_saves_the_run_up_to_its_last_record(tmp_path):
    # parity-7 batches of 1024 keep the process inside the numba loop nearly all the time, where Python's
    # own handler turned Ctrl-C into a SystemError traceback
    parity_corpus(7).save(tmp_path / "p7.npz")
    cfg = ["--steps", "1000000", "--record-every", "100", "--eval-every", "100"]
    proc = _start(["train", "--corpus", "p7.npz", "-o", "run", *cfg], tmp_path)
    err, seen = [], []

    def read():  # tqdm redraws "N/1000000" on stderr
        for chunk in iter(lambda: proc.stderr.read(64), ""):
            err.append(chunk)
            seen.extend(int(n) for n in re.findall(r"(\d+)/1000000", "".join(err)[-200:]))
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    _wait_for("200 steps", lambda: seen and max(seen) >= 200, proc)
    proc.send_signal(signal.SIGINT)
    out = proc.stdout.read()
    proc.wait(DEADLINE)
    reader.join(DEADLINE)
    err = "".join(err)
    assert "Traceback" not in err and proc.returncode == 130, err
    assert err.rsplit("\r", 1)[-1].strip().endswith("tying train: interrupted")
    run = Run.load(tmp_path / "run")
    last = run.final_step
    assert run.status == "interrupted" and f"steps 0..{last} of 1000000" in run.message and "interrupted" in out
    assert last >= 100 and last % 100 == 0
    assert run.steps[-1] == run.emb_steps[-1] == run.val_steps[-1] == last
    # the saved parameters and curves are those of an uninterrupted run of `last` steps
    ref = train(parity_corpus(7), ModelConfig(),
                TrainConfig(steps=last, record_every=100, eval_every=100, progress=False), progress=False)
    assert run.params.tobytes() == ref.params.tobytes()
    assert run.train_loss.tobytes() == ref.train_loss.tobytes() and run.val_loss.tobytes() == ref.val_loss.tobytes()


API_TRAIN = """
import sys
from tying.generators import parity_corpus
from tying.models import ModelConfig, TrainConfig, train
try:
    train(parity_corpus(7), ModelConfig(), TrainConfig(steps=1_000_000, record_every=100, eval_every=100),
          progress=False, out_dir="run")
except KeyboardInterrupt:
    print("KeyboardInterrupt after train returned")
"""


@needs_proc
def test_ctrl_c_mid_training_through_the_python_api_saves_the_run_then_raises(tmp_path):
    # train() itself defers Ctrl-C (no caller's block here): the run is saved as interrupted, then it raises
    proc = subprocess.Popen([sys.executable, "-c", API_TRAIN], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _wait_for("training", lambda: _cpu_seconds(proc.pid) > 4, proc)  # imports and kernel loading: ~2 s of CPU
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=DEADLINE)
    assert (proc.returncode, out) == (0, "KeyboardInterrupt after train returned\n"), err
    run = Run.load(tmp_path / "run")
    assert run.status == "interrupted" and run.final_step >= 100 and run.final_step % 100 == 0


@needs_proc
def test_ctrl_c_mid_sampling_stops_generate_pcfg_with_nothing_written(tmp_path):
    env = {**os.environ, "TYING_MAX_SEQUENCES": str(10**12)}
    proc = _start(["generate", "pcfg", "--sequences", str(10**12), "-o", "g.npz"], tmp_path, env=env)
    _wait_for("sampling", lambda: _cpu_seconds(proc.pid) > 3, proc)  # the imports take about 1 s of CPU
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=DEADLINE)
    assert (proc.returncode, out, err) == (130, "", "tying generate: interrupted\n")
    assert os.listdir(tmp_path) == []


SWEEP = """
seeds = [0, 1, 2, 3]
[corpus]
generator = "parity"
bits = 6
[train]
steps = 30000
[record]
every = 10000
"""  # long enough that a run outlasts the test's 1.5 s of waiting at ~10k steps/s (2-3k here)


@needs_proc
def test_ctrl_c_stops_every_sweep_worker_records_no_run_as_failed_and_the_sweep_resumes(tmp_path):
    (tmp_path / "s.toml").write_text(SWEEP)
    args = ["sweep", "s.toml", "-o", "out", "--workers", "2", "--no-progress"]
    proc = _start(args, tmp_path, start_new_session=True)
    logs, runs = tmp_path / "out" / "logs", tmp_path / "out" / "runs"

    def training():  # two runs in flight, both past loading their corpus
        live = list(logs.glob("*.log")) if logs.is_dir() else []
        return len(live) == 2 and all(" sequences, " in p.read_text() for p in live)
    _wait_for("two runs in training", training, proc)
    in_flight = {p.stem: int(re.search(r" on \S+:(\d+): ", p.read_text()).group(1)) for p in logs.glob("*.log")}
    time.sleep(0.5)  # deep in the numba loop, where the workers' own Ctrl-C used to land (a run takes > 3 s)
    for pid in in_flight.values():  # the workers' share of a terminal's Ctrl-C, first on its own
        os.kill(pid, signal.SIGINT)
    time.sleep(1)  # time for a worker that took it to record its run as failed, or to stop the sweep
    assert proc.poll() is None  # the driver alone decides what stops
    before = {p.name for p in runs.iterdir() if (p / "summary.json").is_file()}
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal does: every process of the group gets it
    out, err = proc.communicate(timeout=DEADLINE)
    assert (proc.returncode, err) == (130, "tying sweep: interrupted\n")
    deadline = time.time() + 30
    while not all(_gone(pid) for pid in in_flight.values()):
        assert time.time() < deadline, "a worker outlived the sweep"
        time.sleep(0.05)
    # no run finished or started after the Ctrl-C, and no half-made run or temp folder is left
    assert {p.name for p in runs.iterdir()} == before and not before & set(in_flight)
    finished = {p.name: json.loads((p / "summary.json").read_text()) for p in runs.iterdir()}
    assert all(s["status"] == "completed" for s in finished.values())  # none recorded as failed
    assert list(logs.iterdir()) == []

    res = subprocess.run(TYING + args, cwd=tmp_path, capture_output=True, text=True, timeout=DEADLINE)
    assert res.returncode == 0 and res.stdout.strip().endswith("4 runs in out: 4 completed"), res
    for rid, s in finished.items():  # the runs finished before the Ctrl-C were kept, not run again
        assert json.loads((runs / rid / "summary.json").read_text()) == s
    assert len(list(runs.iterdir())) == 4
