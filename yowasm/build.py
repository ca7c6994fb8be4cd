"""`yowasm build`: a project's own release build, through its own build entry point."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from yowasm import freshness
from yowasm.errors import BuildError, ToolError
from yowasm.project import Project

STDERR_FD = 2


@dataclass(frozen=True)
class BuildResult:
    module: Path
    size: int
    commands: tuple[str, ...]


def build_project(project: Project, *, output_to_stderr: bool = False) -> BuildResult:
    """Run the language's build command (and its one-time setup) in the project, with
    the tool's output going straight to the terminal (to stderr when the caller's
    stdout is for something else, like the module `yowasm run` runs); fail with
    BuildError if it fails or leaves no module."""
    facts = project.facts
    commands = []
    if facts.setup and facts.setup_creates and not (project.root / facts.setup_creates).exists():
        commands.append(facts.setup)
    commands.append(facts.build)
    for command in commands:
        _run(project, command, output_to_stderr=output_to_stderr)
    module = project.module_path
    if not module.is_file():
        raise BuildError(f"`{facts.build}` succeeded but left no module at {module}.")
    newest = newest_input_time(project)
    if newest > module.stat().st_mtime:
        # The build found the module current although a file in the project (such as
        # the Makefile or a README) is newer; record its verdict so that `build`, `run`
        # and `serve` do not run it again every time. (A file may carry a future time.)
        checked = max(time.time(), newest)
        os.utime(module, (checked, checked))
    return BuildResult(module, module.stat().st_size, tuple(commands))


def current_build(project: Project) -> BuildResult | None:
    """The module, with no command run, when the build tool would find nothing to do:
    it exists, the one-time setup has run, and no file of the project outside build
    output is newer. None when the build must run."""
    facts = project.facts
    try:
        built = project.module_path.stat()
    except FileNotFoundError:
        return None
    if facts.setup_creates and not (project.root / facts.setup_creates).exists():
        return None
    if newest_input_time(project) > built.st_mtime:
        return None
    return BuildResult(project.module_path, built.st_size, ())


def newest_input_time(project: Project) -> float:
    """The modification time of the newest file in the project that a build may read
    (see yowasm.freshness)."""
    return freshness.newest_input_time(str(project.root), project.answers.module_file)


def ensure_built(project: Project) -> BuildResult:
    """The module, built first unless the build would find nothing to do (see
    current_build), with the tool's output on stderr, as the caller's stdout is for
    something else; the result's commands are empty when nothing ran."""
    return current_build(project) or build_project(project, output_to_stderr=True)


def set_up(project: Project) -> None:
    """Run the language's one-time setup (such as `npm install`) in the project, the
    tool's output on stderr."""
    if project.facts.setup:
        _run(project, project.facts.setup, output_to_stderr=True)


def _run(project: Project, command: str, *, output_to_stderr: bool) -> None:
    _require_tool(project, command)
    completed = subprocess.run(["sh", "-c", command], cwd=project.root, stdout=STDERR_FD if output_to_stderr else None)
    if completed.returncode != 0:
        raise BuildError(
            f"`{command}` failed with exit code {completed.returncode} (its output is above).",
            hint="`yowasm doctor` checks that the toolchain is complete.",
        )


def _require_tool(project: Project, command: str) -> None:
    program = shlex.split(command)[0]
    if shutil.which(program):
        return
    install = next((tool.install for tool in project.facts.tools if tool.name == program), None)
    raise ToolError(
        f"`{program}` is not installed; {project.facts.title} projects build with `{command}`.",
        hint=f"Install it: {install}" if install else "Run `yowasm doctor` to see what is missing.",
    )
