"""`yowasm new` in-process (typer's runner): flags, defaults, data files, missing
answers without a terminal, validation, --force, and cleanup after a failure."""

from __future__ import annotations

import json
import os
import signal
import tomllib
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.conftest import run_yowasm, yowasm_process
from tests.projects import ADVERSARIAL, record_renames_into
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


def test_force_lists_the_files_it_replaced(tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "README.md").write_text("my readme")
    (project / "Makefile").write_text("all:\n")
    (project / "notes.txt").write_text("mine")
    result = new("proj", "--defaults", "--author", "a", "--language", "c", "--force")
    assert result.exit_code == 0, result.output
    assert "Replaced 2 existing files (--force):\n  Makefile\n  README.md\n" in result.output
    assert "notes.txt" not in result.output
    fresh = new("other", "--defaults", "--author", "a")
    assert "Replaced" not in fresh.output


def test_force_never_writes_through_a_symlinked_folder(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "main.rs").write_text("// someone else's\n")
    project = tmp_path / "proj"
    project.mkdir()
    (project / "src").symlink_to(outside)
    result = new("proj", "--defaults", "--author", "a", "--force")
    assert result.exit_code == 2, result.output
    assert f"src/main.rs → {outside / 'main.rs'}" in " ".join(result.output.split())
    assert (outside / "main.rs").read_text() == "// someone else's\n" and sorted(outside.iterdir()) == [outside / "main.rs"]
    assert sorted(project.iterdir()) == [project / "src"]
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".yowasm-new-")]


def test_force_writes_the_answers_file_last(tmp_path, monkeypatch):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "README.md").write_text("my readme")
    renamed = record_renames_into(project, monkeypatch)
    assert new("proj", "--defaults", "--author", "a", "--force").exit_code == 0
    assert renamed[-1] == ".copier-answers.yml" and "README.md" in renamed


def test_outside_text_is_printed_literally(tmp_path):
    """A folder name with rich markup, an emoji code and terminal escapes, as a shared
    checkout or a hostile archive could have: shown as it is, and quoted for the shell."""
    folder = "root:x:0 [bold]$(id)\x1b]0;owned\x07"
    result = new(folder, "--defaults", "--author", "a", "--name", "hello")
    assert result.exit_code == 0, result.output
    assert "root:x:0 [bold]$(id)\\x1b]0;owned\\x07" in result.output
    assert "\x1b" not in result.output and "❌" not in result.output
    assert "cd 'root:x:0 [bold]$(id)\\x1b]0;owned\\x07'" in result.output
    refused = new(folder, "--defaults", "--author", "a", "--name", "hello")
    assert refused.exit_code == 2 and "root:x:0 [bold]$(id)\\x1b]0;owned\\x07 exists" in refused.output


def test_a_data_file_shown_in_an_error_is_literal(tmp_path):
    data = tmp_path / "passwd:x:0"
    data.write_text("root:x:0:0:root:/root:/bin/bash\n")
    result = new("proj", "--defaults", "--data-file", str(data))
    assert result.exit_code == 2
    assert "passwd:x:0" in result.output and "❌" not in result.output


@pytest.mark.parametrize("case", ["alias bomb", "binary", "non-UTF-8", "a list", "int keys", "null key",
                                  "list value", "python tag", "deep nesting"])
def test_hostile_data_files_are_refused_before_anything_is_written(tmp_path, case):
    content, message = ADVERSARIAL[case]
    (tmp_path / "data.yml").write_bytes(content)
    result = new("proj", "--defaults", "--author", "a", "--data-file", "data.yml")
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()) and "data.yml" in result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == ["data.yml"]


flag_values = {
    "--name": st.sampled_from(["hello", "Hello", "a" * 70, "x--y", "test", "", "héllo", "a\x1bb"]),
    "--language": st.sampled_from(["rust", "c", "assemblyscript", "tinygo", "cpp", ""]),
    "--runtime": st.sampled_from(["wasmtime", "wagi", "krustlet", "docker"]),
    "--registry": st.sampled_from(["ghcr", "acr", "dockerhub", "none", "localhost:5000", "bad host", "a:99999"]),
    "--namespace": st.sampled_from(["octocat", "team/wasm", "Octo", "a//b"]),
    "--acr-name": st.sampled_from(["myregistry", "x"]),
    "--author": st.text(max_size=12),
    "--description": st.text(max_size=12),
    "--license": st.sampled_from(["MIT", "Apache-2.0", "none", "GPL"]),
    "--branch": st.sampled_from(["main", "a..b", "feature/x"]),
    "--artifact-format": st.sampled_from(["cncf", "wasm-to-oci", "zip"]),
}
data_values = st.none() | st.booleans() | st.integers() | st.text(max_size=10) | st.lists(st.text(max_size=3), max_size=2)
data_files = st.one_of(
    st.none(),
    st.sampled_from(["alias bomb", "binary", "non-UTF-8", "a list", "int keys", "list value", "huge integer"])
    .map(lambda case: ADVERSARIAL[case][0]),
    st.dictionaries(st.sampled_from(["name", "author", "language", "runtime", "registry", "namespace", "license",
                                     "nmae", "_src_path", "_yowasm_files"]), data_values, max_size=5)
    .map(lambda data: yaml.safe_dump(data).encode()),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flags=st.dictionaries(st.sampled_from(sorted(flag_values)), st.just(None), max_size=5).flatmap(
           lambda chosen: st.fixed_dictionaries({flag: flag_values[flag] for flag in chosen})),
       data=data_files, defaults=st.booleans())
def test_property_new_makes_a_project_or_refuses_and_writes_nothing(tmp_path, flags, data, defaults):
    import tempfile

    with tempfile.TemporaryDirectory(dir=tmp_path) as scratch:
        os.chdir(scratch)
        args = ["proj", *[part for flag, value in flags.items() for part in (flag, value)]]
        if defaults:
            args.append("--defaults")
        if data is not None:
            Path("data.yml").write_bytes(data)
            args += ["--data-file", "data.yml"]
        result = new(*args)
        os.chdir(tmp_path)
        assert result.exit_code in (0, 2), (args, result.output, result.exception)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        assert "Traceback" not in result.output
        left = sorted(path.name for path in Path(scratch).iterdir())
        if result.exit_code == 0:
            assert "proj" in left and (Path(scratch) / "proj/.copier-answers.yml").is_file()
        else:
            assert left == (["data.yml"] if data is not None else [])


NEW_SIGNALS = [
    # (signal, where it arrives, exit code, message, whether the project is there)
    (signal.SIGTERM, "new-before-commit", 143, "Aborted: nothing was written.", False),
    (signal.SIGHUP, "new-before-commit", 129, "Aborted: nothing was written.", False),
    (signal.SIGINT, "new-before-commit", 130, "Aborted: nothing was written.", False),
    (signal.SIGTERM, "new-moving", 143, "Interrupted after the project was complete: hello is ready.", True),
    (signal.SIGHUP, "new-committed", 129, "Interrupted after the project was complete: hello is ready.", True),
    (signal.SIGINT, "new-committed", 130, "Interrupted after the project was complete: hello is ready.", True),
]


@pytest.mark.parametrize("signum, point, code, message, complete", NEW_SIGNALS)
def test_signals_to_a_real_new_leave_nothing_half_done_and_say_what_is_true(tmp_path, signum, point, code,
                                                                            message, complete):
    """A real signal to a real `python -m yowasm new`, paused at an exact point by the
    test hook YOWASM_TEST_PAUSE (yowasm/interrupts.py; tests only)."""
    scratch = tmp_path / "tmp"  # copier's and Python's temporary folders land here
    scratch.mkdir()
    process = yowasm_process("new", "hello", "--defaults", "--author", "a", cwd=tmp_path, pause=point,
                             env={"TMPDIR": str(scratch)})
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    assert f"Error: {message}" in stderr and "Traceback" not in stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == (["hello", "tmp"] if complete else ["tmp"])
    assert list(scratch.iterdir()) == []
    if complete:
        assert (tmp_path / "hello/.copier-answers.yml").is_file() and (tmp_path / "hello/src/main.rs").is_file()


def test_sigterm_during_new_force_leaves_the_folder_as_it_was(tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "README.md").write_text("my readme")
    process = yowasm_process("new", "proj", "--defaults", "--author", "a", "--force", cwd=tmp_path,
                             pause="new-before-commit")
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143 and "Aborted: proj was left as it was." in stderr
    assert sorted(project.iterdir()) == [project / "README.md"] and (project / "README.md").read_text() == "my readme"
    assert sorted(tmp_path.iterdir()) == [project]


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2])
def test_sigterm_while_copier_renders_leaves_nothing_or_a_whole_project(tmp_path, delay):
    """No test hook: the signal comes DELAY seconds after the staging folder appears,
    while copier is rendering or later. Whatever point it hits, the folder holds nothing
    or the whole project, the message says which, and no temporary folder is left."""
    import time

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    process = yowasm_process("new", "hello", "--defaults", "--author", "a", cwd=work, env={"TMPDIR": str(scratch)})
    while process.poll() is None and not any(work.iterdir()):
        time.sleep(0.005)
    time.sleep(delay)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    left = sorted(path.name for path in work.iterdir())
    assert "Traceback" not in stderr, stderr
    assert list(scratch.iterdir()) == []
    if left == ["hello"]:
        assert (work / "hello/.copier-answers.yml").is_file()
        # 0: done before the signal; -15: it came while the summary was printed, after
        # yowasm had put SIGTERM's default back; 143: it came before, and yowasm says so.
        assert process.returncode in (0, 143, -signal.SIGTERM)
        assert process.returncode != 143 or "Interrupted after the project was complete" in stderr
    else:
        assert left == [] and process.returncode == 143 and "Aborted: nothing was written." in stderr


def test_a_refused_value_is_quoted_cut_short(tmp_path):
    """A 5,000-character answer is refused with a message a terminal can show: the
    value quoted, cut after 120 characters, on one line."""
    result = run_yowasm("new", str(tmp_path / "p"), "--defaults", "--name", "Bad" * 1700 + "\x1b[31m", cwd=tmp_path)
    assert result.returncode == 2
    (line,) = [line for line in result.stderr.splitlines() if "Invalid module name" in line]
    assert "BadBad" in line and "..." in line and len(line) < 300
    assert "\x1b" not in result.stderr
    assert not (tmp_path / "p").exists()
