"""yowasm.runner in-process: argv, env, preopens, exit codes, traps and
modules that are not WASI commands. The module writes to the real file descriptors,
so its output is read with capfd. (tests/test_cli_run.py drives the command itself.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import compile_test_module
from tests.conftest import compile_wat as wat
from yowasm.argtypes import Preopen
from yowasm.errors import ModuleError
from yowasm.runner import TRAP_EXIT_CODE, run_module


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> Path:
    return compile_test_module("probe", tmp_path_factory.mktemp("probe"))


def test_argv_starts_with_the_module_name_then_env(probe, capfd):
    assert run_module(probe, ["one", "two words"], env=[("GREETING", "hi")]) == 0
    out, err = capfd.readouterr()
    assert out.startswith("argv[0]=probe.wasm\nargv[1]=one\nargv[2]=two words\nGREETING=hi\n")
    assert err == "to stderr\n"


def test_exit_code_is_returned(probe, capfd):
    assert run_module(probe, ["exit=3"]) == 3
    assert run_module(probe, ["exit=0"]) == 0


def test_preopened_folder_is_the_only_file_system(probe, tmp_path, capfd):
    data = tmp_path / "data"
    data.mkdir()
    assert run_module(probe, ["write=/data/out.txt"], dirs=[Preopen(data, "/data")]) == 0
    assert (data / "out.txt").read_text() == "written by the module\n"
    assert run_module(probe, ["write=/elsewhere.txt"], dirs=[Preopen(data, "/data")]) == 9
    assert "fopen" in capfd.readouterr().err
    assert not (tmp_path / "elsewhere.txt").exists()


def test_trap_carries_its_cause_and_backtrace(tmp_path):
    module = wat(tmp_path, "trap", """
      (module
        (func $inner (param i32) (result i32) local.get 0 i32.const 0 i32.div_s)
        (func $outer (drop (call $inner (i32.const 7))))
        (func (export "_start") call $outer)
        (memory (export "memory") 1))
    """)
    with pytest.raises(ModuleError) as raised:
        run_module(module)
    error = raised.value
    assert error.message == "trap.wasm trapped: integer divide by zero"
    assert error.exit_code == TRAP_EXIT_CODE
    frames = error.hint.splitlines()
    assert frames[0] == "wasm backtrace:"
    assert frames[1].endswith("trap!inner") and frames[2].endswith("trap!outer")
    assert "backtrace" not in error.message  # told once, in the hint


def test_module_without_start_is_not_a_command(tmp_path):
    module = wat(tmp_path, "library", '(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))')
    with pytest.raises(ModuleError, match="exports no _start function"):
        run_module(module)


def test_import_wasi_does_not_provide_is_a_link_error(tmp_path):
    module = wat(tmp_path, "needs-env", """
      (module (import "env" "host_log" (func (param i32))) (func (export "_start")))
    """)
    with pytest.raises(ModuleError) as raised:
        run_module(module)
    assert "cannot be instantiated as a WASI command" in raised.value.message
    assert "host_log" in raised.value.message and raised.value.exit_code == 1


def test_missing_and_invalid_modules(tmp_path):
    with pytest.raises(ModuleError, match="No module at"):
        run_module(tmp_path / "absent.wasm")
    (tmp_path / "text.wasm").write_text("hello")
    with pytest.raises(ModuleError, match="is not a valid WebAssembly module"):
        run_module(tmp_path / "text.wasm")


def test_an_epoch_ticking_elsewhere_in_the_process_does_not_stop_the_module(tmp_path):
    """The gateway ticks the shared epoch-interruptible engine; a module run by
    run_module in the same process must only stop for Ctrl-C."""
    import threading

    from yowasm.wasm import engine

    module = wat(tmp_path, "count", """
      (module
        (func (export "_start") (local $n i32)
          (local.set $n (i32.const 1000000000))
          (loop $down
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))
            (br_if $down (local.get $n)))))
    """)
    shared, done = engine(epoch_interruption=True), threading.Event()

    def tick() -> None:
        while not done.wait(0.005):
            shared.increment_epoch()

    ticker = threading.Thread(target=tick)
    ticker.start()
    try:
        assert run_module(module) == 0
    finally:
        done.set()
        ticker.join()
