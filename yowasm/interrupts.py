"""Ctrl-C, SIGTERM and SIGHUP: handled alike, so that clean-ups always run.

`interrupt_on_signals` makes SIGTERM and SIGHUP raise as Ctrl-C does (publish, pull,
login). For work that must be all or nothing (`new`, `update`),
while `all_or_nothing` runs, the three signals raise `Interrupted` (a KeyboardInterrupt,
so every `finally` and `with` on the way cleans up) and the block ends in an `Aborted`
error that says what is true: nothing was changed, or the work was complete when the
signal came. Inside `deferred()` (moving files into place, putting them back, removing
a staging folder) a signal is remembered and acted on only when the block is done, so
no such step is ever left half done.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from yowasm.errors import Aborted

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

#: TEST HOOK, for tests only: `YOWASM_TEST_PAUSE=NAME` makes `checkpoint(NAME)` print
#: "yowasm-test-paused: NAME" on stderr and wait (up to 60 s, or until a signal), so a
#: test can send a real signal to a real process at an exact point. Unset, it does nothing.
TEST_PAUSE_VARIABLE = "YOWASM_TEST_PAUSE"


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP arrived."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@dataclass
class _Guard:
    committed: bool = False
    deferring: int = 0
    pending: int | None = None

    def handle(self, signum: int, frame: object) -> None:
        if self.deferring:
            self.pending = self.pending or signum
            return
        raise Interrupted(signum)


_active: _Guard | None = None


@contextmanager
def all_or_nothing(*, undone: str, done: str) -> Iterator[_Guard]:
    """Run the block with the three signals raising Interrupted, turned into Aborted
    with the message UNDONE, or DONE once the block has set `committed` on what this
    yields. Elsewhere than in the main thread signals cannot be caught; the block then
    just runs."""
    global _active
    guard = _Guard()
    if threading.current_thread() is not threading.main_thread() or _active is not None:
        yield _active or guard
        return
    previous = {signum: signal.signal(signum, guard.handle) for signum in SIGNALS}
    _active = guard
    try:
        yield guard
    except KeyboardInterrupt as interrupt:
        signum = getattr(interrupt, "signum", signal.SIGINT)
        raise _aborted(done if guard.committed else undone, signum) from None
    finally:
        guard.deferring += 1  # a signal while the handlers are put back is remembered
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)  # None: set outside Python
        _active = None
    if guard.pending:
        raise _aborted(done if guard.committed else undone, guard.pending)


@contextmanager
def interrupt_on_signals() -> Iterator[None]:
    """Inside the block SIGTERM and SIGHUP raise Interrupted as Ctrl-C does, so that
    clean-ups (a partial download removed, a lock released) run whichever way a user
    or a supervisor stops yowasm. Main thread only, as `all_or_nothing`."""
    if threading.current_thread() is not threading.main_thread() or _active is not None:
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    terminating = [signum for signum in SIGNALS if signum != signal.SIGINT]
    previous = {signum: signal.signal(signum, interrupt) for signum in terminating}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def _aborted(message: str, signum: int) -> Aborted:
    error = Aborted(message)
    error.exit_code = 128 + signum  # as a shell reports a process the signal ended: 130, 143, 129
    return error


@contextmanager
def deferred() -> Iterator[None]:
    """A step that must not be cut in two: a signal during it takes effect after it."""
    guard = _active
    if guard is None:
        yield
        return
    guard.deferring += 1
    try:
        yield
    finally:
        guard.deferring -= 1
    if not guard.deferring and guard.pending:
        signum, guard.pending = guard.pending, None
        raise Interrupted(signum)


def checkpoint(name: str) -> None:
    """A point a test may pause the process at (see TEST_PAUSE_VARIABLE)."""
    if os.environ.get(TEST_PAUSE_VARIABLE) != name:
        return
    sys.stderr.write(f"yowasm-test-paused: {name}\n")
    sys.stderr.flush()
    end = time.monotonic() + 60
    while time.monotonic() < end and not (_active and _active.pending):
        time.sleep(0.02)
