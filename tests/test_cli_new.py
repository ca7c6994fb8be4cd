"""`yowasm new` in-process (typer's runner): flags, defaults, data files, missing
answers without a terminal, validation, --force, and cleanup after a failure."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from yowasm import __version__
from yowasm.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("USER", "octo cat")


def new(*args: str):
    return runner.invoke(app, ["new", *args])


def recorded(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def test_version_and_help():
    assert runner.invoke(app, ["--version"]).output == f"yowasm {__version__}\n"
    result = runner.invoke(app, ["new", "--help"])
    for flag in ("--name", "--language", "--runtime", "--krustlet-node", "--registry", "--namespace",
                 "--acr-name", "--license", "--branch", "--defaults", "--data-file", "--force"):
        assert flag in result.output


def test_flags_and_defaults_make_a_project(tmp_path):
    result = new("hello", "--language", "rust", "--runtime", "wagi", "--registry", "ghcr",
                 "--namespace", "octocat", "--author", "Jane Doe", "--defaults")
    assert result.exit_code == 0, result.output
    answers = recorded(tmp_path / "hello")
    assert "README.md" in answers.pop("_yowasm_files")  # digests for `yowasm update`
    assert answers | {"_src_path": None} == {
        "_src_path": None, "_template_version": "0.1.0", "name": "hello",
        "description": "A WebAssembly module", "author": "Jane Doe", "language": "rust",
        "runtime": "wagi", "registry": "ghcr", "namespace": "octocat",
        "artifact_format": "wasm-to-oci", "publisher": "oras", "license": "MIT", "branch": "main",
    }
    assert "ghcr.io/octocat/hello" in result.output
    assert "make build" in result.output and "yowasm serve" in result.output


def test_name_defaults_to_the_folder_turned_into_a_valid_name(tmp_path):
    result = new("My_Wasm Thing", "--defaults", "--author", "x")
    assert result.exit_code == 0, result.output
    assert recorded(tmp_path / "My_Wasm Thing")["name"] == "my-wasm-thing"


def test_author_and_namespace_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "no-gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    assert new("hello", "--defaults").exit_code == 0
    answers = recorded(tmp_path / "hello")
    assert (answers["author"], answers["namespace"]) == ("octo cat", "octo-cat")


@pytest.mark.parametrize(
    "flags, reference",
    [
        (["--registry", "dockerhub", "--namespace", "octocat"], "docker.io/octocat/hello"),
        (["--registry", "acr", "--acr-name", "myreg123"], "myreg123.azurecr.io/hello"),
        (["--registry", "registry.example.com:5000", "--namespace", "team/wasm"], "registry.example.com:5000/team/wasm/hello"),
        (["--registry", "ghcr.io", "--namespace", "octocat"], "ghcr.io/octocat/hello"),
    ],
)
def test_registry_reference(flags, reference):
    result = new("hello", "--defaults", "--author", "a", *flags)
    assert result.exit_code == 0, result.output
    assert f"{reference}:latest" in result.output


def test_data_file_gives_answers_with_the_answers_file_keys(tmp_path):
    data = tmp_path / "answers.json"
    data.write_text(json.dumps({"name": "from-file", "author": "A", "language": "c", "runtime": "krustlet",
                                "krustlet_node": "wagi", "registry": "ghcr", "namespace": "org"}))
    result = new("proj", "--data-file", str(data), "--license", "none")
    assert result.exit_code == 0, result.output
    answers = recorded(tmp_path / "proj")
    assert (answers["name"], answers["krustlet_node"], answers["license"]) == ("from-file", "wagi", "none")
    assert (tmp_path / "proj/k8s/pod.yaml").is_file()
    # An answers file of one project can make another one.
    again = new("copy", "--data-file", str(tmp_path / "proj/.copier-answers.yml"))
    assert again.exit_code == 0, again.output
    assert recorded(tmp_path / "copy") == answers


def test_missing_answers_without_a_terminal_name_every_flag(tmp_path, monkeypatch):
    monkeypatch.delenv("USER")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "none"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setattr("getpass.getuser", lambda: "")
    result = new("hello", "--registry", "acr")
    assert result.exit_code == 2
    assert "--author" in result.output and "--acr-name" in result.output
    assert not (tmp_path / "hello").exists()


@pytest.mark.parametrize(
    "flags, field, example",
    [
        (["--name", "Hello World"], "module name", "hello-wasm"),
        (["--name", "test"], "module name", "test-module"),
        (["--name", "a" * 65], "module name", "hello-wasm"),
        (["--name", "trailing-"], "module name", "hello-wasm"),
        (["--name", "double--dash"], "module name", "hello-wasm"),
        (["--name", "9lives"], "module name", "hello-wasm"),
        (["--language", "cobol"], "language", "rust"),
        (["--runtime", "docker"], "runtime", "wasmtime"),
        (["--runtime", "krustlet", "--krustlet-node", "linux"], "Krustlet node kind", "wasi"),
        (["--registry", "myregistry"], "registry", "registry.example.com:5000"),
        (["--registry", "reg.example.com:99999", "--namespace", "a"], "registry port", "5000"),
        (["--namespace", "Octo/Cat"], "namespace", "octocat or team/wasm"),
        (["--registry", "dockerhub", "--namespace", "a/b"], "namespace", "octocat"),
        (["--registry", "acr", "--acr-name", "my-reg"], "ACR name", "myregistry"),
        (["--license", "GPL"], "license", "MIT"),
        (["--branch", "feature..x"], "default branch", "main"),
        (["--author", "bad\x07bell"], "author", "Jane Doe"),
        (["--runtime", "wagi", "--artifact-format", "cncf"], "artifact format", "wasm-to-oci"),
        (["--runtime", "krustlet", "--registry", "none"], "registry", "ghcr"),
        (["--publisher", "wasm-to-oci", "--artifact-format", "cncf"], "publisher", "oras"),
    ],
)
def test_validation_names_field_rule_and_example(tmp_path, flags, field, example):
    result = new("proj", "--defaults", "--author", "a", *flags)
    assert result.exit_code == 2, result.output
    assert f"Invalid {field}" in result.output
    assert f"Example of a valid {field}: {example}" in " ".join(result.output.split())
    assert not (tmp_path / "proj").exists()
    assert list(tmp_path.iterdir()) == []


def test_answers_that_do_not_apply_are_refused(tmp_path):
    result = new("proj", "--defaults", "--author", "a", "--acr-name", "myregistry")
    assert result.exit_code == 2
    assert "--acr-name" in result.output
    assert list(tmp_path.iterdir()) == []


def test_unknown_data_file_keys_and_bad_files_are_refused(tmp_path):
    (tmp_path / "bad.yml").write_text("nmae: typo\n")
    result = new("proj", "--defaults", "--data-file", str(tmp_path / "bad.yml"))
    assert result.exit_code == 2 and "nmae" in result.output
    (tmp_path / "list.yml").write_text("- a\n")
    assert new("proj", "--data-file", str(tmp_path / "list.yml")).exit_code == 2
    assert not (tmp_path / "proj").exists()


def test_non_empty_folder_needs_force_and_keeps_user_files(tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "notes.txt").write_text("mine")
    (project / "README.md").write_text("my readme")
    refused = new("proj", "--defaults", "--author", "a")
    assert refused.exit_code == 2 and "--force" in refused.output
    assert (project / "README.md").read_text() == "my readme"

    result = new("proj", "--defaults", "--author", "a", "--force")
    assert result.exit_code == 0, result.output
    assert (project / "notes.txt").read_text() == "mine"
    assert "# proj" in (project / "README.md").read_text()
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".yowasm-new-")]


def test_missing_parent_folder_is_refused(tmp_path):
    result = new("no/such/parent/proj", "--defaults", "--author", "a")
    assert result.exit_code == 2 and "mkdir -p" in result.output


def test_failure_during_rendering_removes_a_created_folder(tmp_path, monkeypatch):
    """A copier failure in the middle of rendering cannot be produced on demand with a
    valid template, so the renderer is made to fail after writing some files."""
    import copier

    real_run_copy = copier.run_copy

    def fail_midway(src, dst, **kwargs):
        real_run_copy(src, dst, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(copier, "run_copy", fail_midway)
    result = new("proj", "--defaults", "--author", "a")
    assert result.exit_code == 1
    assert "disk full" in result.output and "Nothing was written" in result.output
    assert list(tmp_path.iterdir()) == []


def test_failure_during_rendering_leaves_an_existing_folder_as_it_was(tmp_path, monkeypatch):
    """As above, the fault is injected: the move into an existing folder fails halfway."""
    project = tmp_path / "proj"
    project.mkdir()
    (project / "README.md").write_text("my readme")
    (project / "keep.txt").write_text("keep")
    before = sorted(str(path.relative_to(project)) for path in project.rglob("*"))

    import yowasm.scaffold as scaffold

    real_replace = os.replace
    calls = []

    def fail_on_fifth(src, dst):
        calls.append(dst)
        if len(calls) == 5:
            raise OSError("device busy")
        return real_replace(src, dst)

    monkeypatch.setattr(scaffold.os, "replace", fail_on_fifth)
    result = new("proj", "--defaults", "--author", "a", "--force")
    monkeypatch.undo()
    assert result.exit_code != 0
    assert sorted(str(path.relative_to(project)) for path in project.rglob("*")) == before
    assert (project / "README.md").read_text() == "my readme"
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".yowasm-new-")]


TRICKY = 'Zoë "Q" O\'Brien: #1 ${{ github.token }} {{ 7*7 }} {% raw %} 🚀 \\ end'


def test_tricky_free_text_round_trips_unevaluated(tmp_path):
    result = new("proj", "--defaults", "--author", TRICKY, "--description", TRICKY, "--language", "assemblyscript")
    assert result.exit_code == 0, result.output
    project = tmp_path / "proj"
    assert json.loads((project / "package.json").read_text())["author"] == TRICKY
    assert json.loads((project / "package.json").read_text())["description"] == TRICKY
    assert recorded(project)["author"] == TRICKY
    assert TRICKY in (project / "README.md").read_text()
    assert TRICKY in (project / "LICENSE").read_text()
    for workflow in (project / ".github/workflows").iterdir():
        # Free text never reaches a workflow, where GitHub would evaluate ${{ }}.
        assert "Zoë" not in workflow.read_text() and "${{ github.token }}" not in workflow.read_text()

    rust = new("rs", "--defaults", "--author", TRICKY, "--description", TRICKY)
    assert rust.exit_code == 0, rust.output
    cargo = tomllib.loads((tmp_path / "rs/Cargo.toml").read_text())["package"]
    assert cargo["authors"] == [TRICKY] and cargo["description"] == TRICKY


def test_a_parent_folder_that_takes_no_files_is_named():
    result = new("/proc/hello", "--defaults", "--author", "x")  # /proc takes no new files, even from root
    assert result.exit_code == 2
    assert "Cannot create files in /proc" in result.output and "Traceback" not in result.output
