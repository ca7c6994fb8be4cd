"""Importing a big library without the garbage collector's passes over it.

An import creates tens of thousands of objects (classes, functions, the schemas of
copier's pydantic models) and no garbage, yet the cyclic collector traverses them
again and again while they are made: about a tenth of the CPU time of importing
copier. The collector is paused for the import, and what the import made is then
frozen: moved out of its sight for the life of the process, as module contents live
that long anyway.
"""

from __future__ import annotations

import gc
import sys
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def imports_uncollected(module: str) -> Iterator[None]:
    """Around the first import of MODULE (and what comes with it); nothing once it is
    imported, so that objects made later stay collectable."""
    if module in sys.modules:
        yield
        return
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
