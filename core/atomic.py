"""Atomic writes: a temp file (or folder) in the destination's folder, then a rename.

An interrupted command therefore leaves either the old state or the new one,
never a half-written corpus, run or figure.  Only a regular file (or, for a
run, a folder) is ever replaced: a device, pipe or socket at the target is
refused, since a rename would put a file in its place.

A writer holds an exclusive ``flock`` on its temp file or folder while it
works.  A write killed by SIGKILL leaves its ``.NAME.XXXXXXXX.tmp`` behind with
no lock on it (the kernel drops locks with the process), so the next write of
the same target deletes every such leftover it can lock, and never one that a
live writer, here or on another host of a shared filesystem, still holds.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from .errors import InputError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no locks, so leftovers are never deleted
    fcntl = None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _kind(path: Path) -> str:
    return "folder" if path.is_dir() else "file" if path.is_file() else "special"


def check_target(path: str | os.PathLike, force: bool, folder: bool = False) -> Path:
    """Refuse an output path that exists (unless ``force``), has the wrong kind, or cannot be written."""
    path = Path(path)
    if path.exists():
        if _kind(path) == "special":
            raise InputError(f"output path {path} is not a regular file or folder (a device, pipe or socket); "
                             "refusing to replace it")
        if not force:
            raise InputError(f"output path exists: {path} (use --force to overwrite)")
        if path.is_dir() != folder:
            raise InputError(f"output path {path} is a {_kind(path)}; expected a {'folder' if folder else 'file'}")
    parent = path.parent
    if not parent.is_dir():
        raise InputError(f"output folder does not exist: {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"output folder is not writable: {parent}")
    return path


# ---------------------------------------------------------------------------- temp files, locked while in use
def _try_lock(fd: int, wait: bool) -> bool:
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except OSError:  # held by a live writer (or this filesystem has no locks: then assume it is held)
        return False
    return True


def _claim(make) -> tuple[int, str]:
    """A new temp path from make() and a locked descriptor of it.  A cleaner may take the fresh path for a
    leftover before it is locked; then the path no longer holds what the descriptor locks, and we retry."""
    while True:
        tmp = make()
        fd = os.open(tmp, os.O_RDONLY)
        _try_lock(fd, wait=True)
        with contextlib.suppress(FileNotFoundError):
            if os.stat(tmp).st_ino == os.fstat(fd).st_ino:
                return fd, tmp
        os.close(fd)


def clean_leftovers(path: str | os.PathLike) -> None:
    """Delete the temp files and folders of earlier writes of path whose writers are gone."""
    path = Path(path)
    if fcntl is None or not path.parent.is_dir():
        return
    pattern = re.compile(re.escape(f".{path.name}.") + r"[a-z0-9_]{8}\.(tmp|old)")
    for entry in os.scandir(path.parent):
        if not pattern.fullmatch(entry.name):
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            if _try_lock(fd, wait=False):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
        except FileNotFoundError:
            pass
        finally:
            os.close(fd)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    if path.exists() and not path.is_file():
        raise InputError(f"output path {path} is not a regular file; refusing to replace it")
    clean_leftovers(path)
    lock, tmp = _claim(lambda: _mkstemp(path))
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    finally:
        os.close(lock)


def _mkstemp(path: Path) -> str:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return tmp


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def directory(path: str | os.PathLike, force: bool = False):
    """Yield a temp folder; on success it replaces ``path`` in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and not path.is_dir():
        raise InputError(f"output path {path} is not a folder; refusing to replace it")
    clean_leftovers(path)
    lock, tmp = _claim(lambda: tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    tmp = Path(tmp)
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        yield tmp
        if path.exists():
            if not force:
                raise InputError(f"output path exists: {path} (use --force to overwrite)")
            old_lock, old = _claim(lambda: tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            try:
                os.replace(path, Path(old) / "x")
                os.replace(tmp, path)
                shutil.rmtree(old, ignore_errors=True)
            finally:
                os.close(old_lock)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        os.close(lock)
