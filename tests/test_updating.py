"""yowasm.updating in-process: a project made from a copy of the real templates is
updated after that copy changes, as a newer yowasm's templates would."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.projects import answers, record_renames_into
from yowasm.errors import DestinationError
from yowasm.packaged import templates_dir
from yowasm.scaffold import GENERATED_KEY, create_project, file_digest
from yowasm.updating import Change, update_project


def snapshot(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in root.rglob("*") if path.is_file()}


@pytest.fixture
def templates(tmp_path) -> Path:
    copy = tmp_path / "templates"
    shutil.copytree(templates_dir(), copy, symlinks=True)
    return copy


@pytest.fixture
def project(tmp_path, templates) -> Path:
    return create_project(answers(language="c"), tmp_path / "hello", templates=templates).destination


def changes(update) -> dict[str, Change]:
    return {path: change for path, change in update.changes if change is not Change.UNCHANGED}


def test_new_records_a_digest_of_every_generated_file(project):
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())[GENERATED_KEY]
    on_disk = {path: file_digest(project / path) for path in snapshot(project) if path != ".copier-answers.yml"}
    assert recorded == on_disk and "Makefile" in recorded and "src/main.c" in recorded


def test_same_templates_change_nothing_not_even_the_answers_file(project, templates):
    before = snapshot(project)
    update = update_project(project, templates=templates)
    assert not update.changed and changes(update) == {}
    assert (update.from_version, update.to_version) == ("0.1.0", "0.1.0")
    assert snapshot(project) == before


def test_newer_templates_replace_unedited_files_and_never_overwrite_edits(project, templates):
    (templates / "_shared/.editorconfig").write_text("root = true\n# newer\n")
    with (templates / "_shared/README.md.jinja").open("a") as readme:
        readme.write("\n## Newer section\n")
    (templates / "c/NOTES.md").write_text("new in the templates\n")
    (templates / "c/.vscode/extensions.json.jinja").unlink()
    (templates / "c/tests/test_greeting.c.jinja").write_text("/* the templates changed this */\n")
    with (project / "README.md").open("a") as readme:
        readme.write("\nMy own notes.\n")
    (project / "Makefile").write_text("# my Makefile\n")
    (project / "LICENSE").unlink()
    (project / "tests/test_greeting.c").write_text("/* my tests */\n")
    template_readme = (project / "README.md").read_text().replace("\nMy own notes.\n", "") + "\n## Newer section\n"

    update = update_project(project, templates=templates)

    assert changes(update) == {
        ".editorconfig": Change.UPDATED,
        "NOTES.md": Change.ADDED,
        ".vscode/extensions.json": Change.REMOVED,
        "README.md": Change.CONFLICT,
        "Makefile": Change.KEPT,
        "LICENSE": Change.SKIPPED,
        "tests/test_greeting.c": Change.CONFLICT,
    }
    assert (project / ".editorconfig").read_text() == "root = true\n# newer\n"
    assert (project / "NOTES.md").read_text() == "new in the templates\n"
    assert not (project / ".vscode/extensions.json").exists() and (project / ".vscode/tasks.json").exists()
    assert (project / "README.md").read_text().endswith("\nMy own notes.\n")
    assert (project / "README.md.yowasm-new").read_text() == template_readme
    assert (project / "Makefile").read_text() == "# my Makefile\n"
    assert not (project / "LICENSE").exists()
    assert (project / "tests/test_greeting.c").read_text() == "/* my tests */\n"
    assert (project / "tests/test_greeting.c.yowasm-new").read_text() == "/* the templates changed this */\n"

    # The record now describes the newer templates: a second update has nothing to write.
    again = update_project(project, templates=templates)
    assert not again.changed
    assert changes(again) == {"README.md": Change.KEPT, "Makefile": Change.KEPT, "LICENSE": Change.SKIPPED,
                              "tests/test_greeting.c": Change.KEPT}


def test_a_file_the_templates_dropped_but_you_edited_is_left(project, templates):
    (templates / "c/.vscode/launch.json.jinja").unlink()
    (project / ".vscode/launch.json").write_text("{}\n")
    update = update_project(project, templates=templates)
    assert changes(update) == {".vscode/launch.json": Change.LEFT}
    assert (project / ".vscode/launch.json").read_text() == "{}\n"


def test_dropping_every_file_of_a_folder_removes_the_folder(project, templates):
    shutil.rmtree(templates / "c/.vscode")
    update_project(project, templates=templates)
    assert not (project / ".vscode").exists()


def test_dry_run_reports_and_writes_nothing(project, templates):
    (templates / "_shared/.editorconfig").write_text("root = true\n# newer\n")
    before = snapshot(project)
    update = update_project(project, dry_run=True, templates=templates)
    assert update.dry_run and changes(update) == {".editorconfig": Change.UPDATED}
    assert snapshot(project) == before


def test_without_a_record_every_difference_counts_as_an_edit(project, templates):
    answers_file = project / ".copier-answers.yml"
    recorded = answers_file.read_text()
    answers_file.write_text(recorded[: recorded.index("# Digests")])  # as plain `copier copy` writes it
    (templates / "_shared/.editorconfig").write_text("root = true\n# newer\n")
    update = update_project(project, templates=templates)
    assert changes(update) == {".editorconfig": Change.CONFLICT}
    assert (project / ".editorconfig").read_text() != "root = true\n# newer\n"
    assert GENERATED_KEY in yaml.safe_load(answers_file.read_text())  # recorded from now on


def test_a_failure_while_writing_puts_everything_back(project, templates):
    # A real fault: the newer templates add a file where the user has a folder.
    (templates / "c/docs").write_text("a file in the templates\n")
    (project / "docs").mkdir()
    (project / "docs/mine.txt").write_text("mine\n")
    (templates / "_shared/.editorconfig").write_text("root = true\n# newer\n")
    (templates / "c/.vscode/extensions.json.jinja").unlink()
    before = snapshot(project)
    with pytest.raises(DestinationError, match="docs is a folder where the template has a file"):
        update_project(project, templates=templates)
    assert snapshot(project) == before
    assert not any(path.name.startswith(".yowasm-") for path in project.parent.iterdir())  # no staging left


def test_changed_answers_render_the_project_anew_and_are_recorded(project, templates):
    update = update_project(project, data={"registry": "none"}, templates=templates)
    assert update.answer_changes == (("registry", "ghcr", "none"), ("namespace", "octocat", "-"),
                                     ("artifact_format", "cncf", "-"), ("publisher", "oras", "-"))
    assert changes(update) == {".github/workflows/release.yml": Change.REMOVED, "README.md": Change.UPDATED}
    recorded = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert recorded["registry"] == "none" and "namespace" not in recorded
    assert "no release workflow" in (project / "README.md").read_text()


def test_changed_answers_are_validated_together_before_anything_is_written(project, templates):
    from yowasm.errors import UsageError, ValidationError

    before = snapshot(project)
    with pytest.raises(UsageError, match="The changed answers need more: acr_name") as needs:
        update_project(project, data={"registry": "acr"}, templates=templates)
    assert needs.value.hint == "Give them too, e.g. --data acr_name=myregistry"
    with pytest.raises(ValidationError, match="Invalid artifact format 'cncf': wagi pulls only"):
        update_project(project, data={"runtime": "wagi"}, templates=templates)
    with pytest.raises(ValidationError, match="Invalid module name 'Hello World'"):
        update_project(project, data={"name": "Hello World"}, templates=templates)
    assert snapshot(project) == before


def test_a_record_naming_files_outside_the_project_is_ignored(project, templates, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("not yowasm's\n")
    answers_file = project / ".copier-answers.yml"
    answers_file.write_text(answers_file.read_text() + f"  ../outside.txt: {file_digest(outside)}\n"
                            f"  {outside}: {file_digest(outside)}\n")
    update = update_project(project, templates=templates)
    assert changes(update) == {} and outside.read_text() == "not yowasm's\n"


def test_a_symlinked_folder_leading_outside_is_refused_and_nothing_is_written(project, templates, tmp_path):
    """`src` links to a folder outside the project: reading, writing or removing through
    it would reach files that are not the project's."""
    outside = tmp_path / "outside-src"
    shutil.move(project / "src", outside)
    (project / "src").symlink_to(outside)
    outside_before, before = snapshot(outside), snapshot(project)
    (templates / "c/src/main.c.jinja").write_text("/* newer */\n")
    (templates / "c/src/greeting.h.jinja").unlink()  # would remove src/greeting.h
    (templates / "_shared/.editorconfig").write_text("root = true\n# newer\n")
    with pytest.raises(DestinationError) as refused:
        update_project(project, templates=templates)
    assert "lead outside it through a symlink" in refused.value.message
    assert f"src/main.c → {outside / 'main.c'}" in refused.value.message
    assert f"src/greeting.h → {outside / 'greeting.h'}" in refused.value.message
    assert "Nothing was written" in refused.value.message
    assert snapshot(outside) == outside_before and snapshot(project) == before
    assert not any(path.name.startswith(".yowasm-") for path in project.parent.iterdir())


def test_a_symlink_inside_the_project_is_fine(project, templates):
    shutil.move(project / "src", project / "sources")
    (project / "src").symlink_to("sources")
    (templates / "_shared/.editorconfig").write_text("root = true\n# newer\n")
    update = update_project(project, templates=templates)
    assert changes(update) == {".editorconfig": Change.UPDATED}


def test_a_file_linked_outside_is_refused_too(project, templates, tmp_path):
    outside = tmp_path / "someone-elses.c"
    outside.write_text("/* not yowasm's */\n")
    (project / "src/main.c").unlink()
    (project / "src/main.c").symlink_to(outside)
    with pytest.raises(DestinationError, match="src/main.c → "):
        update_project(project, templates=templates)
    assert outside.read_text() == "/* not yowasm's */\n"


def test_an_earlier_yowasm_new_file_is_never_overwritten_and_stays_pending(project, templates):
    (project / "src/main.c").write_text("/* mine */\n")
    (templates / "c/src/main.c.jinja").write_text("/* newer 1 */\n")
    first = update_project(project, templates=templates)
    assert changes(first)["src/main.c"] is Change.CONFLICT and first.pending == ()
    (project / "src/main.c.yowasm-new").write_text("/* newer 1, half merged */\n")  # a merge in progress

    (templates / "c/src/main.c.jinja").write_text("/* newer 2 */\n")
    second = update_project(project, templates=templates)
    assert changes(second)["src/main.c"] is Change.PENDING and second.pending == ("src/main.c",)
    assert (project / "src/main.c.yowasm-new").read_text() == "/* newer 1, half merged */\n"
    assert (project / "src/main.c").read_text() == "/* mine */\n"

    # Merged and deleted: the next update offers the templates' newest version again.
    (project / "src/main.c.yowasm-new").unlink()
    third = update_project(project, templates=templates)
    assert changes(third)["src/main.c"] is Change.CONFLICT and third.pending == ()
    assert (project / "src/main.c.yowasm-new").read_text() == "/* newer 2 */\n"


def test_a_pending_merge_is_reported_even_when_nothing_else_changes(project, templates):
    (project / "Makefile").write_text("# mine\n")
    (project / "Makefile.yowasm-new").write_text("# theirs\n")
    update = update_project(project, templates=templates)
    assert update.pending == ("Makefile",) and not update.changed
    assert (project / "Makefile.yowasm-new").read_text() == "# theirs\n"


def test_the_answers_file_is_written_last(project, templates, monkeypatch):
    """The answers file, which says what the files are, is the last rename into the project."""
    (templates / "_shared/.editorconfig").write_text("root = true\n# newer\n")
    (templates / "c/NOTES.md").write_text("new\n")
    (project / "Makefile").write_text("# mine\n")
    (templates / "c/Makefile.jinja").write_text("# newer\n")
    renamed = record_renames_into(project, monkeypatch)
    update_project(project, templates=templates)
    assert set(renamed) == {".editorconfig", "NOTES.md", "Makefile.yowasm-new", ".copier-answers.yml"}
    assert renamed[-1] == ".copier-answers.yml"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(record=st.dictionaries(
    st.sampled_from(["../outside.txt", "/etc/hostname", "src/../../outside.txt", "src/main.c", "Makefile",
                     "a" * 300, "new/file", "./README.md", "src//main.c"]) | st.text(max_size=12),
    st.text("0123456789abcdef", max_size=16) | st.integers(), max_size=6))
def test_property_no_recorded_path_reaches_outside_the_project(project, templates, tmp_path, record):
    """Whatever the answers file says it generated, update touches nothing outside the
    project, and either applies or refuses with one clear error."""
    from yowasm.errors import YowasmError

    outside = tmp_path / "outside.txt"
    outside.write_text("not yowasm's\n")
    answers_file = project / ".copier-answers.yml"
    original = answers_file.read_text()
    try:
        recorded = yaml.safe_load(original)
        answers_file.write_text(yaml.safe_dump({**recorded, GENERATED_KEY: {**recorded[GENERATED_KEY], **record}}))
        try:
            update_project(project, templates=templates)
        except YowasmError as error:
            assert error.exit_code in (1, 2)
        assert outside.read_text() == "not yowasm's\n"
        assert sorted(path.name for path in tmp_path.iterdir()) == ["hello", "outside.txt", "templates"]
    finally:
        answers_file.write_text(original)
