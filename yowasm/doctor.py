"""`yowasm doctor`: which tools each language needs, which are here, how to get the rest."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from functools import cache
from pathlib import Path

from yowasm.languages import LanguageFacts, TargetCheck, Tool, language_facts
from yowasm.model import Language
from yowasm.packaged import load_packaged_yaml, templates_dir
from yowasm.project import Project

@cache
def shared_tool(name: str) -> Tool:
    """A tool of templates/tools.yml, which any language's project may use: `wasmtime`
    (the CLI, optional) or `curl` (for a handler's example request)."""
    return Tool(**load_packaged_yaml(templates_dir() / "tools.yml")[name])


#: What every project's run target (`make run`, `npm start`) does: the wasmtime CLI
#: when it is on PATH, else `yowasm run`; with neither, the run target cannot work.
RUN_TARGET_CHECK = (
    "if command -v wasmtime >/dev/null; then wasmtime --version; "
    'elif command -v yowasm >/dev/null; then echo "yowasm run ($(command -v yowasm))"; else exit 1; fi'
)


def run_target(facts: LanguageFacts) -> Tool:
    """The language's run command as a finding of its own: it needs the wasmtime CLI or
    yowasm on PATH (a yowasm started by path, e.g. from an inactive venv, is not)."""
    beside_python = Path(sys.executable).parent
    install = (f'export PATH="{beside_python}:$PATH"' if (beside_python / "yowasm").is_file()
               else shared_tool("wasmtime").install)
    return Tool(name=facts.run, check=RUN_TARGET_CHECK, install=install,
                purpose="runs the module with the wasmtime CLI, else with yowasm run (either on PATH)")


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
            checks.append((facts, run_target(facts)))
            checks.append((facts, shared_tool("wasmtime")))
            if project is not None and project.answers.is_handler:
                checks.append((facts, shared_tool("curl")))
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
