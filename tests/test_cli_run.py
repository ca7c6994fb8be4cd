"""`yowasm run`: argv, --env, --dir, stdin, streamed output, exit codes, traps, and
building a project's stale module first. Runs the real CLI in a subprocess so that the
module writes to real inherited stdout/stderr."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import compile_test_module, require_tool
from tests.projects import render



def yowasm(*args: str, cwd: Path, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "yowasm", *args], cwd=cwd, input=stdin, capture_output=True, text=True,
        env=env or dict(os.environ), timeout=120,
    )


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> Path:
    return compile_test_module("probe", tmp_path_factory.mktemp("probe"))


def wat(tmp_path: Path, name: str, text: str) -> Path:
    wat2wasm = require_tool("wat2wasm", "sudo apt-get install wabt")
    source = tmp_path / f"{name}.wat"
    source.write_text(text)
    subprocess.run([wat2wasm, "--debug-names", str(source), "-o", str(tmp_path / f"{name}.wasm")], check=True)
    return tmp_path / f"{name}.wasm"


def test_args_env_stdin_and_streams(probe, tmp_path):
    result = yowasm("run", "--env", "GREETING=hi there", str(probe), "--", "one", "--two", cwd=tmp_path, stdin="from stdin\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "argv[0]=probe.wasm\nargv[1]=one\nargv[2]=--two\nGREETING=hi there\nfrom stdin\n"
    assert result.stderr == "to stderr\n"


def test_exit_code_becomes_yowasms(probe, tmp_path):
    assert yowasm("run", str(probe), "exit=3", cwd=tmp_path).returncode == 3


def test_preopened_dir_is_writable_under_its_guest_path(probe, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    result = yowasm("run", "--dir", f"{data}:/sandbox", str(probe), "write=/sandbox/out.txt", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (data / "out.txt").read_text() == "written by the module\n"
    denied = yowasm("run", str(probe), "write=/sandbox/out.txt", cwd=tmp_path)
    assert denied.returncode == 9  # no preopen, no file system


def test_trap_prints_the_wasm_backtrace(tmp_path):
    module = wat(tmp_path, "trap", """
      (module
        (func $inner unreachable)
        (func $outer call $inner)
        (func (export "_start") call $outer)
        (memory (export "memory") 1))
    """)
    result = yowasm("run", str(module), cwd=tmp_path)
    assert result.returncode >= 1
    assert "trap.wasm trapped" in result.stderr and "unreachable" in result.stderr
    assert "$inner" in result.stderr or "inner" in result.stderr
    assert "outer" in result.stderr


@pytest.mark.parametrize(
    "contents, message",
    [(b"not wasm", "is not a valid WebAssembly module"), (None, "No module at")],
)
def test_bad_modules_get_a_clear_message(tmp_path, contents, message):
    module = tmp_path / "bad.wasm"
    if contents is not None:
        module.write_bytes(contents)
    result = yowasm("run", str(module), cwd=tmp_path)
    assert result.returncode == 1 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_module_without_start_is_not_a_command(tmp_path):
    module = wat(tmp_path, "library", '(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))')
    result = yowasm("run", str(module), cwd=tmp_path)
    assert result.returncode == 1 and "no _start" in result.stderr


@pytest.mark.parametrize("flag, value, field", [("--env", "NOEQUALS", "--env"), ("--dir", "/no/such/folder", "--dir")])
def test_bad_options_are_usage_errors(probe, tmp_path, flag, value, field):
    result = yowasm("run", flag, value, str(probe), cwd=tmp_path)
    assert result.returncode == 2 and f"Invalid {field}" in result.stderr and "Example" in result.stderr


def test_project_is_built_when_its_module_is_missing_or_stale(tmp_path):
    require_tool("clang-14", "sudo apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32")
    project = render(tmp_path / "hello-wasm", language="c")
    first = yowasm("run", str(project), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.endswith("Hello from hello-wasm!\n")
    assert "Built" in first.stderr

    again = yowasm("run", cwd=project)
    assert (again.returncode, again.stdout, "Built" in again.stderr) == (0, "Hello from hello-wasm!\n", False)

    source = project / "src/greeting.c"
    source.write_text(source.read_text().replace("Hello from", "Howdy from"))
    later = time.time() + 2
    os.utime(source, (later, later))
    rebuilt = yowasm("run", cwd=project)
    assert rebuilt.stdout == "Howdy from hello-wasm!\n" and "Built" in rebuilt.stderr
