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
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import yaml

from yowasm.errors import Aborted, DestinationError, TemplateError, YowasmError
from yowasm.languages import language_facts, templates_dir
from yowasm.model import ProjectAnswers, Publisher, RegistryKind
from yowasm.project import ANSWERS_FILE

#: The answers-file key under which yowasm records a digest of every file it generated,
#: so that `yowasm update` can tell files a user edited from files it may replace.
GENERATED_KEY = "_yowasm_files"


@dataclass(frozen=True)
class Scaffold:
    destination: Path
    display_path: Path
    answers: ProjectAnswers
    files: list[Path]
    created_directory: bool
    #: The language's one-time setup (npm install) has been run.
    set_up: bool = False

    @property
    def next_steps(self) -> list[tuple[str, str]]:
        facts = language_facts(self.answers.language)
        steps = []
        if self.display_path != Path("."):
            steps.append(("enter", f"cd {self.display_path}"))
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
            hint=f"Create it first: mkdir -p {destination.parent}",
        )


def create_project(answers: ProjectAnswers, destination: Path, *, force: bool = False,
                   templates: Path | None = None) -> Scaffold:
    display_path = destination
    destination = destination.absolute()
    check_destination(destination, force=force)
    existed = destination.exists()
    with staging_folder(destination.parent) as staging:
        rendered = staging / "project"
        generated = render_project(answers, rendered, templates)
        files = sorted(Path(path) for path in [*generated, ANSWERS_FILE])
        if existed:
            move_into(rendered, destination, files, staging / "backup")
        else:
            os.rename(rendered, destination)
    return Scaffold(destination, display_path, answers, files, created_directory=not existed)


def render_project(answers: ProjectAnswers, target: Path, templates: Path | None = None) -> dict[str, str]:
    """Render the project into TARGET (which must not exist) and record in its answers
    file a digest of every other file; returns those digests by relative path."""
    _render(answers, target, templates or templates_dir())
    files = (path for path in sorted(target.rglob("*")) if path.is_file())
    generated = {path.relative_to(target).as_posix(): file_digest(path) for path in files}
    del generated[ANSWERS_FILE]
    with (target / ANSWERS_FILE).open("a", encoding="utf-8") as answers_file:
        answers_file.write("# Digests of the files yowasm generated: `yowasm update` replaces only files still like this.\n")
        answers_file.write(yaml.safe_dump({GENERATED_KEY: generated}, default_flow_style=False, allow_unicode=True))
    return generated


def file_digest(path: Path) -> str:
    """A short content digest: enough to tell an edited file from the one generated."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


@contextmanager
def staging_folder(parent: Path) -> Iterator[Path]:
    """A scratch folder in PARENT (so its files can be renamed into place), always removed."""
    try:
        staging = Path(tempfile.mkdtemp(prefix=".yowasm-new-", dir=parent))
    except OSError as error:
        raise DestinationError(f"Cannot create files in {parent}: {error.strerror}.",
                               hint="Choose a folder you can write to.") from None
    try:
        yield staging
    except KeyboardInterrupt:
        raise Aborted() from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _render(answers: ProjectAnswers, target: Path, templates: Path) -> None:
    import copier

    try:
        copier.run_copy(
            str(templates),
            target,
            data=answers.to_data(),
            defaults=True,
            overwrite=True,
            quiet=True,
            unsafe=False,
        )
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
