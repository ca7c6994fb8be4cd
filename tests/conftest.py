"""Shared test helpers: real tools are required, never faked.

In CI (CI=true) a missing tool fails the run; on a developer machine the test is
skipped with the tool's name and how to install it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Iterable, Iterator

import pexpect
import pyte
import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session", autouse=True)
def caches_of_the_run(tmp_path_factory) -> Iterator[Path]:
    """yowasm's caches (parsed YAML, compiled templates, build records) in a folder of
    the test run's own, for this process and every yowasm it starts: the user's
    ~/.cache/yowasm is neither read nor written."""
    folder = tmp_path_factory.mktemp("xdg-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(folder))
        yield folder


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


def yowasm_argv(*args: str, interpreter: tuple[str, ...] = ()) -> list[str]:
    """The command line of `python -m yowasm ARGS` with this interpreter (and its
    INTERPRETER options, such as `-X importtime`): yowasm from this checkout."""
    return [sys.executable, *interpreter, "-m", "yowasm", *args]


def yowasm_environment(env: dict[str, str] | None = None, unset: Iterable[str] = ()) -> dict[str, str]:
    """This process's environment without the variables named in UNSET, then with ENV added."""
    removed = set(unset)
    return {**{name: value for name, value in os.environ.items() if name not in removed}, **(env or {})}


def run_yowasm(*args: str, cwd: Path, env: dict[str, str] | None = None, unset: Iterable[str] = (),
               timeout: float = 300, interpreter: tuple[str, ...] = (), **options) -> subprocess.CompletedProcess[str]:
    """`python -m yowasm ARGS` in a fresh process run to its end, stdout and stderr piped
    (as in a log), stdin from /dev/null unless `input` or `stdin` is given; the variables
    named in UNSET are removed from this environment and ENV is added to it; INTERPRETER
    options go to python (`-X importtime`); other OPTIONS go to subprocess.run
    (`preexec_fn`, `input`)."""
    if "input" not in options:
        options.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run(yowasm_argv(*args, interpreter=interpreter), cwd=cwd, capture_output=True, text=True,
                          env=yowasm_environment(env, unset), timeout=timeout, **options)


def yowasm_process(*args: str, cwd: Path, pause: str | None = None, env: dict[str, str] | None = None,
                   unset: Iterable[str] = (), stdin: int | IO = subprocess.DEVNULL, stdout: int | IO = subprocess.PIPE,
                   stderr: int | IO = subprocess.PIPE, **options) -> subprocess.Popen[str]:
    """A real `python -m yowasm ARGS` process, left running: stdin from /dev/null and
    stdout and stderr piped unless STDIN, STDOUT or STDERR say otherwise (subprocess.PIPE
    to write to it, a file for a log); ENV and UNSET as for run_yowasm; other OPTIONS go
    to subprocess.Popen (`preexec_fn`). With PAUSE, it is started with the test hook
    YOWASM_TEST_PAUSE (yowasm/interrupts.py) and returned once it waits at that point,
    so a test can send it a real signal there; the pause is read from its stderr, which
    must then be piped."""
    environment = yowasm_environment(env, unset)
    if pause:
        assert stderr == subprocess.PIPE, "a pause is announced on stderr, which must be piped"
        environment["YOWASM_TEST_PAUSE"] = pause
    process = subprocess.Popen(yowasm_argv(*args), cwd=cwd, env=environment, stdin=stdin, stdout=stdout,
                               stderr=stderr, text=True, **options)
    if pause:
        assert process.stderr is not None
        seen = []
        for line in process.stderr:
            seen.append(line)
            if line.strip() == f"yowasm-test-paused: {pause}":
                break
        else:
            process.wait(timeout=60)
            raise AssertionError(f"yowasm never reached {pause}:\n{''.join(seen)}")
    return process


def path_with_yowasm(folder: Path) -> str:
    """This machine's PATH with a new FOLDER/bin first, holding a `yowasm` command that
    runs this checkout's yowasm with this interpreter: what a shell or a Makefile finds."""
    bin_folder = folder / "bin"
    bin_folder.mkdir()
    command = bin_folder / "yowasm"
    command.write_text(f'#!/bin/sh\nexec {shlex.join(yowasm_argv())} "$@"\n')
    command.chmod(0o755)
    return f"{bin_folder}{os.pathsep}{os.environ['PATH']}"


def imported_modules(importtime_output: str) -> set[str]:
    """The modules a `python -X importtime` run imported, from what it wrote to stderr."""
    return {line.split("|")[-1].strip() for line in importtime_output.splitlines() if line.startswith("import time:")}


# --- a person at a terminal ------------------------------------------------------

DOWN = "\x1b[B"
UP = "\x1b[A"
ENTER = "\r"
CLEAR_LINE = "\x15"  # Ctrl-U
ROWS, COLUMNS = 24, 80


class Terminal:
    """A command in a pty of ROWS x COLUMNS, with the screen a user would see."""

    def __init__(self, cwd: Path, argv: list[str], *, env: dict[str, str] | None = None):
        terminal = self

        class Screen(pyte.HistoryScreen):
            def write_process_input(self, data: str) -> None:  # a cursor position report
                terminal.child.send(data)

        self.screen = Screen(COLUMNS, ROWS, history=10_000)
        self.stream = pyte.Stream(self.screen)
        self.transcript = ""
        self.child = pexpect.spawn(argv[0], argv[1:], cwd=str(cwd), encoding="utf-8", dimensions=(ROWS, COLUMNS),
                                   env={"TERM": "xterm", "PATH": os.environ["PATH"], "HOME": str(cwd), "USER": "octo",
                                        "PYTHONPATH": os.pathsep.join(sys.path), **(env or {})})

    @classmethod
    def yowasm(cls, cwd: Path, *args: str, **options) -> Terminal:
        """`python -m yowasm ARGS` at the terminal."""
        return cls(cwd, yowasm_argv(*args), **options)

    @classmethod
    def yowasm_new(cls, cwd: Path, *args: str, **options) -> Terminal:
        return cls.yowasm(cwd, "new", *args, **options)

    @property
    def text(self) -> str:
        """What is on the screen now."""
        return "\n".join(line.rstrip() for line in self.screen.display)

    @property
    def scrollback(self) -> str:
        """The lines that scrolled off the top, then the screen."""
        gone = ["".join(row[column].data for column in range(COLUMNS)).rstrip() for row in self.screen.history.top]
        return "\n".join([*gone, self.text])

    def _read(self, timeout: float) -> bool:
        try:
            data = self.child.read_nonblocking(65536, timeout=timeout)
        except pexpect.TIMEOUT:
            return True
        except pexpect.EOF:
            return False
        self.transcript += data
        self.stream.feed(data)
        return True

    def wait_for(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.text:
            if time.monotonic() > deadline or not self._read(0.1):
                raise AssertionError(f"{text!r} never appeared on the screen:\n{self.text}")
        while self._read(0.2) and self.child.isalive() and self._settling():
            pass
        return self.text

    def _settling(self) -> bool:
        before = self.text
        self._read(0.05)
        return self.text != before

    def answer(self, prompt: str, keys: str) -> str:
        screen = self.wait_for(prompt)
        self.child.send(keys)
        return screen

    def finish(self, timeout: float = 600) -> int:
        deadline = time.monotonic() + timeout
        while self._read(0.2):
            assert time.monotonic() < deadline, self.text
        self.child.close()
        return self.child.exitstatus if self.child.exitstatus is not None else -self.child.signalstatus


def unwrapped(screen: str) -> str:
    """The screen's words in one line: what was wrapped reads whole again."""
    return " ".join(screen.split())


def isolated_yaml_cache(folder: Path) -> Iterator[Path]:
    """This process's parsed-YAML cache in FOLDER/cache, read afresh (so that in-process
    tests neither use nor fill the user's)."""
    from yowasm import yaml_cache

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(folder / "cache"))
        yaml_cache._entries.cache_clear()
        try:
            yield folder / "cache"
        finally:
            yaml_cache._entries.cache_clear()


@pytest.fixture
def yaml_cache_in_tmp(tmp_path) -> Iterator[Path]:
    yield from isolated_yaml_cache(tmp_path)
