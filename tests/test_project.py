"""yowasm.project: a project's answers file, read as the hostile file it may be, through
every command that reads it (build, publish, doctor, update): one clear error naming the
file, the key and the rule, exit 2, and nothing written."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import require_tool, run_yowasm
from tests.projects import ADVERSARIAL, ALIAS_BOMB, render
from yowasm.errors import InputFileError
from yowasm.project import ANSWERS_FILE, load_project


def snapshot(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()}


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    return render(tmp_path_factory.mktemp("made") / "hello", language="c")


@pytest.fixture
def project(tmp_path, made) -> Path:
    import shutil

    return Path(shutil.copytree(made, tmp_path / "hello", symlinks=True))


def test_the_answers_file_records_nothing_machine_specific(project):
    text = (project / ANSWERS_FILE).read_text()
    recorded = yaml.safe_load(text)
    assert "_src_path" not in recorded and "site-packages" not in text and str(Path.home()) not in text
    assert "yowasm update" in text and "copier update` does not work" in text


@pytest.mark.parametrize("key", ["name", "runtime", "author", "language", "registry"])
def test_a_missing_required_answer_is_named(project, key):
    answers_file = project / ANSWERS_FILE
    recorded = yaml.safe_load(answers_file.read_text())
    del recorded[key]
    answers_file.write_text(yaml.safe_dump(recorded))
    with pytest.raises(InputFileError) as refused:
        load_project(project)
    assert refused.value.message == f"The answers file {answers_file} has no {key!r}: every yowasm project records it."
    assert refused.value.hint.startswith(f"Add it, e.g. {key}: ")


def test_a_mistyped_answer_is_named_with_the_file(project):
    answers_file = project / ANSWERS_FILE
    answers_file.write_text(answers_file.read_text().replace("runtime: wasmtime", "runtime: [wasmtime]"))
    with pytest.raises(InputFileError, match=r"answers file .*: the answer 'runtime' must be text, not a list"):
        load_project(project)
    answers_file.write_text(answers_file.read_text().replace("runtime: [wasmtime]", "runtime: docker"))
    with pytest.raises(InputFileError, match=r"The answers file .*: Invalid runtime 'docker'"):
        load_project(project)


def test_an_answers_file_linked_from_outside_is_not_followed(project, tmp_path):
    outside = tmp_path / "elsewhere.yml"
    outside.write_text((project / ANSWERS_FILE).read_text())
    (project / ANSWERS_FILE).unlink()
    (project / ANSWERS_FILE).symlink_to(outside)
    with pytest.raises(InputFileError, match="is a link to a file outside the project"):
        load_project(project)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


@pytest.mark.parametrize("command", [["build"], ["publish", "--tag", "x"], ["doctor"], ["update"], ["run"],
                                     ["new", "../other", "--defaults", "--data-file", ANSWERS_FILE]])
def test_an_alias_bomb_answers_file_is_refused_by_every_command(project, command):
    """Each command in a real process, with its memory capped at 1 GiB: an expanded
    bomb would take GBs (before the readers refused aliases, minutes and GBs)."""
    (project / ANSWERS_FILE).write_text(ALIAS_BOMB)
    before = snapshot(project)
    result = run_yowasm(*command, cwd=project, timeout=120, preexec_fn=_limit_memory)
    assert result.returncode == 2, result.stderr
    assert f"{ANSWERS_FILE} uses a YAML alias (*a on line 2)" in result.stderr and "Traceback" not in result.stderr
    assert snapshot(project) == before and not (project.parent / "other").exists()


@pytest.mark.parametrize("case", ["binary", "non-UTF-8", "a list", "int keys", "null key"])
def test_broken_answers_files_are_one_clear_error_for_a_real_process(project, case):
    content, message = ADVERSARIAL[case]
    (project / ANSWERS_FILE).write_bytes(content)
    before = snapshot(project)
    result = run_yowasm("update", cwd=project)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert snapshot(project) == before


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edit=st.dictionaries(st.sampled_from(["name", "author", "language", "runtime", "registry", "namespace",
                                             "license", "branch", "_yowasm_files", "_template_version", "x"]),
                            st.none() | st.integers() | st.text(max_size=12) | st.lists(st.text(max_size=3), max_size=2)
                            | st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2), max_size=4))
def test_property_any_edit_of_the_answers_file_loads_or_is_refused(project, edit):
    answers_file = project / ANSWERS_FILE
    original = answers_file.read_text()
    try:
        answers_file.write_text(yaml.safe_dump({**yaml.safe_load(original), **edit}))
        try:
            loaded = load_project(project)
        except InputFileError as error:
            assert error.exit_code == 2 and str(answers_file) in error.message
        else:
            assert loaded.answers.name == loaded.answers.name.strip() and loaded.root == project.resolve()
    finally:
        answers_file.write_text(original)


def test_plain_copier_renders_again_from_the_answers_file_and_yowasm_update_still_works(project, tmp_path):
    """What the answers file's header promises, with the copier CLI itself."""
    from yowasm.packaged import templates_dir

    copier = require_tool("copier", "pip install copier")
    (project / "src/main.c").write_text("/* edited */\n")
    import subprocess

    completed = subprocess.run([copier, "copy", "--defaults", "--overwrite", str(templates_dir()), "."], cwd=project,
                               capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    assert completed.returncode == 0, completed.stderr
    recorded = yaml.safe_load((project / ANSWERS_FILE).read_text())
    assert (recorded["name"], recorded["author"], recorded["language"]) == ("hello-wasm", "Test Author", "c")
    assert "_src_path" not in recorded and "/* edited */" not in (project / "src/main.c").read_text()
    update = run_yowasm("update", cwd=project)
    assert update.returncode == 0 and "Up to date hello-wasm" in update.stdout, update.stderr
    header = (project / ANSWERS_FILE).read_text()
    assert "copier copy --defaults PATH/TO/yowasm/templates ." in header
