"""`yowasm update`: bring a project up to the installed templates without losing edits.

The project is rendered again from its recorded answers (some of them changed, if the
user asks), and each file is decided from
three versions: the digest recorded when yowasm last generated it, the file on disk,
and what the templates make now. A file the user never edited is replaced; a file the
user edited stays as it is, and when the templates changed it too, their version is
written beside it (FILE.yowasm-new) to merge by hand; an earlier FILE.yowasm-new is
never overwritten, and is reported until it is gone. Only paths inside the project are
read, written or removed (a symlink leading out is refused, and then nothing is
written). Writing is all or nothing, the answers file last, and a signal never cuts
it in two (yowasm/interrupts.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import Mapping

from yowasm import interrupts
from yowasm.errors import MissingAnswersError, UsageError
from yowasm.model import ProjectAnswers
from yowasm.project import (ANSWERS_FILE, CONFLICT_SUFFIX, GENERATED_KEY, Project, load_project, read_answers_file,
                            read_data_file)
from yowasm.questionnaire import example_answer, resolve_answers
from yowasm.scaffold import file_digest, move_into, record_digests, refuse_paths_outside, render_files, staging_folder


class Change(str, Enum):
    ADDED = "added"  # new in the templates
    UPDATED = "updated"  # the templates changed it and you had not
    UNCHANGED = "unchanged"
    KEPT = "kept"  # you changed it and the templates did not: your version stays
    CONFLICT = "conflict"  # both changed it: yours stays, theirs is written beside it
    REMOVED = "removed"  # the templates no longer make it and you had not changed it
    LEFT = "left"  # the templates no longer make it, but you changed it: it stays
    SKIPPED = "skipped"  # you deleted it: it stays deleted
    #: both changed it, and FILE.yowasm-new from an earlier update is still there: it is kept
    PENDING = "pending"

    @property
    def writes(self) -> bool:
        return self in (Change.ADDED, Change.UPDATED, Change.CONFLICT)


@dataclass(frozen=True)
class Update:
    root: Path
    name: str
    from_version: str | None
    to_version: str | None
    changes: tuple[tuple[str, Change], ...]
    dry_run: bool
    #: (answer, before, after) for every answer the update changed
    answer_changes: tuple[tuple[str, str, str], ...] = ()
    #: Files whose FILE.yowasm-new from an earlier update is still waiting to be merged
    pending: tuple[str, ...] = ()

    def paths(self, change: Change) -> list[str]:
        return [path for path, kind in self.changes if kind is change]

    @property
    def changed(self) -> bool:
        """Whether the update changes an answer, or writes or removes a file."""
        return bool(self.answer_changes) or any(kind.writes or kind is Change.REMOVED for _, kind in self.changes)


def update_project(root: Path, *, data: Mapping[str, str] | None = None, dry_run: bool = False,
                   templates: Path | None = None) -> Update:
    """Render ROOT's project from its answers (with DATA's changed) using the installed
    (or given) templates and apply the result as the module docstring says."""
    project = load_project(root)
    recorded = read_answers_file(project.root)
    previous = _previous_digests(recorded.get(GENERATED_KEY))
    answers = _changed_answers(project, data) if data else project.answers
    undone = f"Aborted: nothing was written; {project.root} is as it was."
    done = f"Interrupted after the update was complete: {project.root} is up to date."
    with interrupts.all_or_nothing(undone=undone, done=done) as run, \
            staging_folder(project.root.parent) as staging:
        rendered = staging / "project"
        generated = render_files(answers, rendered, templates)
        known = sorted({*generated, *previous})
        refuse_paths_outside(project.root, [*known, *(path + CONFLICT_SUFFIX for path in known)])
        pending = tuple(path for path in known if os.path.lexists(project.root / (path + CONFLICT_SUFFIX)))
        changes = _decide(project.root, generated, previous, pending)
        record_digests(rendered / ANSWERS_FILE, _record(project.root, generated, previous, changes))
        to_version = read_data_file(rendered / ANSWERS_FILE).get("_template_version")
        if not dry_run:
            interrupts.checkpoint("update-before-commit")
            with interrupts.deferred():
                interrupts.checkpoint("update-moving")  # a signal here waits until all is in place
                _apply(project.root, rendered, changes, staging)
                run.committed = True
            interrupts.checkpoint("update-committed")
    before, after = project.answers.to_data(), answers.to_data()
    answer_changes = tuple((key, str(before.get(key, "-")), str(after.get(key, "-")))
                           for key in dict.fromkeys([*before, *after]) if before.get(key) != after.get(key))
    return Update(project.root, answers.name, recorded.get("_template_version"), to_version,
                  tuple(changes), dry_run, answer_changes, pending)


def _record(root: Path, generated: dict[str, str], previous: dict[str, str],
            changes: list[tuple[str, Change]]) -> dict[str, str]:
    """The digests to record. A conflict whose templates' version could not be written
    (an earlier FILE.yowasm-new is still there, and differs) keeps its earlier digest, so
    the next update offers the newer version again."""
    record = dict(generated)
    for path, change in changes:
        theirs = root / (path + CONFLICT_SUFFIX)
        if change is Change.PENDING and not (theirs.is_file() and file_digest(theirs) == generated[path]):
            if path in previous:
                record[path] = previous[path]
            else:
                del record[path]
    return record


def _changed_answers(project: Project, data: Mapping[str, str]) -> ProjectAnswers:
    """The recorded answers with DATA's changed, validated together; answers that no
    longer apply (a namespace, once the registry is acr) fall away."""
    previous = project.answers.to_data()
    try:
        return resolve_answers(dict(data), directory=project.root, use_defaults=True, previous=previous)
    except MissingAnswersError as error:
        keys = [flag.removeprefix("--").replace("-", "_") for flag in error.flags]
        examples = " ".join(f"--data {key}={example_answer(key, {**previous, **data})}" for key in keys)
        raise UsageError("The changed answers need more: " + ", ".join(keys) + ".",
                         hint=f"Give them too, e.g. {examples}") from None


def _previous_digests(value: object) -> dict[str, str]:
    # A project from plain `copier copy` or an older yowasm has no record: then every
    # file that differs from the templates counts as edited, which is the safe side.
    if not isinstance(value, dict):
        return {}
    # Only relative paths a file can have: a hand-edited record must not reach other files.
    digests = {}
    for key, digest in value.items():
        path = PurePosixPath(str(key))
        if path.parts and not path.is_absolute() and ".." not in path.parts \
                and all(len(os.fsencode(part)) <= _NAME_MAX for part in path.parts):
            digests[path.as_posix()] = str(digest)
    return digests


_NAME_MAX = 255  # the longest file name Linux, macOS and Windows file systems take


def _decide(root: Path, generated: dict[str, str], previous: dict[str, str],
            pending: tuple[str, ...] = ()) -> list[tuple[str, Change]]:
    changes = []
    for path, new in generated.items():
        on_disk = root / path
        before = previous.get(path)
        if not on_disk.is_file():
            changes.append((path, Change.SKIPPED if before and not on_disk.exists() else Change.ADDED))
            continue
        current = file_digest(on_disk)
        if current == new:
            changes.append((path, Change.UNCHANGED))
        elif current == before:
            changes.append((path, Change.UPDATED))
        elif new == before:
            changes.append((path, Change.KEPT))
        else:
            changes.append((path, Change.PENDING if path in pending else Change.CONFLICT))
    for path, before in previous.items():
        on_disk = root / path
        if path in generated or not on_disk.is_file():
            continue
        changes.append((path, Change.REMOVED if file_digest(on_disk) == before else Change.LEFT))
    return sorted(changes)


def _apply(root: Path, rendered: Path, changes: list[tuple[str, Change]], staging: Path) -> None:
    incoming = staging / "incoming"  # each file under the name it takes in the project
    moves = []
    incoming.mkdir()
    (rendered / ANSWERS_FILE).rename(incoming / ANSWERS_FILE)
    for path, change in changes:
        if change.writes:
            target = Path(path + CONFLICT_SUFFIX if change is Change.CONFLICT else path)
            (incoming / target).parent.mkdir(parents=True, exist_ok=True)
            (rendered / path).rename(incoming / target)
            moves.append(target)
    moves.append(Path(ANSWERS_FILE))  # last: it records what the files now are
    removed = [Path(path) for path, change in changes if change is Change.REMOVED]
    set_aside = staging / "removed"
    for path in removed:
        (set_aside / path).parent.mkdir(parents=True, exist_ok=True)
        os.replace(root / path, set_aside / path)
    try:
        move_into(incoming, root, moves, staging / "backup")
    except BaseException:
        for path in removed:
            os.replace(set_aside / path, root / path)
        raise
    for folder in sorted({parent for path in removed for parent in path.parents[:-1]}, key=lambda p: -len(p.parts)):
        if not any((root / folder).iterdir()):
            (root / folder).rmdir()
