"""yowasm.build in-process on a minimal C project: an answers file and a Makefile whose
`build` target compiles one C file with clang-14 (the real compiler, no template)."""

from __future__ import annotations

import pytest

from tests.projects import minimal_c_project, render, set_mtime
from yowasm.build import build_project, current_build, ensure_built
from yowasm.errors import BuildError, ToolError
from yowasm.project import load_project
from yowasm.runner import run_module


def test_build_runs_the_projects_build_and_reports_the_module(tmp_path, capfd):
    project = load_project(minimal_c_project(tmp_path / "tiny"))
    result = build_project(project)
    module = tmp_path / "tiny/build/tiny.wasm"
    assert (result.module, result.size, result.commands) == (module, module.stat().st_size, ("make build",))
    assert "clang-14 --target=wasm32-wasi" in capfd.readouterr().out  # the tool's output, streamed
    assert run_module(module) == 0
    assert capfd.readouterr().out == "hello from tiny\n"


def test_tool_output_can_go_to_stderr(tmp_path, capfd):
    """`run` and `serve` build with stdout kept for the module."""
    build_project(load_project(minimal_c_project(tmp_path / "tiny")), output_to_stderr=True)
    out, err = capfd.readouterr()
    assert out == "" and "clang-14 --target=wasm32-wasi" in err


def test_compiler_error_is_visible_and_raises_build_error(tmp_path, capfd):
    project = load_project(minimal_c_project(tmp_path / "tiny", source="int main(void) { return missing; }\n"))
    with pytest.raises(BuildError) as raised:
        build_project(project)
    assert raised.value.message == "`make build` failed with exit code 2 (its output is above)."
    assert raised.value.exit_code != 0
    assert "use of undeclared identifier 'missing'" in capfd.readouterr().err
    assert not (tmp_path / "tiny/build/tiny.wasm").exists()


def test_build_that_leaves_no_module_fails(tmp_path):
    project = load_project(minimal_c_project(tmp_path / "tiny", makefile="build:\n\t@echo nothing built\n"))
    with pytest.raises(BuildError, match=r"`make build` succeeded but left no module at .*build/tiny\.wasm"):
        build_project(project)


def test_missing_build_tool_names_its_install_command(tmp_path, monkeypatch):
    project = load_project(minimal_c_project(tmp_path / "tiny"))
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # a machine without make: a real condition
    with pytest.raises(ToolError) as raised:
        build_project(project)
    assert raised.value.message == "`make` is not installed; C projects build with `make build`."
    assert raised.value.hint == "Install it: sudo apt-get install make"


def test_ensure_built_builds_only_a_missing_or_stale_module(tmp_path, capfd):
    project = load_project(minimal_c_project(tmp_path / "tiny"))
    assert ensure_built(project).commands  # missing
    assert not ensure_built(project).commands  # current
    set_mtime(project.root / "src/hello.c", 5)
    assert project.module_is_stale()
    assert ensure_built(project).commands
    assert not project.module_is_stale()


def test_a_build_with_nothing_to_do_marks_the_module_current(tmp_path, capfd):
    """The Makefile is a watched source but not a make prerequisite of the module: after
    make says there is nothing to do, the next check must not build again."""
    project = load_project(minimal_c_project(tmp_path / "tiny"))
    build_project(project)
    set_mtime(project.root / "Makefile", 5)
    assert project.module_is_stale()
    assert ensure_built(project).commands
    assert "Nothing to be done" in capfd.readouterr().err
    assert not project.module_is_stale() and not ensure_built(project).commands


def test_a_module_newer_than_every_project_file_is_current(tmp_path, capfd):
    project = load_project(minimal_c_project(tmp_path / "tiny"))
    assert current_build(project) is None  # no module yet
    built = build_project(project)
    current = current_build(project)
    assert (current.module, current.size, current.commands) == (built.module, built.size, ())


@pytest.mark.parametrize("edited", ["src/hello.c", "src/new-helper.c", "README.md", ".cargo/config.toml"])
def test_any_newer_project_file_makes_the_build_run(tmp_path, capfd, edited):
    """Not only the language's watched sources: a file the user added counts too."""
    project = load_project(minimal_c_project(tmp_path / "tiny"))
    build_project(project)
    path = project.root / edited
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text("added\n")
    set_mtime(path, 5)
    assert current_build(project) is None
    assert ensure_built(project).commands  # the tool runs (and finds what to do, or not)
    assert current_build(project) is not None


@pytest.mark.parametrize("output", ["build/tiny.o", "target/release/deps/x", "node_modules/x/index.js", ".git/index"])
def test_build_output_and_ignored_folders_do_not_count(tmp_path, capfd, output):
    root = minimal_c_project(tmp_path / "tiny")
    (root / ".gitignore").write_text("/build/\n/target/\n/node_modules/\n*.swp\n")
    project = load_project(root)
    build_project(project)
    (root / output).parent.mkdir(parents=True, exist_ok=True)
    (root / output).write_text("made by a build\n")
    set_mtime(root / output, 5)
    assert current_build(project) is not None


@pytest.mark.parametrize("language, edited", [
    ("rust", ".cargo/config.toml"), ("rust", "Cargo.lock"), ("rust", "src/util.rs"), ("rust", "build.rs"),
    ("tinygo", "go.sum"), ("tinygo", "util.go"), ("c", "src/util.h"),
    ("assemblyscript", "package-lock.json"), ("assemblyscript", "assembly/util.ts"),
])
def test_serve_watch_rebuilds_when_any_file_the_build_reads_changes(tmp_path, language, edited):
    """`yowasm serve --watch` rebuilds when Project.module_is_stale says so. The module
    is a stand-in file: the check compares modification times only, and building it
    for real is the generated-project tests' work."""
    project = load_project(render(tmp_path / language, language=language))
    project.module_path.parent.mkdir(parents=True)
    project.module_path.write_bytes(b"\0asm\1\0\0\0")
    set_mtime(project.module_path, 2)
    assert not project.module_is_stale()
    path = project.root / edited
    if not path.exists():
        path.write_text("added\n")
    set_mtime(path, 5)
    assert project.module_is_stale()
