"""`yowasm doctor`: which tools each language needs, which are here, how to get the rest."""

from __future__ import annotations

import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from yowasm.languages import LanguageFacts, TargetCheck, Tool, language_facts
from yowasm.model import Language
from yowasm.project import Project

#: Every project's `run` target and CI run step call the wasmtime CLI; `yowasm run`
#: does not need it, so it never makes a toolchain incomplete.
WASMTIME_CLI = Tool(
    name="wasmtime",
    check="wasmtime --version",
    install="curl https://wasmtime.dev/install.sh -sSf | bash",
    purpose="the wasmtime CLI, for `make run` / `npm start` (yowasm run works without it)",
    optional=True,
)


class Status(str, Enum):
    OK = "ok"
    MISSING = "missing"
    UNCHECKED = "unchecked"
    #: Not there yet, but the project's one-time setup (which `yowasm build` runs) makes it.
    PENDING = "pending"


@dataclass(frozen=True)
class Finding:
    language: Language
    name: str
    purpose: str
    status: Status
    found: str
    install: str
    optional: bool

    @property
    def blocking(self) -> bool:
        return self.status is Status.MISSING and not self.optional


@dataclass(frozen=True)
class Diagnosis:
    findings: tuple[Finding, ...]
    project: Project | None
    #: The project's files with a FILE.yowasm-new from `yowasm update` still to merge.
    pending_merges: tuple[str, ...] = ()

    def complete(self, language: Language) -> bool:
        return not any(f.blocking for f in self.findings if f.language is language)

    @property
    def project_incomplete(self) -> bool:
        return self.project is not None and not self.complete(self.project.answers.language)


def diagnose(project: Project | None = None) -> Diagnosis:
    """Check the project's language (or every language without a project)."""
    languages = [project.answers.language] if project else list(Language)
    with tempfile.TemporaryDirectory(prefix="yowasm-doctor-") as scratch:
        workdir = project.root if project else Path(scratch)
        checks = []
        for language in languages:
            facts = language_facts(language)
            checks += [(facts, tool) for tool in facts.tools]
            checks.append((facts, facts.target))
            checks.append((facts, WASMTIME_CLI))
        with ThreadPoolExecutor(max_workers=8) as pool:
            findings = tuple(pool.map(lambda check: _check(*check, workdir, project is not None), checks))
    return Diagnosis(findings, project, tuple(project.pending_merges()) if project else ())


def _check(facts: LanguageFacts, item: Tool | TargetCheck, workdir: Path, in_project: bool) -> Finding:
    is_target = isinstance(item, TargetCheck)
    name = "WASI target" if is_target else item.name
    optional = not is_target and item.optional
    if is_target and item.in_project and not in_project:
        return Finding(facts.language, name, item.purpose, Status.UNCHECKED,
                       "checked inside a project", item.install, optional)
    if is_target and item.in_project and facts.setup_creates and not (workdir / facts.setup_creates).exists():
        return Finding(facts.language, name, item.purpose, Status.PENDING,
                       f"yowasm build runs `{facts.setup}` first", item.install, optional)
    try:
        completed = subprocess.run(
            ["sh", "-c", item.check], cwd=workdir, capture_output=True, text=True, timeout=60
        )
        ok = completed.returncode == 0
        first_line = (completed.stdout.strip() or completed.stderr.strip()).splitlines()
    except subprocess.TimeoutExpired:
        ok, first_line = False, ["timed out"]
    found = first_line[0] if ok and first_line else ("" if ok else "not found")
    return Finding(facts.language, name, item.purpose, Status.OK if ok else Status.MISSING,
                   found, item.install, optional)
