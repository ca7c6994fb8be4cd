"""`yowasm build`: the project's own build entry point, its output visible, the module
path and size at the end; failures exit non-zero with the tool's own errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import require_tool, run_yowasm
from tests.projects import render, toolchain_env


@pytest.fixture
def c_project(tmp_path) -> Path:
    require_tool("clang-14", "sudo apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32")
    return render(tmp_path / "hello-wasm", language="c")


def test_build_reports_module_and_size(c_project):
    result = run_yowasm("build", cwd=c_project, env=toolchain_env(), timeout=600)
    assert result.returncode == 0, result.stderr
    size = (c_project / "build/hello-wasm.wasm").stat().st_size
    assert "clang" in result.stdout  # the tool's own output is streamed
    assert f"Built build/hello-wasm.wasm ({size:,} bytes)" in result.stdout


def test_a_current_module_is_not_built_again(c_project):
    assert run_yowasm("build", cwd=c_project, env=toolchain_env(), timeout=600).returncode == 0
    result = run_yowasm("build", cwd=c_project, env=toolchain_env(), timeout=600)
    size = (c_project / "build/hello-wasm.wasm").stat().st_size
    assert result.returncode == 0, result.stderr
    assert "clang" not in result.stdout + result.stderr  # the build tool did not run
    assert result.stdout == f"Up to date: build/hello-wasm.wasm ({size:,} bytes)\n"
    (c_project / "src/main.c").write_text((c_project / "src/main.c").read_text() + "\n")
    assert "clang" in run_yowasm("build", cwd=c_project, env=toolchain_env(), timeout=600).stdout


def test_failing_build_shows_the_compiler_error(c_project):
    (c_project / "src/main.c").write_text("int main(void) { return missing; }\n")
    result = run_yowasm("build", str(c_project), cwd=c_project.parent, env=toolchain_env(), timeout=600)
    assert result.returncode == 1
    assert "use of undeclared identifier 'missing'" in result.stderr
    assert "`make build` failed" in result.stderr


def test_missing_build_tool_says_how_to_install_it(c_project, tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = run_yowasm("build", cwd=c_project, env={"PATH": str(empty)}, timeout=600)
    assert result.returncode == 1
    assert "`make` is not installed" in result.stderr and "sudo apt-get install make" in result.stderr


def test_not_a_project(tmp_path):
    result = run_yowasm("build", cwd=tmp_path, env=toolchain_env(), timeout=600)
    assert result.returncode == 1 and "is not a yowasm project" in result.stderr


def test_assemblyscript_build_installs_its_compiler_first(tmp_path):
    require_tool("npm", "sudo apt-get install nodejs npm")
    project = render(tmp_path / "hello-wasm", language="assemblyscript")
    result = run_yowasm("build", cwd=project, env=toolchain_env(), timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (project / "node_modules/assemblyscript").is_dir()
    assert "Built build/hello-wasm.wasm" in result.stdout
