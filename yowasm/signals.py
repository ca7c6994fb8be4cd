"""Termination signals handled like Ctrl-C, so that `finally` blocks and `except
BaseException` clean-ups run (a partial download removed, a lock released) whichever
way a user or a supervisor stops yowasm."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

#: SIGINT already raises KeyboardInterrupt; these would end the process without clean-up.
TERMINATING = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextmanager
def interrupt_on_signals() -> Iterator[None]:
    """Inside the block SIGTERM and SIGHUP raise KeyboardInterrupt (main thread only:
    elsewhere Python cannot install handlers, and the main thread's own apply)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _interrupt) for signum in TERMINATING}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
