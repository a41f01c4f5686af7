"""Keep numba's on-disk cache honest across modules.

numba invalidates a cached kernel when the file that *defines* it changes, but
not when a kernel it calls (and compiles into itself) lives in another file
that changed, nor when a constant it compiled in (``models/params.py``) did: after an edit to ``transformer_kernels.py`` the training loop
would keep running the old machine code.  Every kernel module therefore ends
with ``kernel_cache.stamp(globals())``, which folds the (mtime, size) of every
``*_kernels.py`` file of the project into the cache stamp of its kernels, so
editing any kernel recompiles them all.  Installed packages never change, so
this costs nothing there.
"""
from __future__ import annotations

import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("generators", "models")
# plain modules whose constants the kernels compile in (the parameter layout's block and dims indices)
EXTRA = ("models/params.py",)


@functools.lru_cache(maxsize=None)
def _sources(folders: tuple) -> tuple:
    files = sorted(f for folder in folders for f in Path(folder).glob("*_kernels.py"))
    return tuple((f"{f.parent.name}/{f.name}", f.stat().st_mtime, f.stat().st_size) for f in files)


def stamp(namespace: dict, folders=None) -> None:
    """Stamp every cached numba dispatcher defined in the module whose globals() this is.

    ``folders`` whose kernel files count (default: this project's packages)."""
    deps = _sources(tuple(str(f) for f in folders) if folders else tuple(str(ROOT / p) for p in PACKAGES))
    if not folders:
        deps += tuple((name, (ROOT / name).stat().st_mtime, (ROOT / name).stat().st_size) for name in EXTRA)
    for obj in list(namespace.values()):
        cache = getattr(obj, "_cache", None)
        if getattr(obj, "__module__", None) != namespace.get("__name__"):
            continue
        cache_file = getattr(cache, "_cache_file", None)
        if cache_file is not None and hasattr(cache_file, "_source_stamp"):
            cache_file._source_stamp = (cache_file._source_stamp, deps)
