"""yowasm.build_record: `yowasm build` of a current module answered before the command
line loads, on a minimal C project built by real make and clang. Whether it answered
there shows in what the process imported (`python -X importtime`): typer, or not."""

from __future__ import annotations

import marshal
import os
import re
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Terminal, imported_modules, run_yowasm, yowasm_argv
from tests.projects import minimal_c_project, set_mtime
from yowasm import build_record

UP_TO_DATE = "Up to date: build/tiny.wasm"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """The record's folder: this test's own, for the processes it starts and for this one."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder / "yowasm"


@pytest.fixture
def built(tmp_path, cache) -> Path:
    """A built project, and the record of that build."""
    root = minimal_c_project(tmp_path / "tiny")
    result = build(root)
    assert result.returncode == 0 and "Built build/tiny.wasm" in result.stdout, result.stderr
    return root


def build(root: Path, *args: str, cwd: Path | None = None):
    """`yowasm build ARGS` in ROOT (or CWD), with what it imported on stderr."""
    return run_yowasm("build", *args, cwd=cwd or root, interpreter=("-X", "importtime"))


def answered_early(result) -> bool:
    return "typer" not in imported_modules(result.stderr)


def record_files(cache: Path) -> list[Path]:
    return sorted(cache.glob("builds-*.marshal"))


def test_a_current_module_is_answered_before_the_command_line_loads(built, cache):
    early = build(built)
    assert early.returncode == 0
    assert answered_early(early)
    record_files(cache)[0].unlink()  # the same question, answered by the command line
    late = build(built)
    assert not answered_early(late)
    assert early.stdout == late.stdout == f"{UP_TO_DATE} ({(built / 'build/tiny.wasm').stat().st_size:,} bytes)\n"
    assert answered_early(build(built))  # which recorded again


def test_the_same_answer_for_a_project_named_by_path(built, tmp_path):
    early = build(built, "tiny", cwd=tmp_path)
    assert answered_early(early) and early.stdout.startswith("Up to date: tiny/build/tiny.wasm (")
    (tmp_path / "elsewhere").mkdir()
    elsewhere = build(built, str(built), cwd=tmp_path / "elsewhere")
    assert answered_early(elsewhere) and elsewhere.stdout.startswith(f"Up to date: {built}/build/tiny.wasm (")


def written_in_the_past(path: Path, text: str | None = None) -> None:
    """PATH written (again), with a modification time older than the module's: only
    its change time says it was written."""
    path.write_text(path.read_text() if text is None else text)
    set_mtime(path, -100)


@pytest.mark.parametrize("change, built_again", [
    (lambda root: set_mtime(root / "src/hello.c", 5), True),
    (lambda root: (root / "build/tiny.wasm").unlink(), True),
    (lambda root: (root / "src/extra.h").write_text("#define EXTRA 1\n") or set_mtime(root / "src/extra.h", 5), True),
    (lambda root: written_in_the_past(root / ".copier-answers.yml"), False),
    (lambda root: written_in_the_past(root / ".gitignore", "/build/\n"), False),
], ids=["source edited", "module removed", "file added", "answers file written", "gitignore added"])
def test_any_change_to_what_the_answer_rests_on_goes_to_the_command_line(built, change, built_again):
    change(built)
    result = build(built)
    assert result.returncode == 0, result.stderr
    assert not answered_early(result)
    assert ("Built build/tiny.wasm" in result.stdout) == built_again
    assert answered_early(build(built))


def test_an_edited_answers_file_is_read_again(built):
    """The module's name comes from the answers file: a renamed module is built, not
    reported by its old name."""
    answers = built / ".copier-answers.yml"
    answers.write_text(answers.read_text().replace("name: tiny", "name: renamed"))
    (built / "Makefile").write_text(".PHONY: build\nbuild:\n\tcp build/tiny.wasm build/renamed.wasm\n")
    result = build(built)
    assert not answered_early(result) and "Built build/renamed.wasm" in result.stdout


def test_a_failed_build_is_not_answered_from_the_last_good_one(built):
    (built / "src/hello.c").write_text("int main(void) { return missing; }\n")
    set_mtime(built / "src/hello.c", 5)
    for _ in range(2):
        result = build(built)
        assert result.returncode == 1 and "missing" in result.stderr and "Up to date" not in result.stdout


@pytest.mark.parametrize("arguments", [["--help"], [".", "extra"], ["-x"]])
def test_options_and_extra_arguments_go_to_the_command_line(built, arguments):
    result = build(built, *arguments)
    assert not answered_early(result)
    assert "Up to date" not in result.stdout


@pytest.mark.parametrize("spoil", ["group-writable", "other installation", "truncated", "module outside"])
def test_a_spoiled_record_is_not_trusted(built, cache, spoil):
    (record,) = record_files(cache)
    stored = marshal.loads(record.read_bytes())
    if spoil == "group-writable":
        record.chmod(0o664)
    elif spoil == "other installation":
        stored["installation"] = (("/elsewhere/yowasm/build.py", 1, 1),)
        record.write_bytes(marshal.dumps(stored))
    elif spoil == "truncated":
        record.write_bytes(record.read_bytes()[:-7])
    else:
        (root, entry), = stored["projects"].items()
        stored["projects"][root] = (*entry[:4], "../tiny/build/tiny.wasm", entry[5])
        record.write_bytes(marshal.dumps(stored))
    result = build(built)
    assert result.returncode == 0 and result.stdout.startswith(UP_TO_DATE)
    assert not answered_early(result)


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give the record to another user")
def test_a_record_of_another_user_is_not_trusted(built, cache):
    (record,) = record_files(cache)
    os.chown(record, 12345, 12345)
    assert not answered_early(build(built))


def test_a_record_is_kept_per_project_and_bounded(built, tmp_path, cache, monkeypatch):
    """Projects built after a project leave its record in place, up to ENTRIES of them."""
    monkeypatch.setattr(build_record, "ENTRIES", 3)
    from yowasm.build import current_build
    from yowasm.project import load_project

    project = load_project(built)
    result = current_build(project)
    assert str(project.root) in build_record._records()
    for index in range(5):
        fake = type(project)(tmp_path / f"other-{index}", project.answers)
        (fake.root).mkdir()
        (fake.root / ".copier-answers.yml").write_text("name: x\n")
        build_record.remember(fake, type(result)(fake.module_path, 1, ()))
        if index == 1:
            assert answered_early(build(built))  # still recorded beside two others
    assert str(project.root) not in build_record._records() and len(build_record._records()) == 3


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2048) | st.builds(marshal.dumps, st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4).map(tuple) | st.dictionaries(st.text(max_size=8), children,
                                                                                  max_size=4))))
def test_any_record_file_is_ignored_without_an_error(built, cache, capsys, monkeypatch, data):
    (record,) = record_files(cache)
    valid = record.read_bytes()
    monkeypatch.chdir(built)
    try:
        record.write_bytes(data)
        answered = build_record.answer([])
    finally:
        record.write_bytes(valid)
    assert answered is False and capsys.readouterr().out == ""
    assert build_record.answer([]) is True  # the valid record, for the next example
    capsys.readouterr()


def test_on_a_terminal_the_line_is_drawn_as_rich_draws_it(built, cache):
    """The same bytes as the command line's rich console writes (bold green), and a line
    too long for the terminal is left to rich, which wraps it."""
    def on_terminal(cwd: Path, *args: str) -> tuple[str, bool]:
        terminal = Terminal(cwd, yowasm_argv("build", *args, interpreter=("-X", "importtime")),
                            env={"XDG_CACHE_HOME": str(cache.parent)})
        assert terminal.finish() == 0
        lines = terminal.transcript.splitlines()
        shown = "\n".join(line for line in lines if not line.startswith("import time:"))
        return shown, not any(line.startswith("import time:") and line.endswith(" typer") for line in lines)

    early, was_early = on_terminal(built)
    for record in record_files(cache):
        record.unlink()
    late, was_late = on_terminal(built)
    assert (was_early, was_late) == (True, False)
    assert early == late and early.startswith("\x1b[1;32mUp to date:\x1b[0m build/tiny.wasm (")

    deep = built.parent / ("d" * 70)
    deep.mkdir()
    os.rename(built, deep / "tiny")
    on_terminal(deep, "tiny")  # records the moved project
    long, was_early = on_terminal(built.parent, f"{'d' * 70}/tiny")
    assert not was_early and "Up to date:" in long
    assert max(len(re.sub(r"\x1b\[[0-9;]*m", "", line)) for line in long.splitlines()) <= 80  # wrapped


def test_a_record_is_the_users_own(built, cache):
    (record,) = record_files(cache)
    mode = record.stat().st_mode
    assert stat.S_IMODE(mode) & 0o077 == 0 and record.stat().st_uid == os.getuid()


def test_run_of_a_recorded_project_reads_no_project_file(built):
    """`yowasm run PROJECT` takes the module from the record too, and a build it starts
    records afresh."""
    def run() -> tuple[str, str, set[str]]:
        result = run_yowasm("run", ".", cwd=built, interpreter=("-X", "importtime"))
        assert result.returncode == 0, result.stderr
        return result.stdout, result.stderr, imported_modules(result.stderr)

    output, _, imported = run()
    assert output == "hello from tiny\n" and "yowasm.project" not in imported
    (built / "src/hello.c").write_text('#include <stdio.h>\nint main(void) { puts("changed"); return 0; }\n')
    set_mtime(built / "src/hello.c", 5)
    output, errors, imported = run()
    assert output == "changed\n" and "Built build/tiny.wasm" in errors and "yowasm.project" in imported
    output, _, imported = run()
    assert output == "changed\n" and "yowasm.project" not in imported
