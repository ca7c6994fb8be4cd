"""What yowasm knows about each language, read from the template's own facts file.

Each templates/<language>/language.yml says how that language's projects are built,
tested and run, which tools they need and how to install them. The templates render
those facts into README, workflows and editor tasks; yowasm uses the same file for
its summary, `build` and `doctor`, so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from yowasm.model import Language
from yowasm.packaged import language_file, load_packaged_yaml


@dataclass(frozen=True)
class Tool:
    name: str
    check: str
    install: str
    purpose: str = ""
    #: An optional tool improves the result but the build works without it.
    optional: bool = False


@dataclass(frozen=True)
class TargetCheck:
    """A shell command, run in the project, that succeeds when the WASI target is usable."""

    check: str
    install: str
    purpose: str = ""
    #: Only meaningful inside a project (e.g. the compiler is a project dependency).
    in_project: bool = False


@dataclass(frozen=True)
class LanguageFacts:
    language: Language
    title: str
    #: One line shown beside the language where `yowasm new` offers it.
    summary: str
    build: str
    test: str
    run: str
    #: Globs, relative to the project, of the files the build reads.
    sources: tuple[str, ...]
    tools: tuple[Tool, ...]
    target: TargetCheck
    #: Run once before the first build (e.g. `npm install`), or None ...
    setup: str | None = None
    #: ... when this path is missing from the project.
    setup_creates: str | None = None


@cache
def language_facts(language: Language) -> LanguageFacts:
    raw = load_packaged_yaml(language_file(language.value))
    return LanguageFacts(
        language=language,
        title=raw["title"],
        summary=raw["summary"],
        build=raw["commands"]["build"],
        test=raw["commands"]["test"],
        run=raw["commands"]["run"],
        sources=tuple(raw["sources"]),
        tools=tuple(Tool(**tool) for tool in raw["tools"]),
        target=TargetCheck(**raw["target"]),
        setup=raw["commands"].get("setup"),
        setup_creates=raw["commands"].get("setup_creates"),
    )
