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


def _run(tmp_path, callee_value: int, stamp: bool) -> int:
    pkg = tmp_path / "pkg"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    callee = pkg / "callee_kernels.py"
    callee.write_text(f"from numba import njit\n\n@njit(cache=True)\ndef f():\n    return {callee_value}\n")
    # a distinct mtime even on coarse file systems
    os.utime(callee, (1_000_000 + callee_value, 1_000_000 + callee_value))
    (pkg / "caller_kernels.py").write_text(CALLER.replace("STAMP", str(stamp)))
    out = subprocess.run([sys.executable, "-c", "from pkg.caller_kernels import g; print(g())"],
                         cwd=tmp_path, capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


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
    pkg = tmp_path / "cpkg"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    consts = pkg / "consts.py"  # not a *_kernels.py file: only compiled_in makes it count
    consts.write_text(f"VALUE = {value}\n")
    os.utime(consts, (1_000_000 + value, 1_000_000 + value))
    user = pkg / "user_kernels.py"
    user.write_text(CONST_USER.replace("COMPILED_IN", "(consts,)" if named else "()"))
    os.utime(user, (1_000_000, 1_000_000))  # the user's own file is unchanged between the runs
    out = subprocess.run([sys.executable, "-c", "from cpkg.user_kernels import g; print(g())"],
                         cwd=tmp_path, capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


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
