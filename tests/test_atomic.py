"""Atomic writes: a failed or killed write leaves the old target whole, leftovers are cleaned, devices are refused."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tying.core import atomic
from tying.core.errors import InputError
from tying.generators.parity import parity_corpus

TYING = [sys.executable, "-m", "tying"]
# a write that stops after its bytes are in the temp file, until the file GO appears (or it is killed)
PAUSED = """
import os, sys, time
from pathlib import Path
real = os.fsync
def fsync(fd):
    real(fd)
    print("written", flush=True)
    while not Path("GO").exists():
        time.sleep(0.01)
os.fsync = fsync
from tying.experiments.cli import main
sys.exit(main(sys.argv[1:]))
"""


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("fails", ["os.fsync", "os.replace"])
def test_a_write_that_fails_halfway_leaves_the_old_target_and_no_partial_file(tmp_path, monkeypatch, fails):
    target = tmp_path / "t.txt"
    target.write_bytes(b"old")

    def boom(*args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, fails.split(".")[1], boom)
    with pytest.raises(OSError, match="No space"):
        atomic.write_bytes(target, b"new" * 1000)
    monkeypatch.undo()
    assert target.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["t.txt"]
    atomic.write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and sorted(os.listdir(tmp_path)) == ["t.txt"]


@pytest.fixture
def corpus(tmp_path):
    parity_corpus(3).save(tmp_path / "c.npz")
    return "c.npz"


def _paused_export(tmp_path, corpus):
    proc = subprocess.Popen([sys.executable, "-c", PAUSED, "export", corpus, "--format", "text", "-o", "out.txt",
                             "--force"], cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "written\n"
    return proc


def test_kill_9_mid_write_keeps_the_old_target_and_the_next_write_removes_the_leftover(tmp_path, corpus):
    (tmp_path / "out.txt").write_text("old\n")
    proc = _paused_export(tmp_path, corpus)
    proc.kill()  # SIGKILL: no cleanup runs
    proc.wait()
    assert (tmp_path / "out.txt").read_text() == "old\n"
    (left,) = leftovers(tmp_path)
    assert left.startswith(".out.txt.") and left.endswith(".tmp")
    (tmp_path / f".out.txt.b.{left[9:17]}.tmp").write_text("another target's")  # .out.txt.b.XXXXXXXX.tmp
    (tmp_path / ".out.txt.mine.tmp").write_text("not one of ours")
    res = subprocess.run(TYING + ["export", corpus, "--format", "text", "-o", "out.txt", "--force"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert leftovers(tmp_path) == [f".out.txt.b.{left[9:17]}.tmp", ".out.txt.mine.tmp"]
    assert (tmp_path / "out.txt").read_text().count("\n") == 8


def test_a_live_writers_temp_file_is_not_taken_for_a_leftover(tmp_path, corpus):
    (tmp_path / "out.txt").write_text("old\n")
    proc = _paused_export(tmp_path, corpus)
    try:
        (theirs,) = leftovers(tmp_path)
        atomic.write_text(tmp_path / "out.txt", "mine\n")  # a concurrent write of the same target
        assert leftovers(tmp_path) == [theirs] and (tmp_path / "out.txt").read_text() == "mine\n"
        (tmp_path / "GO").touch()
        assert proc.wait(120) == 0  # its rename still finds its temp file
    finally:
        (tmp_path / "GO").touch()
        proc.wait(120)
    assert leftovers(tmp_path) == [] and (tmp_path / "out.txt").read_text().count("\n") == 8


def test_a_leftover_temp_folder_of_a_run_is_removed_by_the_next_save(tmp_path):
    stale = tmp_path / ".run.abcd1234.tmp"
    stale.mkdir()
    (stale / "config.json").write_text("{half")
    with atomic.directory(tmp_path / "run") as tmp:
        (tmp / "x").write_text("x")
        assert not stale.exists()
    assert sorted(os.listdir(tmp_path)) == ["run"] and (tmp_path / "run" / "x").read_text() == "x"


@pytest.mark.parametrize("make", ["fifo", "symlink to /dev/full"])
def test_a_device_or_pipe_is_never_replaced(tmp_path, corpus, make):
    target = tmp_path / "out.txt"
    if make == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to("/dev/full")
    res = subprocess.run(TYING + ["export", corpus, "--format", "text", "-o", "out.txt", "--force"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "not a regular file" in res.stderr
    assert target.is_fifo() if make == "fifo" else os.readlink(target) == "/dev/full"
    with pytest.raises(InputError, match="not a regular file"):  # and the writer itself refuses too
        atomic.write_bytes(target, b"x")
    with pytest.raises(InputError, match="not a folder"):
        with atomic.directory(target, force=True):
            pass
    assert sorted(os.listdir(tmp_path)) == ["c.npz", "out.txt"]
