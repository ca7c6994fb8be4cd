"""Shared wasmtime plumbing: one engine configuration, compiled modules cached on disk."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import wasmtime

from yowasm.errors import ModuleError


def engine(*, epoch_interruption: bool = False) -> wasmtime.Engine:
    """One engine per configuration for the whole process (modules and stores must share it)."""
    return _engine(epoch_interruption)


@cache
def _engine(epoch_interruption: bool) -> wasmtime.Engine:
    config = wasmtime.Config()
    config.cache = True  # compiled code is kept in wasmtime's cache between runs
    config.epoch_interruption = epoch_interruption
    return wasmtime.Engine(config)


def load_module(path: Path, *, epoch_interruption: bool = False) -> wasmtime.Module:
    try:
        return wasmtime.Module.from_file(engine(epoch_interruption=epoch_interruption), str(path))
    except FileNotFoundError:
        raise ModuleError(f"No module at {path}.") from None
    except wasmtime.WasmtimeError as error:
        raise ModuleError(f"{path} is not a valid WebAssembly module: {error}") from None
