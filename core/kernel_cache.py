"""Keep numba's on-disk cache honest across modules.

numba invalidates a cached kernel when the file that *defines* it changes, but
not when a kernel it calls (and compiles into itself) lives in another file
that changed, nor when a module-level constant it compiled in did: after an
edit to ``transformer_kernels.py`` the training loop would keep running the old
machine code.  Every kernel module therefore ends with
``kernel_cache.stamp(globals(), compiled_in=(...))``, which folds the (mtime,
size) of every ``*_kernels.py`` file of the package, and of the modules it
names as ``compiled_in``, into the cache stamp of its kernels, so editing any
kernel recompiles them all.  Installed packages never change, so this costs
nothing there.
"""
from __future__ import annotations

import functools
from pathlib import Path

from numba import typeof, types

# the package root: the repo in a checkout, site-packages/tying when installed; the layers are its folders
ROOT = Path(__file__).resolve().parent.parent


@functools.lru_cache(maxsize=None)
def _layers() -> tuple:
    return tuple(str(d) for d in sorted(ROOT.iterdir()) if d.is_dir() and any(d.glob("*_kernels.py")))


@functools.lru_cache(maxsize=None)
def _sources(folders: tuple) -> tuple:
    files = sorted(f for folder in folders for f in Path(folder).glob("*_kernels.py"))
    return tuple(_stat(f) for f in files)


def _stat(f: Path) -> tuple:
    return f"{f.parent.name}/{f.name}", f.stat().st_mtime, f.stat().st_size


def stamp(namespace: dict, folders=None, compiled_in=()) -> None:
    """Stamp every cached numba dispatcher defined in the module whose globals() this is.

    ``folders`` whose kernel files count (default: every layer folder of the package);
    ``compiled_in``: plain modules whose constants these kernels compile in."""
    deps = _sources(tuple(str(f) for f in folders) if folders is not None else _layers())
    deps += tuple(_stat(Path(m.__file__)) for m in compiled_in)
    for obj in list(namespace.values()):
        cache = getattr(obj, "_cache", None)
        if getattr(obj, "__module__", None) != namespace.get("__name__"):
            continue
        cache_file = getattr(cache, "_cache_file", None)
        if cache_file is not None and hasattr(cache_file, "_source_stamp"):
            cache_file._source_stamp = (cache_file._source_stamp, deps)


def fresh(*dispatchers, literal=None) -> bool:
    """Whether every one of these kernels is compiled in memory or has a cache index numba will load
    (same numba, same source stamp), i.e. whether calling them now starts without a compile.

    ``literal``: the value of a first argument the kernels take as a compile-time constant (the
    architecture code of ``dispatch_kernels``); then only a compilation for that value counts.  Otherwise
    an index that holds only other signatures (say float32 parameters) still counts as fresh, so this can
    miss a compile; it never announces one that does not happen when the cache is current."""
    def has(signatures) -> bool:
        return any(literal is None or (sig and sig[0] == types.literal(literal)) for sig in signatures)

    for d in dispatchers:
        if has(d.overloads):
            continue
        cache_file = getattr(getattr(d, "_cache", None), "_cache_file", None)
        try:
            index = None if cache_file is None else cache_file._load_index()
        except Exception:  # an unreadable index: numba recompiles, and so do we say
            return False
        if not index or not has(key[0] for key in index):  # key: (argument types, codegen, stamp)
            return False
    return True


def call_literal(dispatcher, literal: int, *args):
    """``dispatcher(literal, *args)`` for a kernel that takes its first argument as a compile-time constant
    (``literally``), without numba's cost of doing so from Python.

    From Python an int is typed int64, which no compilation of such a kernel matches, so numba retries
    every call: a failed compile for int64, then the literal one.  That costs milliseconds per call,
    more than the training steps of a chunk.  Here the literal compilation is looked up by the exact types
    of the arguments, as numba's own dispatch would, and entered directly; the first call of a new
    signature goes through numba once to compile or load it."""
    key = (types.literal(literal),) + tuple(typeof(a) for a in args)
    compiled = dispatcher.overloads.get(key)
    if compiled is None:
        return dispatcher(literal, *args)
    return compiled.entry_point(literal, *args)
