"""numba's cache must notice an edit to a kernel that another module's kernel calls."""
import os
import subprocess
import sys
import textwrap

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
