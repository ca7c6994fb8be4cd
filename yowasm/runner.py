"""`yowasm run`: run a WASI command module with wasmtime, as the wasmtime CLI would."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from yowasm.errors import ModuleError, UsageError

#: The exit code of a module that trapped: 128 + SIGABRT, as the wasmtime CLI uses.
TRAP_EXIT_CODE = 134


@dataclass(frozen=True)
class Preopen:
    host: Path
    guest: str


def parse_env(values: Iterable[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key or "\0" in value:
            raise UsageError(
                f"Invalid --env {value!r}: must be KEY=VALUE with a non-empty KEY.",
                hint="Example of a valid --env: GREETING=hello",
            )
        pairs.append((key, text))
    return tuple(pairs)


def parse_dir(value: str) -> Preopen:
    """HOST[:GUEST] (wasmtime's HOST::GUEST also accepted); GUEST defaults to HOST."""
    host, sep, guest = value.partition("::") if "::" in value else value.partition(":")
    path = Path(host).expanduser()
    if not path.is_dir():
        raise UsageError(
            f"Invalid --dir {value!r}: {host!r} is not a folder.",
            hint="Example of a valid --dir: ./data:/data (host folder, then its path in the module)",
        )
    return Preopen(path, guest if sep and guest else host)


def run_module(
    module_path: Path,
    args: Iterable[str] = (),
    *,
    env: Iterable[tuple[str, str]] = (),
    dirs: Iterable[Preopen] = (),
) -> int:
    """Run the module's `_start` with stdin, stdout and stderr inherited; return its
    exit code. A trap raises ModuleError carrying the wasm backtrace."""
    import wasmtime

    from yowasm.wasm import engine, load_module

    module = load_module(module_path)
    config = wasmtime.WasiConfig()
    config.argv = [module_path.name, *args]
    config.env = [list(pair) for pair in env]
    for preopen in dirs:
        config.preopen_dir(str(preopen.host), preopen.guest)
    config.inherit_stdin()
    config.inherit_stdout()
    config.inherit_stderr()
    store = wasmtime.Store(engine())
    store.set_wasi(config)
    linker = wasmtime.Linker(engine())
    linker.define_wasi()
    try:
        instance = linker.instantiate(store, module)
    except wasmtime.WasmtimeError as error:
        raise ModuleError(f"{module_path} cannot be instantiated as a WASI command: {error}") from None
    start = instance.exports(store).get("_start")
    if start is None:
        raise ModuleError(
            f"{module_path} exports no _start function, so it is not a WASI command.",
            hint="Build it as a WASI command (a program with main), not a library.",
        )
    try:
        start(store)
    except wasmtime.ExitTrap as exit_:
        return exit_.code
    except wasmtime.Trap as trap:
        raise ModuleError(
            f"{module_path.name} trapped: {trap.message}",
            hint="wasm backtrace:\n" + _backtrace(trap),
            exit_code=TRAP_EXIT_CODE,
        ) from None
    except wasmtime.WasmtimeError as error:
        raise ModuleError(f"{module_path.name} failed: {error}", exit_code=TRAP_EXIT_CODE) from None
    return 0


def _backtrace(trap) -> str:
    frames = trap.frames or []
    lines = []
    for index, frame in enumerate(frames):
        name = frame.func_name or f"<function {frame.func_index}>"
        lines.append(f"  {index}: {frame.module_name or 'module'}!{name} @ {frame.module_offset:#x}")
    return "\n".join(lines) or "  (no frames)"

