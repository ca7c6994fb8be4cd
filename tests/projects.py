"""Take a template from render to build to run: the one helper every language uses.

`render` makes a project with yowasm's own renderer; `run_generated_ci` executes the
project-command steps of its `.github/workflows/build.yml` verbatim, in order, in the
project directory, as a developer would locally; `run_readme_commands` runs the
commands its README shows, as written.
"""

from __future__ import annotations

import fcntl
import os
import re
import selectors
import shlex
import signal
import subprocess
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml

from tests.conftest import CLANG_INSTALL, require_tool
from yowasm.model import ProjectAnswers
from yowasm.readers import MAX_FILE_BYTES
from yowasm.scaffold import create_project

DEFAULT_ANSWERS: dict[str, Any] = {
    "name": "hello-wasm",
    "description": "A WebAssembly module",
    "author": "Test Author",
    "language": "rust",
    "runtime": "wasmtime",
    "registry": "ghcr",
    "namespace": "octocat",
    "license": "MIT",
    "branch": "main",
}

#: Steps of build.yml that are the project's own commands (run verbatim here); every
#: other step installs a toolchain, which this machine has installed by .ci/run.
PROJECT_STEP_IDS = ("dependencies", "build", "test", "run")


def copier_renders(templates: Path, value: object, **answers: Any) -> Any:
    """A templated value of copier.yml (a question's `choices` or `default`) as plain
    copier renders it: with its loader at the template root, its default Ansible
    filters and `_copier_conf.src_path`; a rendered `choices` parsed as YAML, as copier
    parses it. A value that is no template is returned as it is."""
    from jinja2 import FileSystemLoader
    from jinja2.sandbox import SandboxedEnvironment

    if not isinstance(value, str):
        return value
    environment = SandboxedEnvironment(loader=FileSystemLoader(str(templates)),
                                       extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"])
    text = environment.from_string(value).render(_copier_conf={"src_path": templates}, **answers)
    return yaml.safe_load(text) if text.lstrip().startswith("[") else text


def section(markdown: str, heading: str) -> str:
    """The text of the `## HEADING` section of a Markdown text."""
    _, found, rest = markdown.partition(f"\n## {heading}\n")
    assert found, f"no section '## {heading}'"
    return rest.split("\n## ", 1)[0]


def shell_blocks(markdown: str, heading: str | None = None) -> list[str]:
    """The ```sh code blocks of a Markdown text, as written (of its `## HEADING` only, if given)."""
    if heading is not None:
        markdown = section(markdown, heading)
    return re.findall(r"^```sh\n(.*?)^```", markdown, flags=re.S | re.M)


def answers(**overrides: Any) -> ProjectAnswers:
    data = {**DEFAULT_ANSWERS, **overrides}
    return ProjectAnswers.from_data({key: value for key, value in data.items() if value is not None})


def render(destination: Path, **overrides: Any) -> Path:
    create_project(answers(**overrides), destination)
    return destination


# --- a minimal C project, no template -----------------------------------------------

MINIMAL_ANSWERS = """\
_template_version: 0.1.0
name: tiny
description: A minimal project for the build tests
author: Test Author
language: c
runtime: wasmtime
registry: none
license: MIT
branch: main
"""

MAKEFILE = """\
build: build/tiny.wasm

build/tiny.wasm: src/hello.c
\tmkdir -p build
\tclang-14 --target=wasm32-wasi -O2 -s -o $@ src/hello.c
"""

HELLO = '#include <stdio.h>\nint main(void) { puts("hello from tiny"); return 0; }\n'


def minimal_c_project(root: Path, *, makefile: str = MAKEFILE, source: str = HELLO) -> Path:
    """A C project at ROOT with no template: an answers file and a Makefile whose
    `build` target compiles one C file with clang-14 (the real compiler)."""
    require_tool("clang-14", CLANG_INSTALL)
    require_tool("make", "sudo apt-get install make")
    (root / "src").mkdir(parents=True)
    (root / ".copier-answers.yml").write_text(MINIMAL_ANSWERS)
    (root / "Makefile").write_text(makefile)
    (root / "src/hello.c").write_text(source)
    return root


def set_mtime(path: Path, seconds_from_now: float) -> None:
    moment = time.time() + seconds_from_now
    os.utime(path, (moment, moment))


@dataclass(frozen=True)
class Step:
    id: str
    name: str
    run: str


class StepFailed(AssertionError):
    def __init__(self, step: Step, returncode: int, output: str):
        self.step = step
        self.returncode = returncode
        self.output = output
        super().__init__(
            f"step {step.id!r} ({step.name}) exited {returncode}:\n$ {step.run}\n{output}"
        )


def project_steps(project: Path) -> list[Step]:
    workflow = yaml.safe_load((project / ".github/workflows/build.yml").read_text("utf-8"))
    (job,) = workflow["jobs"].values()
    return [
        Step(step["id"], step["name"], step["run"])
        for step in job["steps"]
        if step.get("id") in PROJECT_STEP_IDS
    ]


def toolchain_env() -> dict[str, str]:
    env = dict(os.environ)
    # The machine's rustup toolchain has no wasm std and cannot download one; Debian's
    # rustc (with libstd-rust-dev-wasm32) is selected the way toolchains.md measured.
    env["RUSTUP_TOOLCHAIN"] = "/usr"
    env.setdefault("GOFLAGS", "-modcacherw")
    return env


def run_generated_ci(project: Path, *, timeout: float = 600) -> list[tuple[Step, str]]:
    """Run each project step with bash -eo pipefail (GitHub's `shell: bash`); raise
    StepFailed naming the first step that fails, with its output."""
    results = []
    for step in project_steps(project):
        completed = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step.run],
            cwd=project,
            env=toolchain_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
        if completed.returncode != 0:
            raise StepFailed(step, completed.returncode, completed.stdout)
        results.append((step, completed.stdout))
    return results


def record_renames_into(folder: Path, monkeypatch: Any) -> list[str]:
    """The paths (relative to FOLDER) that yowasm renames files to inside FOLDER, in
    order. A spy: every rename still happens."""
    from yowasm import scaffold

    renamed: list[str] = []
    real_replace = os.replace

    def spy(source: Any, target: Any) -> None:
        if Path(target).parent.resolve().is_relative_to(folder.resolve()):
            renamed.append(Path(target).relative_to(folder).as_posix())
        real_replace(source, target)

    monkeypatch.setattr(scaffold.os, "replace", spy)
    return renamed


ALIAS_BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
name: *h
"""

#: Hostile data and answers files: (contents, what the refusal must say), each a file a
#: user or an attacker could hand over.
ADVERSARIAL = {
    "alias bomb": (ALIAS_BOMB.encode(), "uses a YAML alias (*a on line 2)"),
    "merge key": (b"base: &base {name: x}\nother:\n  <<: *base\n", "uses a YAML alias"),
    "binary": (b"name: hello\n\x00\x01\x02\xff", "is binary (it holds NUL bytes)"),
    "non-UTF-8": ("name: Zoë\n".encode("latin-1"), "is not UTF-8 text (byte 0xeb at offset 8)"),
    "a list": (b"- name\n- hello\n", "must hold a mapping of keys to values, not a list"),
    "a string": (b"hello\n", "must hold a mapping of keys to values, not text"),
    "int keys": (b"1: one\nname: x\n", "has the key 1 (a number): keys must be text"),
    "null key": (b"~: x\n", "has the key None (null): keys must be text"),
    "bool key": (b"yes: x\n", "has the key True (true or false): keys must be text"),
    "list value": (b"name: [a, b]\n", "the answer 'name' must be text, not a list"),
    "mapping value": (b"author: {first: Jane}\n", "the answer 'author' must be text, not a mapping"),
    "number value": (b"branch: 2024\n", "the answer 'branch' must be text, not a number"),
    "binary value": (b"name: !!binary aGVsbG8=\n", "the answer 'name' must be text, not bytes"),
    "python tag": (b"name: !!python/object/apply:os.system [echo owned]\n", "is not valid YAML or JSON"),
    "unhashable key": (b"? [a, b]\n: x\n", "is not valid YAML or JSON"),
    "deep nesting": (b"name: " + b"[" * 20000 + b"]" * 20000 + b"\n", "nested too deeply"),
    "huge integer": (b"name: " + b"9" * 5000 + b"\n", "holds a value yowasm cannot read"),
    "broken YAML": (b"name: [unclosed\n", "is not valid YAML or JSON"),
    "NUL escape": (b'name: "hel\\0lo"\n', "has a NUL character in 'hel\\x00lo'"),
    "lone surrogate": (b'_yowasm_files: {"\\ud800": abc}\n', "has a lone surrogate (not a Unicode character)"),
    "too large": (b"name: " + b"x" * MAX_FILE_BYTES + b"\n", "is larger than 256 KiB"),
}
#: Sections of a generated README whose commands need nothing but this machine (the
#: others need a registry account, a cluster or GitHub).
LOCAL_SECTIONS = ("Build, test, run", "Run it with wasmtime", "Serve it (WAGI)", "Updating")
#: `yowasm serve` as the README shows it listens on this fixed address.
SERVE_ADDRESS = "127.0.0.1:3000"


def readme_commands(project: Path) -> list[str]:
    """Every command line of the README's local sections, as written: the ```sh block
    lines, then the inline `wasmtime run ...` of the WAGI section."""
    readme = (project / "README.md").read_text("utf-8")
    commands = []
    for heading in LOCAL_SECTIONS:
        if f"\n## {heading}\n" not in readme:
            continue
        for block in shell_blocks(readme, heading):
            commands += [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        prose = re.sub(r"^```.*?^```", "", section(readme, heading), flags=re.S | re.M)
        commands += re.findall(r"`(wasmtime run [^`]+)`", prose)
    return commands


@dataclass(frozen=True)
class Ran:
    command: str
    returncode: int
    output: str

    @property
    def expected(self) -> str:
        """What the README's comment after the command says it prints, when it says so."""
        _, _, comment = self.command.partition("  #")
        return comment.strip() if comment.strip().startswith("Hello from") else ""


def run_readme_commands(project: Path, *, path: str, timeout: float = 600) -> list[Ran]:
    """Run `readme_commands` one by one in the project with bash and this PATH, as a
    reader pastes them; `yowasm serve` is left running (on its documented address)
    for the commands after it, then stopped with Ctrl-C."""
    env = {**toolchain_env(), "PATH": path}
    results = []
    with ExitStack() as stack:
        for command in readme_commands(project):
            if shlex.split(command, comments=True) == ["yowasm", "serve"]:
                results.append(stack.enter_context(_serving(command, project, env)))
                continue
            completed = subprocess.run(["bash", "--noprofile", "--norc", "-c", command], cwd=project, env=env,
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True, timeout=timeout)
            results.append(Ran(command, completed.returncode, completed.stdout))
    return results


@contextmanager
def _serving(command: str, project: Path, env: dict[str, str], timeout: float = 120) -> Iterator[Ran]:
    # One documented address for every test process on this machine: take turns.
    with open(Path(tempfile.gettempdir()) / f"yowasm-tests-{SERVE_ADDRESS}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        process = subprocess.Popen(["bash", "--noprofile", "--norc", "-c", f"exec {command}"], cwd=project, env=env,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            output = _read_until(process, "Serving on", timeout)
            yield Ran(command, 0 if "Serving on" in output else process.poll() or 1, output)
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            finally:
                process.kill()


def _read_until(process: subprocess.Popen, marker: str, timeout: float) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stderr, selectors.EVENT_READ)
        while marker not in seen and time.monotonic() < deadline:
            if selector.select(timeout=deadline - time.monotonic()):
                line = process.stderr.readline()
                if not line:
                    break
                seen += line
    return seen
