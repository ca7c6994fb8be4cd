"""A generated project on disk: its answers, its language facts, its module."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from yowasm.errors import ProjectError, UsageError
from yowasm.languages import LanguageFacts, language_facts
from yowasm.model import ProjectAnswers

ANSWERS_FILE = ".copier-answers.yml"


def read_data_file(path: Path) -> dict[str, Any]:
    """Answers from a YAML or JSON file (JSON is YAML), as raw values."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"Cannot read {path}: {error.strerror}.") from None
    except yaml.YAMLError as error:
        raise UsageError(f"{path} is not valid YAML or JSON: {error}.") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(
            f"{path} must hold a mapping of answers, not {type(data).__name__}.",
            hint="Example: {name: hello, language: rust, runtime: wasmtime}",
        )
    return data


@dataclass(frozen=True)
class Project:
    root: Path
    answers: ProjectAnswers

    @cached_property
    def facts(self) -> LanguageFacts:
        return language_facts(self.answers.language)

    @property
    def module_path(self) -> Path:
        return self.root / self.answers.module_file

    @property
    def modules_toml(self) -> Path:
        return self.root / "modules.toml"

    def newest_source_time(self) -> float:
        """The modification time of the newest source file (0 when there is none)."""
        newest = 0.0
        for source in self.facts.sources:
            path = self.root / source
            for file in path.rglob("*") if path.is_dir() else [path]:
                if file.is_file():
                    newest = max(newest, file.stat().st_mtime)
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
    data = read_data_file(answers_file)
    return Project(root, ProjectAnswers.from_data(data))
