"""Atomic writes: a temp file (or folder) in the destination's folder, then a rename.

An interrupted command therefore leaves either the old state or the new one,
never a half-written corpus, run or figure.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from .errors import InputError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_target(path: str | os.PathLike, force: bool, folder: bool = False) -> Path:
    """Refuse an output path that exists (unless ``force``), has the wrong kind, or cannot be written."""
    path = Path(path)
    if path.exists():
        if not force:
            raise InputError(f"output path exists: {path} (use --force to overwrite)")
        if path.is_dir() != folder:
            raise InputError(f"output path {path} is a {'folder' if path.is_dir() else 'file'}; "
                             f"expected a {'folder' if folder else 'file'}")
    parent = path.parent
    if not parent.is_dir():
        raise InputError(f"output folder does not exist: {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"output folder is not writable: {parent}")
    return path


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def directory(path: str | os.PathLike, force: bool = False):
    """Yield a temp folder; on success it replaces ``path`` in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if path.exists():
            if not force:
                raise InputError(f"output path exists: {path} (use --force to overwrite)")
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / "x")
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
