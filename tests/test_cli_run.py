"""`yowasm run`: argv, --env, --dir, stdin, streamed output, exit codes, traps, and
building a project's stale module first. Runs the real CLI in a subprocess so that the
module writes to real inherited stdout/stderr."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import compile_test_module, require_tool, run_yowasm, yowasm_process
from tests.conftest import compile_wat as wat
from tests.projects import render


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> Path:
    return compile_test_module("probe", tmp_path_factory.mktemp("probe"))


def test_args_env_stdin_and_streams(probe, tmp_path):
    result = run_yowasm("run", "--env", "GREETING=hi there", str(probe), "--", "one", "--two", cwd=tmp_path,
                        input="from stdin\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "argv[0]=probe.wasm\nargv[1]=one\nargv[2]=--two\nGREETING=hi there\nfrom stdin\n"
    assert result.stderr == "to stderr\n"


def test_exit_code_becomes_yowasms(probe, tmp_path):
    assert run_yowasm("run", str(probe), "exit=3", cwd=tmp_path).returncode == 3


def test_preopened_dir_is_writable_under_its_guest_path(probe, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    result = run_yowasm("run", "--dir", f"{data}:/sandbox", str(probe), "write=/sandbox/out.txt", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (data / "out.txt").read_text() == "written by the module\n"
    denied = run_yowasm("run", str(probe), "write=/sandbox/out.txt", cwd=tmp_path)
    assert denied.returncode == 9  # no preopen, no file system


def test_trap_prints_the_wasm_backtrace(tmp_path):
    module = wat(tmp_path, "trap", """
      (module
        (func $inner unreachable)
        (func $outer call $inner)
        (func (export "_start") call $outer)
        (memory (export "memory") 1))
    """)
    result = run_yowasm("run", str(module), cwd=tmp_path)
    assert result.returncode >= 1
    lines = result.stderr.splitlines()
    assert lines[0] == "Error: trap.wasm trapped: wasm `unreachable` instruction executed"
    assert lines[1] == "wasm backtrace:"
    assert lines[2].endswith("trap!inner") and lines[3].endswith("trap!outer")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "contents, message",
    [(b"not wasm", "is not a valid WebAssembly module"), (None, "No module at")],
)
def test_bad_modules_get_a_clear_message(tmp_path, contents, message):
    module = tmp_path / "bad.wasm"
    if contents is not None:
        module.write_bytes(contents)
    result = run_yowasm("run", str(module), cwd=tmp_path)
    assert result.returncode == 1 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_module_without_start_is_not_a_command(tmp_path):
    module = wat(tmp_path, "library", '(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))')
    result = run_yowasm("run", str(module), cwd=tmp_path)
    assert result.returncode == 1 and "no _start" in result.stderr


@pytest.mark.parametrize("flag, value, field", [("--env", "NOEQUALS", "--env"), ("--dir", "/no/such/folder", "--dir")])
def test_bad_options_are_usage_errors(probe, tmp_path, flag, value, field):
    result = run_yowasm("run", flag, value, str(probe), cwd=tmp_path)
    assert result.returncode == 2 and f"Invalid {field}" in result.stderr and "Example" in result.stderr


def test_project_is_built_when_its_module_is_missing_or_stale(tmp_path):
    require_tool("clang-14", "sudo apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32")
    project = render(tmp_path / "hello-wasm", language="c")
    first = run_yowasm("run", str(project), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.endswith("Hello from hello-wasm!\n")
    assert "Built" in first.stderr

    again = run_yowasm("run", cwd=project)
    assert (again.returncode, again.stdout, "Built" in again.stderr) == (0, "Hello from hello-wasm!\n", False)

    source = project / "src/greeting.c"
    source.write_text(source.read_text().replace("Hello from", "Howdy from"))
    later = time.time() + 2
    os.utime(source, (later, later))
    rebuilt = run_yowasm("run", cwd=project)
    assert rebuilt.stdout == "Howdy from hello-wasm!\n" and "Built" in rebuilt.stderr


def test_ctrl_c_stops_a_module_that_never_returns(tmp_path):
    module = wat(tmp_path, "spin", '(module (func (export "_start") (loop $forever br $forever)))')
    process = yowasm_process("run", str(module), cwd=tmp_path)
    try:
        time.sleep(1.5)  # importing wasmtime and compiling, then spinning
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=10)
    finally:
        process.kill()
    assert process.returncode == 130
    assert "Interrupted: spin.wasm was stopped." in stderr


def test_a_build_that_finds_nothing_to_do_is_not_repeated(tmp_path):
    """make ignores a Makefile change the module does not depend on; yowasm watches the
    Makefile too, and must not run the build again on every `yowasm run`."""
    require_tool("clang-14", "sudo apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32")
    project = render(tmp_path / "hello-wasm", language="c")
    assert run_yowasm("build", cwd=project).returncode == 0
    makefile = project / "Makefile"
    later = time.time() + 2
    os.utime(makefile, (later, later))
    first = run_yowasm("run", cwd=project)
    assert "Nothing to be done" in first.stderr and "Built" in first.stderr
    second = run_yowasm("run", cwd=project)
    assert (second.returncode, second.stdout, second.stderr) == (0, "Hello from hello-wasm!\n", "")


@pytest.mark.parametrize("options", [[], ["--env", "GREETING=hi"], ["-eGREETING=hi", "--dir", "."]])
def test_double_dash_in_a_project_passes_every_argument_to_its_module(probe, tmp_path, options):
    """The README's synopsis `yowasm run [-- ARGS...]` in a project folder: `--` before
    any target means the project here, so `--verbose` reaches the module. (The project's
    module is the probe, which prints its arguments; the generated programs ignore them.)"""
    project = render(tmp_path / "hello-wasm", language="c")
    module = project / "build/hello-wasm.wasm"
    module.parent.mkdir()
    module.write_bytes(probe.read_bytes())
    later = time.time() + 60  # newer than every source: nothing to build
    os.utime(module, (later, later))
    result = run_yowasm("run", *options, "--", "--verbose", "one", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:3] == ["argv[0]=hello-wasm.wasm", "argv[1]=--verbose", "argv[2]=one"]
    assert ("GREETING=hi" in result.stdout) == bool(options)
