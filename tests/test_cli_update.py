"""`yowasm update` in-process (typer's runner): what it prints and writes, in and out of
a project, with the installed templates and with newer ones."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import path_with_yowasm, require_tool, run_yowasm, yowasm_process
from yowasm import scaffold
from yowasm.cli import app
from yowasm.packaged import templates_dir

runner = CliRunner()


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["new", "hello", "--defaults", "--author", "Jane Doe"])
    assert result.exit_code == 0, result.output
    return tmp_path / "hello"


def test_a_fresh_project_is_up_to_date(project, monkeypatch):
    monkeypatch.chdir(project)
    result = runner.invoke(app, ["update"])
    assert result.exit_code == 0, result.output
    assert "Up to date hello (templates 0.1.0 → 0.1.0; 14 unchanged)" in result.output


def test_edits_are_listed_and_dry_run_writes_nothing(project):
    (project / "src/main.rs").write_text("fn main() {}\n")
    (project / ".editorconfig").unlink()
    result = runner.invoke(app, ["update", str(project), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "kept      src/main.rs" in result.output
    assert "skipped   .editorconfig" in result.output
    assert not (project / ".editorconfig").exists()


def test_newer_templates_update_and_conflicts_say_how_to_merge(project, tmp_path, monkeypatch):
    newer = tmp_path / "newer-templates"
    shutil.copytree(templates_dir(), newer, symlinks=True)
    (newer / "_shared/.editorconfig").write_text("root = true\n# newer\n")
    (newer / "rust/src/main.rs.jinja").write_text("fn main() { println!(\"newer\"); }\n")
    (project / "src/main.rs").write_text("fn main() {}\n")
    monkeypatch.setattr(scaffold, "templates_dir", lambda: newer)  # what a newer yowasm would install

    dry = runner.invoke(app, ["update", str(project), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "Would update hello" in dry.output and "Nothing was written (--dry-run)." in dry.output
    assert "Would write src/main.rs.yowasm-new (the templates' version, to merge by hand)" in dry.output
    assert "diff" not in dry.output  # it wrote no file to diff
    assert not (project / "src/main.rs.yowasm-new").exists()

    result = runner.invoke(app, ["update", str(project)])
    assert result.exit_code == 0, result.output
    assert "updated   .editorconfig" in result.output
    assert "conflict  src/main.rs" in result.output
    assert "Merge by hand: diff -u src/main.rs src/main.rs.yowasm-new" in result.output
    assert (project / "src/main.rs").read_text() == "fn main() {}\n"
    assert "newer" in (project / "src/main.rs.yowasm-new").read_text()


def test_outside_a_project_it_says_so(tmp_path):
    result = runner.invoke(app, ["update", str(tmp_path)])
    assert result.exit_code == 1
    assert "is not a yowasm project" in result.output


def test_an_invalid_recorded_answer_is_named_and_nothing_is_written(project):
    answers_file = project / ".copier-answers.yml"
    answers_file.write_text(answers_file.read_text().replace("name: hello", "name: Hello World"))
    before = {path: path.read_bytes() for path in project.rglob("*") if path.is_file()}
    result = runner.invoke(app, ["update", str(project)])
    assert result.exit_code == 2
    assert "name" in result.output and "Hello World" in result.output
    assert {path: path.read_bytes() for path in project.rglob("*") if path.is_file()} == before


def test_an_unforeseen_system_error_is_one_clear_line(project, monkeypatch):
    # A full disk cannot be had on demand, so the core function raises what it would.
    import errno

    from yowasm import updating

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(project / "README.md"))

    monkeypatch.setattr(updating, "update_project", disk_full)
    result = runner.invoke(app, ["update", str(project)])
    assert result.exit_code == 1
    assert result.output == f"Error: No space left on device: {project / 'README.md'}.\n"


def test_data_changes_answers_and_shows_them(project):
    result = runner.invoke(app, ["update", str(project), "--data", "runtime=wagi", "-d", "artifact_format=wasm-to-oci"])
    assert result.exit_code == 0, result.output
    assert "runtime: wasmtime → wagi" in result.output and "added     modules.toml" in result.output
    assert (project / "modules.toml").exists()
    bad = runner.invoke(app, ["update", str(project), "--data", "runtime"])
    assert bad.exit_code == 2 and "Invalid --data 'runtime': must be KEY=VALUE" in bad.output


README = Path(__file__).parent.parent / "README.md"


def readme_console_blocks(heading: str) -> list[list[tuple[str, str]]]:
    """The ```console blocks of README.md's section HEADING: each a list of (command,
    the output the README shows for it)."""
    text = README.read_text()
    section = text[text.index(heading):]
    section = section[: section.find("\n### ", 1)]
    blocks = []
    for block in re.findall(r"```console\n(.*?)```", section, re.S):
        steps: list[tuple[str, list[str]]] = []
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                steps[-1][1].append(line)
        blocks.append([(command, "\n".join(output)) for command, output in steps])
    return blocks


def run_as_printed(steps: list[tuple[str, str]], cwd: Path, env: dict[str, str]) -> None:
    for command, shown in steps:
        completed = subprocess.run(["bash", "--noprofile", "--norc", "-c", command], cwd=cwd, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
        assert completed.stdout.rstrip("\n") == shown, f"$ {command}\n{completed.stdout}"


def test_the_readme_update_examples_are_what_happens(tmp_path):
    """Every command of README.md's update section, run as printed by bash in the project
    the README's `new` example makes, prints exactly what the README shows."""
    env = {**os.environ, "PATH": path_with_yowasm(tmp_path)}
    (make,) = [command for command, _ in readme_console_blocks("### `yowasm new")[0]
               if command.startswith("yowasm new hello ")]
    edits, given_a_registry = readme_console_blocks("### `yowasm update")

    first = tmp_path / "first"
    first.mkdir()
    run_as_printed([(make + " > /dev/null", "")], first, env)
    run_as_printed(edits, first / "hello", env)

    # "A project made with --registry none (and src/main.c edited), later given one"
    second = tmp_path / "second"
    second.mkdir()
    without_registry = make.replace("--registry ghcr --namespace octocat", "--registry none")
    assert without_registry != make
    run_as_printed([(without_registry + " > /dev/null", "")], second, env)
    with (second / "hello/src/main.c").open("a") as source:
        source.write("/* my change */\n")
    run_as_printed(given_a_registry, second / "hello", env)


def test_pending_merges_are_reported_by_update_and_doctor_until_merged(project):
    (project / "README.md").write_text("# mine\n")
    assert runner.invoke(app, ["update", str(project), "--data", "license=Apache-2.0"]).exit_code == 0
    assert (project / "README.md.yowasm-new").is_file()
    line = "Pending merge (from an earlier update, kept as it is): diff -u README.md README.md.yowasm-new"
    again = runner.invoke(app, ["update", str(project)])
    assert again.exit_code == 0 and line in again.output
    doctor = run_yowasm("doctor", cwd=project)
    assert "Pending merge (from yowasm update): diff -u README.md README.md.yowasm-new" in doctor.stdout
    (project / "README.md.yowasm-new").unlink()
    assert "Pending merge" not in runner.invoke(app, ["update", str(project)]).output
    assert "Pending merge" not in run_yowasm("doctor", cwd=project).stdout


def test_a_generated_gitignore_keeps_pending_merges_out_of_commits(project):
    require_tool("git", "sudo apt-get install git")
    (project / "README.md.yowasm-new").write_text("theirs\n")
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    assert subprocess.run(["git", "check-ignore", "-q", "README.md.yowasm-new"], cwd=project).returncode == 0


UPDATE_SIGNALS = [
    # (signal, where it arrives, exit code, whether the update is complete, message)
    (signal.SIGTERM, "update-before-commit", 143, False, "Aborted: nothing was written; {root} is as it was."),
    (signal.SIGHUP, "update-before-commit", 129, False, "Aborted: nothing was written; {root} is as it was."),
    (signal.SIGINT, "update-before-commit", 130, False, "Aborted: nothing was written; {root} is as it was."),
    (signal.SIGTERM, "update-moving", 143, True, "Interrupted after the update was complete: {root} is up to date."),
    (signal.SIGHUP, "update-committed", 129, True, "Interrupted after the update was complete: {root} is up to date."),
    (signal.SIGINT, "update-committed", 130, True, "Interrupted after the update was complete: {root} is up to date."),
]


@pytest.mark.parametrize("signum, point, code, complete, message", UPDATE_SIGNALS)
def test_signals_to_a_real_update_leave_nothing_half_done_and_say_what_is_true(project, tmp_path, signum, point,
                                                                               code, complete, message):
    """A real signal to a real `python -m yowasm update`, paused at an exact point by the
    test hook YOWASM_TEST_PAUSE (yowasm/interrupts.py; tests only)."""
    (project / "README.md").write_text("# mine\n")
    before = snapshot(project)
    scratch = tmp_path / "tmp"  # copier's and Python's temporary folders land here
    scratch.mkdir()
    process = yowasm_process("update", "--data", "license=Apache-2.0", cwd=project, pause=point,
                             env={"TMPDIR": str(scratch)})
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    assert "Error: " + message.format(root=project) in stderr and "Traceback" not in stderr
    assert list(scratch.iterdir()) == []
    assert not [path for path in project.parent.iterdir() if path.name.startswith(".yowasm-new-")]
    after = snapshot(project)
    if complete:
        assert "Apache License" in after["LICENSE"].decode() and "README.md.yowasm-new" in after
        assert "license: Apache-2.0" in after[".copier-answers.yml"].decode()
        # The answers file describes the files as they are: nothing is left to do.
        assert "Up to date hello" in run_yowasm("update", cwd=project).stdout
    else:
        assert after == before


def snapshot(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()}
