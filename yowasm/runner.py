"""`yowasm run`: run a WASI command module with wasmtime, as the wasmtime CLI would."""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from yowasm.errors import Aborted, ModuleError

if TYPE_CHECKING:
    from yowasm.argtypes import Preopen

#: The exit code of a module that trapped: 128 + SIGABRT, as the wasmtime CLI uses.
TRAP_EXIT_CODE = 134
STDERR_FD = 2


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
    reader, writer = os.pipe()
    os.set_blocking(writer, False)

    def watch() -> None:
        try:
            while signals := os.read(reader, 64):
                if signal.SIGINT in signals:
                    if interrupted.is_set():
                        os.write(STDERR_FD, b"\nInterrupted.\n")
                        os._exit(Aborted.exit_code)
                    interrupted.set()
                    engine.increment_epoch()
        finally:
            os.close(reader)

    previous_fd = signal.set_wakeup_fd(writer, warn_on_full_buffer=False)
    previous_handler = signal.signal(signal.SIGINT, lambda signum, frame: None)
    threading.Thread(target=watch, daemon=True, name="ctrl-c-interrupts").start()
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous_handler)
        signal.set_wakeup_fd(previous_fd)
        os.close(writer)  # the watcher reads end-of-file, closes its end and stops


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
