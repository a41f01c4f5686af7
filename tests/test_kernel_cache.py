"""numba's cache must notice an edit to a kernel that another module's kernel calls."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

CALLER = textwrap.dedent("""
    from pathlib import Path
    from numba import njit
    from tying.core import kernel_cache
    from .callee_kernels import f

    @njit(cache=True)
    def g():
        return f()

    if STAMP:
        kernel_cache.stamp(globals(), folders=[Path(__file__).parent])
""")


def _call(tmp_path, package: str, files: dict, call: str) -> int:
    """Write package/{name: (text, mtime)} (fixed mtimes: distinct even on coarse file systems) and print
    the result of ``call`` in a fresh process, as a later session would."""
    pkg = tmp_path / package
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    for name, (text, mtime) in files.items():
        (pkg / name).write_text(text)
        if mtime is not None:
            os.utime(pkg / name, (mtime, mtime))
    out = subprocess.run([sys.executable, "-c", f"from {package}.{call}; print(g())"],
                         cwd=tmp_path, capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def _run(tmp_path, callee_value: int, stamp: bool) -> int:
    callee = f"from numba import njit\n\n@njit(cache=True)\ndef f():\n    return {callee_value}\n"
    return _call(tmp_path, "pkg", {"callee_kernels.py": (callee, 1_000_000 + callee_value),
                                   "caller_kernels.py": (CALLER.replace("STAMP", str(stamp)), None)},
                 "caller_kernels import g")


def test_stamped_caller_recompiles_after_its_callee_changes(tmp_path):
    assert _run(tmp_path, 1, stamp=True) == 1
    assert _run(tmp_path, 2, stamp=True) == 2


def test_negative_control_unstamped_caller_keeps_the_stale_callee(tmp_path):
    assert _run(tmp_path, 1, stamp=False) == 1
    assert _run(tmp_path, 2, stamp=False) == 1  # numba's own check: the old machine code survives


CONST_USER = textwrap.dedent("""
    from pathlib import Path
    from numba import njit
    from tying.core import kernel_cache
    from . import consts
    from .consts import VALUE

    @njit(cache=True)
    def g():
        return VALUE  # a module-level constant: numba compiles its value in

    kernel_cache.stamp(globals(), folders=[Path(__file__).parent], compiled_in=COMPILED_IN)
""")


def _run_const(tmp_path, value: int, named: bool) -> int:
    # consts.py is not a *_kernels.py file: only compiled_in makes it count; the user's own file is unchanged
    user = CONST_USER.replace("COMPILED_IN", "(consts,)" if named else "()")
    return _call(tmp_path, "cpkg", {"consts.py": (f"VALUE = {value}\n", 1_000_000 + value),
                                    "user_kernels.py": (user, 1_000_000)}, "user_kernels import g")


def test_a_compiled_in_constant_module_recompiles_its_users(tmp_path):
    assert _run_const(tmp_path, 1, named=True) == 1
    assert _run_const(tmp_path, 2, named=True) == 2


def test_negative_control_an_unnamed_constant_module_leaves_stale_code(tmp_path):
    assert _run_const(tmp_path, 1, named=False) == 1
    assert _run_const(tmp_path, 2, named=False) == 1


def test_the_package_kernels_count_every_layer_with_kernels():
    from tying.core import kernel_cache

    layers = {Path(p).name for p in kernel_cache._layers()}
    assert layers == {"generators", "models"}, layers


FRESH = textwrap.dedent("""
    import sys
    from tying.core import kernel_cache
    from fpkg.caller_kernels import g
    before = kernel_cache.fresh(g)
    g()
    print(before, kernel_cache.fresh(g))
""")


def _fresh(tmp_path, callee_value: int) -> str:
    """fresh(g) in a new process before and after calling g, with the callee's source at callee_value."""
    callee = f"from numba import njit\n\n@njit(cache=True)\ndef f():\n    return {callee_value}\n"
    pkg = tmp_path / "fpkg"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "callee_kernels.py").write_text(callee)
    os.utime(pkg / "callee_kernels.py", (1_000_000 + callee_value,) * 2)
    (pkg / "caller_kernels.py").write_text(CALLER.replace("STAMP", "True"))
    os.utime(pkg / "caller_kernels.py", (1_000_000,) * 2)  # numba's own stamp of g's file stays the same
    out = subprocess.run([sys.executable, "-c", FRESH], cwd=tmp_path, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_fresh_tells_whether_calling_a_kernel_compiles_it(tmp_path):
    assert _fresh(tmp_path, 1) == "False True"  # empty cache: a compile; then in memory
    assert _fresh(tmp_path, 1) == "True True"  # a later process loads it from the cache
    # negative control: an edit to a kernel it calls makes the cache stale, as numba (through stamp) sees it
    assert _fresh(tmp_path, 2) == "False True"


LITERAL = textwrap.dedent("""
    import sys
    from numba import literally, njit
    from tying.core import kernel_cache

    @njit(cache=True)
    def h(code):
        literally(code)
        return code + 1

    run = int(sys.argv[1])
    before = [kernel_cache.fresh(h, literal=c) for c in (1, 2)]
    h(run)
    print(*before, *(kernel_cache.fresh(h, literal=c) for c in (1, 2)))
""")


def test_fresh_with_a_literal_counts_only_that_value(tmp_path):
    # the training loop compiles once per architecture code: a cache that holds code 1 is cold for code 2
    (tmp_path / "lit_kernels.py").write_text(LITERAL)

    def fresh_before_after(run):
        out = subprocess.run([sys.executable, "lit_kernels.py", str(run)], cwd=tmp_path, capture_output=True,
                             text=True, check=True)
        return out.stdout.split()

    assert fresh_before_after(1) == ["False", "False", "True", "False"]
    assert fresh_before_after(2) == ["True", "False", "True", "True"]  # 1 from the cache, 2 compiled now


def test_the_dispatch_compiles_only_the_architecture_it_is_called_with(tmp_path):
    # a cold cache and a spec of one architecture: reproduce's warm-up says it compiles that one, compiles
    # it, and every other architecture's kernel stays uncompiled
    script = textwrap.dedent("""
        from tying.experiments.reproduce import warm_up
        from tying.models import archs, compiled

        spec = {"name": "w", "seeds": [0], "corpus": {"generator": "parity", "bits": 2},
                "model": {"arch": "bilinear"}, "train": {"steps": 2}}
        before = compiled("bilinear")
        warm_up([spec])
        print(before, compiled("bilinear"), compiled("transformer"))
        print(*(f"{a}={min(len(archs.kernels(a).loss_grad.signatures), 1)}" for a in archs.ARCHS))
    """)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "False", "bilinear=1", "mixer=0", "transformer=0", "lstm=0"]
    assert out.stderr == "compiling kernels for bilinear (first run only)...\n"


def test_call_literal_enters_the_literal_compilation_without_numba_retrying():
    import numpy as np
    import pytest
    from numba import literally, njit

    from tying.core.kernel_cache import call_literal

    @njit
    def h(code, x):
        literally(code)
        return x * code

    x = np.arange(3.0)
    assert call_literal(h, 3, x).tolist() == [0.0, 3.0, 6.0]  # first call: numba compiles the literal 3

    def retry(*args, **kwargs):
        raise AssertionError("numba's compile-for-args path")

    h._compile_for_args = retry
    assert call_literal(h, 3, x).tolist() == [0.0, 3.0, 6.0]  # found by its types, entered directly
    with pytest.raises(AssertionError, match="compile-for-args"):
        call_literal(h, 3, x[::2])  # other types (a strided view) are a new signature: numba's to compile
    with pytest.raises(AssertionError, match="compile-for-args"):
        h(3, x)  # negative control: from Python an int is int64, and numba retries on every call
