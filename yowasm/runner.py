"""`yowasm run`: run a WASI command module with wasmtime, as the wasmtime CLI would."""

from __future__ import annotations

import os
import signal
import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from yowasm.errors import Aborted, ModuleError, UsageError
from yowasm.model import parse_pairs

#: The exit code of a module that trapped: 128 + SIGABRT, as the wasmtime CLI uses.
TRAP_EXIT_CODE = 134
STDERR_FD = 2


@dataclass(frozen=True)
class Preopen:
    host: Path
    guest: str


def parse_env(values: Iterable[str]) -> tuple[tuple[str, str], ...]:
    return tuple(parse_pairs(values, "--env", "GREETING=hello"))


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
    exit code. A trap raises ModuleError carrying the wasm backtrace; Ctrl-C stops
    the module and raises Aborted."""
    from yowasm.startup import imports_uncollected

    with imports_uncollected("wasmtime"):  # thousands of ctypes objects, no garbage
        import wasmtime

        from yowasm.wasm import interruptible_engine, load_module

    # Epoch interruption is what lets Ctrl-C stop a module that never calls the host.
    wasm_engine = interruptible_engine()
    module = load_module(module_path, on=wasm_engine)
    config = wasmtime.WasiConfig()
    config.argv = [module_path.name, *args]
    config.env = [list(pair) for pair in env]
    for preopen in dirs:
        config.preopen_dir(str(preopen.host), preopen.guest)
    config.inherit_stdin()
    config.inherit_stdout()
    config.inherit_stderr()
    store = wasmtime.Store(wasm_engine)
    store.set_wasi(config)
    store.set_epoch_deadline(1)
    linker = wasmtime.Linker(wasm_engine)
    linker.define_wasi()
    started = False
    with _ctrl_c_interrupts(wasm_engine) as interrupted:
        try:
            instance = linker.instantiate(store, module)
            start = instance.exports(store).get("_start")
            if start is None:
                raise ModuleError(
                    f"{module_path} exports no _start function, so it is not a WASI command.",
                    hint="Build it as a WASI command (a program with main), not a library.",
                )
            started = True
            start(store)
        except wasmtime.ExitTrap as exit_:
            return exit_.code
        except wasmtime.Trap as trap:
            if interrupted.is_set() and trap.trap_code is wasmtime.TrapCode.INTERRUPT:
                raise Aborted(f"Interrupted: {module_path.name} was stopped.") from None
            raise ModuleError(
                f"{module_path.name} trapped: {_trap_cause(trap)}",
                hint="wasm backtrace:\n" + _backtrace(trap, module_path.stem),
                exit_code=TRAP_EXIT_CODE,
            ) from None
        except wasmtime.WasmtimeError as error:
            if not started:  # a link error, such as an import WASI does not provide
                raise ModuleError(f"{module_path} cannot be instantiated as a WASI command: {error}") from None
            raise ModuleError(f"{module_path.name} failed: {error}", exit_code=TRAP_EXIT_CODE) from None
    return 0


@contextmanager
def _ctrl_c_interrupts(engine) -> Iterator[threading.Event]:
    """While wasm runs, Python's own SIGINT handler cannot: it waits for the call to
    return. The C-level handler still writes to the signal wakeup fd at once, so a
    thread watching that fd raises the engine's epoch and the module traps. A second
    Ctrl-C ends yowasm outright (a module blocked in a host call, e.g. reading a
    terminal, only sees the epoch when the call returns)."""
    interrupted = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return
    reader, writer = socket.socketpair()
    writer.setblocking(False)

    def watch() -> None:
        with reader:
            while signals := reader.recv(64):
                if signal.SIGINT in signals:
                    if interrupted.is_set():
                        os.write(STDERR_FD, b"\nInterrupted.\n")
                        os._exit(Aborted.exit_code)
                    interrupted.set()
                    engine.increment_epoch()

    previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    previous_handler = signal.signal(signal.SIGINT, lambda signum, frame: None)
    threading.Thread(target=watch, daemon=True, name="ctrl-c-interrupts").start()
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous_handler)
        signal.set_wakeup_fd(previous_fd)
        writer.close()  # the watcher reads end-of-file, closes its end and stops


def _trap_cause(trap) -> str:
    """The trap's reason without the backtrace wasmtime folds into its message."""
    message = trap.message.strip()
    _, caused_by, cause = message.rpartition("Caused by:")
    text = (cause if caused_by else message).strip().splitlines()[0].strip()
    return text.removeprefix("wasm trap: ")


def _backtrace(trap, module_name: str) -> str:
    lines = []
    for index, frame in enumerate(trap.frames or []):
        name = frame.func_name or f"<wasm function {frame.func_index}>"
        lines.append(f"  {index}: {frame.module_offset:#8x} - {frame.module_name or module_name}!{name}")
    return "\n".join(lines) or "  (no frames)"
