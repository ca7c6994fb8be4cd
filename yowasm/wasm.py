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
    return _new_engine(epoch_interruption)


@cache
def interruptible_engine() -> wasmtime.Engine:
    """An epoch-interruptible engine of its own, for `yowasm run`: its epoch advances
    only when the runner says so (Ctrl-C), never with another ticker in the process.
    Same configuration, so the same on-disk cache."""
    return new_interruptible_engine()


def new_interruptible_engine() -> wasmtime.Engine:
    """A new epoch-interruptible engine, its epoch its own (the gateway keeps one per
    running handler); same configuration, so the same on-disk cache."""
    return _new_engine(epoch_interruption=True)


def _new_engine(epoch_interruption: bool) -> wasmtime.Engine:
    config = wasmtime.Config()
    config.cache = True  # compiled code is kept in wasmtime's cache between runs
    config.epoch_interruption = epoch_interruption
    return wasmtime.Engine(config)


def load_module(path: Path, *, epoch_interruption: bool = False,
                on: wasmtime.Engine | None = None) -> wasmtime.Module:
    """PATH compiled for the shared engine of that configuration, or for the engine ON."""
    try:
        return wasmtime.Module.from_file(on or engine(epoch_interruption=epoch_interruption), str(path))
    except FileNotFoundError:
        raise ModuleError(f"No module at {path}.") from None
    except OSError as error:
        raise ModuleError(f"Cannot read the module {path}: {error.strerror}.") from None
    except wasmtime.WasmtimeError as error:
        raise ModuleError(f"{path} is not a valid WebAssembly module: {error}") from None
