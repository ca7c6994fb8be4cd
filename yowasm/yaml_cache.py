"""Parsed YAML kept across runs, as __pycache__ keeps bytecode: importing PyYAML and
parsing costs more than a short command's own work, and the files yowasm reads on
every run (its own data, a project's answers file) rarely change.

The key is the text itself (with the way it was parsed), not its name or time, so a
stale entry can never be found for changed text; what a file holds is plain data
(mappings, lists, text, numbers, booleans, null), checked again when loaded. Only
values that passed every check of their reader are stored; the reader still checks
the shape of a value it gets from here. The cache is dropped whole when PyYAML or the
readers change."""

from __future__ import annotations

import marshal
import os
import sys
from functools import cache
from pathlib import Path
from typing import Any

from yowasm.cachefiles import cache_dir, read_cache_file, write_cache_file

#: What lookup returns for text it holds no value for.
MISS = object()
#: Larger than every file yowasm reads on a run together, by far.
CACHE_BYTES = 1024 * 1024
#: Text longer than this is parsed every time (an answers file is about 2 KiB).
MAX_TEXT = 64 * 1024
#: The most entries kept (the oldest go first).
CACHE_ENTRIES = 64
#: Bumped when what is stored changes meaning.
FORMAT = 1

_SCALARS = (str, int, float, bool, type(None))


def lookup(kind: str, text: str) -> Any:
    """The value stored for TEXT parsed as KIND (a reader's name), or MISS."""
    stored = _entries().get((kind, text))
    if stored is None:
        return MISS
    try:
        value = marshal.loads(stored)
    except (ValueError, EOFError, TypeError):
        return MISS
    return value if is_plain(value) else MISS


def store(kind: str, text: str, value: Any) -> None:
    """Keep VALUE, TEXT's checked value parsed as KIND, for the next run."""
    if len(text) > MAX_TEXT or not is_plain(value):
        return
    entries = _entries()
    try:
        entries[(kind, text)] = marshal.dumps(value)
    except ValueError:
        return
    while True:  # the oldest go first (pop: another thread may be storing too)
        data = marshal.dumps({"format": FORMAT, "parser": _parser(), "entries": entries})
        if not entries or (len(entries) <= CACHE_ENTRIES and len(data) <= CACHE_BYTES):
            break
        entries.pop(next(iter(entries), None), None)
    write_cache_file(_cache_file(), data)


def is_plain(value: Any) -> bool:
    """Whether VALUE is plain data: dicts (of scalar keys), lists and scalars only."""
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            if not all(type(key) in _SCALARS for key in item):
                return False
            stack += item.values()
        elif type(item) is list:
            stack += item
        elif type(item) not in _SCALARS:
            return False
    return True


@cache
def _entries() -> dict[tuple[str, str], bytes]:
    data = read_cache_file(_cache_file(), CACHE_BYTES)
    try:
        stored = marshal.loads(data) if data is not None else None
    except (ValueError, EOFError, TypeError):
        return {}
    if (not isinstance(stored, dict) or stored.get("format") != FORMAT or stored.get("parser") != _parser()
            or not isinstance(stored.get("entries"), dict)):
        return {}
    return {key: value for key, value in stored["entries"].items()
            if type(key) is tuple and len(key) == 2 and all(type(part) is str for part in key)
            and type(value) is bytes}


def _cache_file() -> Path:
    return cache_dir() / f"yaml-{sys.implementation.cache_tag}-{_installation():08x}.marshal"


@cache
def _installation() -> int:
    """One cache file per installation (the PyYAML and yowasm found): two sharing one
    would replace each other's entries on every run."""
    import zlib

    return zlib.crc32(repr([stamp[0] for stamp in _parser()]).encode())


@cache
def _parser() -> tuple:
    """What parsed the stored values: PyYAML's files and yowasm's readers, as found
    now (their size and time change with any upgrade or edit), without importing
    PyYAML."""
    from importlib.util import find_spec

    import yowasm.packaged
    import yowasm.readers

    spec = find_spec("yaml")
    sources = [spec.origin if spec is not None else None, yowasm.readers.__file__, yowasm.packaged.__file__]
    return tuple(_stamp(source) for source in sources)


def _stamp(path: str | None) -> tuple:
    if path is None:
        return (None,)
    try:
        status = os.stat(path)
    except OSError:
        return (path,)
    return (path, status.st_size, status.st_mtime_ns)
