"""Ctrl-C between numba kernel calls, never inside one.

Python's default SIGINT handler raises KeyboardInterrupt in the next Python
code that runs.  While a numba kernel runs, that code can be one of numba's own
callbacks, and the kernel then returns a ``SystemError`` instead of its result,
from a state the caller cannot finish from.  Inside ``deferred()`` SIGINT only
sets a flag; the loop calls ``check()`` between kernel calls, which raises
KeyboardInterrupt where the state is whole.  The flag stays set until the
outermost block ends, and that end raises KeyboardInterrupt once more, so a
Ctrl-C is never lost: a caller that turns the interrupt into a result (the
training loop returns an interrupted Run) still stops the program, and one that
wants the result opens an outer block around it (``tying train`` saves the run
first, then exits 130).

The handler is installed only in the main thread and only over Python's default
one: a process that ignores SIGINT (a sweep's pool worker) keeps ignoring it.
"""
from __future__ import annotations

import contextlib
import signal
import threading


class _State:
    active = False  # our handler is installed
    pending = False  # a Ctrl-C arrived in the current outermost block


def _flag(signum, frame):
    _State.pending = True


def check() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed in the current block."""
    if _State.pending:
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred():
    """Within the block (or the decorated function), Ctrl-C waits for a ``check()`` or the block's end."""
    if _State.active or threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield  # nested, in a thread, or SIGINT is handled or ignored by someone else: leave it be
        return
    _State.active, _State.pending = True, False
    signal.signal(signal.SIGINT, _flag)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        pending, _State.active, _State.pending = _State.pending, False, False
    if pending:
        raise KeyboardInterrupt


def caused_by_interrupt(error: BaseException | None) -> bool:
    """Is this error a KeyboardInterrupt, or one raised because a KeyboardInterrupt hit a numba kernel?"""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return True
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return False
