"""`yowasm update` in-process (typer's runner): what it prints and writes, in and out of
a project, with the installed templates and with newer ones."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from yowasm import scaffold
from yowasm.cli import app
from yowasm.languages import templates_dir

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
