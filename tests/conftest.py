"""Shared test helpers: real tools are required, never faked.

In CI (CI=true) a missing tool fails the run; on a developer machine the test is
skipped with the tool's name and how to install it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tool(name: str, install: str) -> str:
    """The path of NAME on PATH, or a failure in CI / a skip locally saying how to install it."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed: {install}"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


MODULES = Path(__file__).parent / "modules"
CLANG_INSTALL = "sudo apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32"


def compile_test_module(name: str, folder: Path) -> Path:
    """tests/modules/NAME.c compiled to a WASI command with clang-14 and wasi-libc."""
    clang = require_tool("clang-14", CLANG_INSTALL)
    module = folder / f"{name}.wasm"
    subprocess.run([clang, "--target=wasm32-wasi", "-O2", "-o", str(module), str(MODULES / f"{name}.c")], check=True)
    return module


def path_without(folder: Path, *missing: str) -> str:
    """A PATH of one new FOLDER/bin holding every program of this machine's PATH but
    MISSING: a machine without those tools, for real (no mock)."""
    bin_folder = folder / "bin"
    bin_folder.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            target = bin_folder / entry.name
            if entry.name not in missing and not target.exists():
                target.symlink_to(entry.path)
    return str(bin_folder)


def compile_wat(folder: Path, name: str, text: str) -> Path:
    """WebAssembly text compiled with wabt's wat2wasm, function names kept for backtraces."""
    wat2wasm = require_tool("wat2wasm", "sudo apt-get install wabt")
    source = folder / f"{name}.wat"
    source.write_text(text)
    subprocess.run([wat2wasm, "--debug-names", str(source), "-o", str(folder / f"{name}.wasm")], check=True)
    return folder / f"{name}.wasm"


def run_yowasm(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300,
               **options) -> subprocess.CompletedProcess[str]:
    """`python -m yowasm ARGS` in a fresh process run to its end, stdout and stderr piped
    (as in a log), stdin from /dev/null unless `input` or `stdin` is given; ENV is added
    to this environment."""
    if "input" not in options:
        options.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run([sys.executable, "-m", "yowasm", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=timeout, **options)
