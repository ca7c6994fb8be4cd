"""A generated project on disk: its answers, its language facts, its module."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from yowasm.errors import InputFileError, ProjectError, UsageError
from yowasm import ANSWERS_FILE
from yowasm.model import ProjectAnswers
from yowasm.readers import kind_of, read_yaml_mapping

if TYPE_CHECKING:
    from yowasm.languages import LanguageFacts

#: The answers-file key under which yowasm records a digest of every file it generated,
#: so that `yowasm update` can tell files a user edited from files it may replace.
GENERATED_KEY = "_yowasm_files"
#: What `yowasm update` appends to a file's name to write the templates' version of a
#: file you changed too, for you to merge.
CONFLICT_SUFFIX = ".yowasm-new"


#: The answers every project records, with an example of each for messages.
REQUIRED_ANSWERS = {"name": "hello-wasm", "author": "Jane Doe", "language": "rust", "runtime": "wasmtime",
                    "registry": "ghcr"}
_EXAMPLE = "{name: hello, language: rust, runtime: wasmtime}"


def read_data_file(path: Path, what: str = "data file") -> dict[str, Any]:
    """Answers from a YAML or JSON file (JSON is YAML): a mapping whose answers are text
    (null counts as not given); keys starting with `_` are copier's and yowasm's records."""
    data = read_yaml_mapping(path, what, example=_EXAMPLE)
    for key, value in data.items():
        if not key.startswith("_") and value is not None and not isinstance(value, str):
            scalar = isinstance(value, (int, float, bool))
            raise InputFileError(
                f"The {what} {path}: the answer {key!r} must be text, not {kind_of(value)}.",
                hint=f'Quote it if it is meant as text, e.g. {key}: "{value}"' if scalar
                else f"Example: {key}: {REQUIRED_ANSWERS.get(key, 'text')}",
            )
    return data


def read_answers_file(root: Path) -> dict[str, Any]:
    """The answers file of the project at ROOT, with every required answer present."""
    path = root / ANSWERS_FILE
    if not resolves_inside(path, root):
        raise InputFileError(f"{path} is a link to a file outside the project: yowasm does not follow it.",
                             hint=f"Replace the link with the file itself: cp --remove-destination "
                                  f"\"$(readlink -f {ANSWERS_FILE})\" {ANSWERS_FILE}")
    data = read_data_file(path, "answers file")
    for key, example in REQUIRED_ANSWERS.items():
        if not data.get(key):
            raise InputFileError(f"The answers file {path} has no {key!r}: every yowasm project records it.",
                                 hint=f"Add it, e.g. {key}: {example}")
    return data


def resolves_inside(path: Path, root: Path) -> bool:
    """Whether PATH, with every symlink on the way resolved, is ROOT or inside it."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


@dataclass(frozen=True)
class Project:
    root: Path
    answers: ProjectAnswers
    #: The files yowasm generated, as the answers file records them (relative paths).
    generated_files: tuple[str, ...] = ()

    def pending_merges(self) -> list[str]:
        """Generated files with a FILE.yowasm-new that `yowasm update` wrote beside them
        and nobody has merged (and deleted) yet."""
        return [path for path in self.generated_files
                if os.path.lexists(self.root / (path + CONFLICT_SUFFIX))
                and resolves_inside(self.root / (path + CONFLICT_SUFFIX), self.root)]

    @cached_property
    def facts(self) -> LanguageFacts:
        from yowasm.languages import language_facts  # only commands that build or check tools need it

        return language_facts(self.answers.language)

    @property
    def module_path(self) -> Path:
        return self.root / self.answers.module_file

    @property
    def modules_toml(self) -> Path:
        return self.root / "modules.toml"

    def source_files(self) -> set[Path]:
        """The files the build reads: those the language's source globs match."""
        return {path for pattern in self.facts.sources for path in self.root.glob(pattern) if path.is_file()}

    def newest_source_time(self) -> float:
        """The modification time of the newest source file (0 when there is none)."""
        newest = 0.0
        for path in self.source_files():
            try:
                newest = max(newest, path.stat().st_mtime)
            except FileNotFoundError:  # removed meanwhile
                pass
        return newest

    def module_is_stale(self) -> bool:
        """True when the module is missing or older than any of its sources."""
        if not self.module_path.exists():
            return True
        return self.newest_source_time() > self.module_path.stat().st_mtime


def load_project(path: Path | str = ".") -> Project:
    """The project at PATH (its root, holding the answers file yowasm new wrote)."""
    root = Path(path).resolve()
    answers_file = root / ANSWERS_FILE
    if not answers_file.is_file():
        raise ProjectError(
            f"{root} is not a yowasm project: it has no {ANSWERS_FILE}.",
            hint="Run the command in a folder made by `yowasm new`, or pass its path.",
        )
    data = read_answers_file(root)
    try:
        answers = ProjectAnswers.from_data(data)
    except UsageError as error:
        raise InputFileError(f"The answers file {answers_file}: {error.message}", hint=error.hint) from None
    record = data.get(GENERATED_KEY)
    generated = tuple(path for path in record if isinstance(path, str)) if isinstance(record, dict) else ()
    return Project(root, answers, generated)
