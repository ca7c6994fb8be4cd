"""`yowasm doctor`: tools found with their versions, the WASI target, install commands
for what is missing, and exit 1 when the project's own toolchain is incomplete."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.conftest import path_without, require_tool, run_yowasm
from tests.projects import render


#: Wide enough that no table row is wrapped.
WIDE = {"COLUMNS": "250"}


def test_complete_project_toolchain(tmp_path):
    require_tool("clang-14", "sudo apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32")
    project = render(tmp_path / "hello-wasm", language="c")
    result = run_yowasm("doctor", cwd=project, env=WIDE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "C: ready" in result.stdout
    assert "--target=wasm32-wasi" in result.stdout  # the target the toolchain can link
    assert "Rust" not in result.stdout  # only the project's language


def test_missing_tool_is_reported_with_its_install_command(tmp_path):
    require_tool("make", "sudo apt-get install make")
    project = render(tmp_path / "hello-wasm", language="tinygo")
    result = run_yowasm("doctor", str(project), cwd=tmp_path, env={**WIDE, "PATH": path_without(tmp_path, "make")})
    assert result.returncode == 1
    row = next(line for line in result.stdout.splitlines() if "│ make" in line)
    assert "missing" in row and "sudo apt-get install make" in row
    assert "TinyGo: incomplete" in result.stdout
    tinygo = next(line for line in result.stdout.splitlines() if "│ tinygo" in line)
    assert "optional" in tinygo or "ok" in tinygo  # tinygo never makes the toolchain incomplete


def test_without_a_project_every_language_is_checked(tmp_path):
    result = run_yowasm("doctor", cwd=tmp_path, env=WIDE)
    assert result.returncode == 0
    for title in ("Rust", "C", "AssemblyScript", "TinyGo"):
        assert f"{title}: " in result.stdout
    assert "checked inside a project" in result.stdout


@pytest.mark.parametrize("missing", [("wasmtime",), ("wasmtime", "yowasm")], ids=["no-wasmtime-cli", "no-runner"])
def test_ready_means_the_run_target_works(tmp_path, missing):
    """Without the wasmtime CLI, `make run` runs the module with yowasm and doctor says
    ready; without yowasm on PATH too, doctor says incomplete and `make run` fails."""
    require_tool("clang-14", "sudo apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32")
    require_tool("yowasm", "pip install -e .")
    project = render(tmp_path / "hello-wasm", language="c")
    path = path_without(tmp_path, *missing)
    result = run_yowasm("doctor", cwd=project, env={**WIDE, "PATH": path})
    run = subprocess.run(["make", "run"], cwd=project, capture_output=True, text=True,
                         env={**os.environ, "PATH": path}, timeout=120)
    if missing == ("wasmtime",):
        assert (result.returncode, "C: ready") == (0, result.stdout.splitlines()[-1]), result.stdout
        assert run.returncode == 0 and run.stdout.endswith("Hello from hello-wasm!\n"), run.stdout + run.stderr
        assert "yowasm run build/hello-wasm.wasm" in run.stdout
    else:
        assert (result.returncode, "C: incomplete") == (1, result.stdout.splitlines()[-1]), result.stdout
        row = next(line for line in result.stdout.splitlines() if "│ make run" in line)
        assert "missing" in row
        assert run.returncode != 0 and "yowasm: No such file or directory" in run.stderr
