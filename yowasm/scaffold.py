"""Render a project from the templates, all or nothing.

The template is rendered into a temporary folder beside the destination, then moved
into place. On any error or interrupt a destination yowasm created is removed, and a
destination that existed is left exactly as it was.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import yaml

from yowasm import interrupts
from yowasm.errors import DestinationError, TemplateError, YowasmError
from yowasm.languages import language_facts
from yowasm.packaged import templates_dir
from yowasm.model import ProjectAnswers, Publisher, RegistryKind
from yowasm.project import ANSWERS_FILE, GENERATED_KEY, resolves_inside
from yowasm.text import shell_command


@dataclass(frozen=True)
class Scaffold:
    destination: Path
    display_path: Path
    answers: ProjectAnswers
    files: list[Path]
    created_directory: bool
    #: Files that were there before (with --force) and were replaced.
    replaced: list[Path] = field(default_factory=list)
    #: The language's one-time setup (npm install) has been run.
    set_up: bool = False

    @property
    def next_steps(self) -> list[tuple[str, str]]:
        facts = language_facts(self.answers.language)
        steps = []
        if self.display_path != Path("."):
            steps.append(("enter", shell_command("cd", self.display_path)))
        if facts.setup and not self.set_up:
            steps.append(("setup", facts.setup))
        steps += [("build", facts.build), ("test", facts.test)]
        if self.answers.is_handler:
            steps.append(("serve", "yowasm serve  # then: curl http://127.0.0.1:3000/"))
        else:
            steps.append(("run", facts.run))
        runtime = self.answers.runtime_facts
        if self.answers.registry.kind is not RegistryKind.NONE and self.answers.publisher is not Publisher.SPIN:
            steps.append(("publish", f"yowasm publish  # → {self.answers.repository}:latest"))
        steps += [(step.label, step.command.format(name=self.answers.name, repository=self.answers.repository))
                  for step in runtime.next_steps]
        return steps


def check_destination(destination: Path, *, force: bool) -> None:
    if destination.exists() and not destination.is_dir():
        raise DestinationError(f"{destination} exists and is not a directory.")
    if destination.is_dir() and any(destination.iterdir()) and not force:
        raise DestinationError(
            f"{destination} exists and is not empty.",
            hint="Choose another directory, or pass --force to render into it "
            "(files the template does not produce are kept).",
        )
    if not destination.parent.is_dir():
        raise DestinationError(
            f"The parent folder {destination.parent} does not exist.",
            hint=f"Create it first: {shell_command('mkdir', '-p', destination.parent)}",
        )


def create_project(answers: ProjectAnswers, destination: Path, *, force: bool = False,
                   templates: Path | None = None) -> Scaffold:
    display_path = destination
    destination = destination.absolute()
    check_destination(destination, force=force)
    existed = destination.exists()
    undone = f"Aborted: {display_path} was left as it was." if existed else "Aborted: nothing was written."
    done = f"Interrupted after the project was complete: {display_path} is ready."
    with interrupts.all_or_nothing(undone=undone, done=done) as run, staging_folder(destination.parent) as staging:
        rendered = staging / "project"
        generated = render_project(answers, rendered, templates)
        # The answers file goes last: it says the project is complete.
        files = [*sorted(Path(path) for path in generated), Path(ANSWERS_FILE)]
        replaced = []
        if existed:
            refuse_paths_outside(destination, files)
            replaced = [path for path in files if os.path.lexists(destination / path)]
        interrupts.checkpoint("new-before-commit")
        with interrupts.deferred():
            interrupts.checkpoint("new-moving")  # a signal here waits until all is in place
            if existed:
                move_into(rendered, destination, files, staging / "backup")
            else:
                os.rename(rendered, destination)
            run.committed = True
        interrupts.checkpoint("new-committed")
    return Scaffold(destination, display_path, answers, sorted(files), created_directory=not existed,
                    replaced=replaced)


def refuse_paths_outside(root: Path, paths: Iterable[Path | str]) -> None:
    """Raise DestinationError naming every path under ROOT that a symlink (a linked
    folder on the way, or the file itself) takes outside ROOT."""
    outside = [f"{path} → {os.path.realpath(root / path)}" for path in paths if not resolves_inside(root / path, root)]
    if outside:
        raise DestinationError(
            f"{len(outside)} path{'s' if len(outside) > 1 else ''} in {root} lead{'' if len(outside) > 1 else 's'} "
            "outside it through a symlink, and yowasm writes only inside the project: " + ", ".join(outside)
            + ". Nothing was written.",
            hint="Replace the symlink with a real folder or file (or remove it), then run the command again.",
        )


def render_project(answers: ProjectAnswers, target: Path, templates: Path | None = None) -> dict[str, str]:
    """Render the project into TARGET (which must not exist) and record in its answers
    file a digest of every other file; returns those digests by relative path."""
    generated = render_files(answers, target, templates)
    record_digests(target / ANSWERS_FILE, generated)
    return generated


def render_files(answers: ProjectAnswers, target: Path, templates: Path | None = None) -> dict[str, str]:
    """Render the project into TARGET (which must not exist); the digest of every file
    but the answers file, by relative path."""
    _render(answers, target, templates or templates_dir())
    files = (path for path in sorted(target.rglob("*")) if path.is_file())
    generated = {path.relative_to(target).as_posix(): file_digest(path) for path in files}
    del generated[ANSWERS_FILE]
    return generated


def record_digests(answers_file: Path, digests: dict[str, str]) -> None:
    with answers_file.open("a", encoding="utf-8") as file:
        file.write("# Digests of the files yowasm generated: `yowasm update` replaces only files still like this.\n")
        file.write(yaml.safe_dump({GENERATED_KEY: digests}, default_flow_style=False, allow_unicode=True))


def file_digest(path: Path) -> str:
    """A short content digest: enough to tell an edited file from the one generated."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


@contextmanager
def staging_folder(parent: Path) -> Iterator[Path]:
    """A scratch folder in PARENT (so its files can be renamed into place), always
    removed, even when a signal comes while it is being removed."""
    staging = None
    try:
        # Made while a signal waits, and inside the `try`: a signal that comes as the
        # folder is made still finds its removal certain.
        with interrupts.deferred():
            try:
                staging = Path(tempfile.mkdtemp(prefix=".yowasm-new-", dir=parent))
            except OSError as error:
                raise DestinationError(f"Cannot create files in {parent}: {error.strerror}.",
                                       hint="Choose a folder you can write to.") from None
        yield staging
    finally:
        if staging is not None:
            with interrupts.deferred():
                shutil.rmtree(staging, ignore_errors=True)


def _render(answers: ProjectAnswers, target: Path, templates: Path) -> None:
    from yowasm.render_ahead import render

    try:
        render(templates, target, answers.to_data())
    except (KeyboardInterrupt, YowasmError):
        raise
    except Exception as error:  # copier raises many unrelated types; none may escape raw
        raise TemplateError(
            f"Rendering the {answers.language.title} template failed: {error}",
            hint="Nothing was written. This is a bug in yowasm's templates; please report it.",
        ) from error


def move_into(rendered: Path, destination: Path, files: list[Path], backup: Path) -> None:
    """Move FILES (relative paths) from RENDERED into an existing folder, keeping what
    they replace in BACKUP; on failure put everything back."""
    moved: list[Path] = []
    created_dirs: list[Path] = []
    try:
        for relative in files:
            target = destination / relative
            for parent in reversed(relative.parents[:-1]):
                folder = destination / parent
                if not folder.exists():
                    folder.mkdir()
                    created_dirs.append(folder)
                elif not folder.is_dir():
                    raise DestinationError(f"{folder} is a file where the template has a folder.")
            if target.is_dir():
                raise DestinationError(f"{target} is a folder where the template has a file.")
            if target.exists() or target.is_symlink():
                (backup / relative).parent.mkdir(parents=True, exist_ok=True)
                os.replace(target, backup / relative)
            moved.append(relative)
            os.replace(rendered / relative, target)
    except BaseException:
        for relative in reversed(moved):
            (destination / relative).unlink(missing_ok=True)
            if (backup / relative).exists() or (backup / relative).is_symlink():
                os.replace(backup / relative, destination / relative)
        for folder in reversed(created_dirs):
            shutil.rmtree(folder, ignore_errors=True)
        raise
