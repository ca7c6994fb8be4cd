"""What yowasm knows about each runtime, read from the templates' runtime files.

Each templates/runtimes/<runtime>.yml says what kind of module the runtime runs,
whether it needs a registry, which artifact layouts it pulls, which files it adds and
what to do next. copier.yml and the shared templates include the same file
(_shared/runtime.jinja), so yowasm's rules and the rendered project never disagree.
The runtimes themselves are the files' names: yowasm.model.Runtime has a member per
file, and copier.yml lists the same folder (_shared/runtimes.jinja), so adding a
runtime is one such file, its template files and its tests.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from functools import cache
from typing import Any, Mapping

from yowasm.model import ArtifactFormat, KrustletNode, Runtime


class ModuleKind(str, Enum):
    #: A WASI command that runs, prints and exits.
    CONSOLE = "console"
    #: A WAGI (CGI-style) HTTP handler: one run per request.
    HANDLER = "handler"


@dataclass(frozen=True)
class NextStep:
    label: str
    #: A shell command; {name} and {repository} are the module's.
    command: str


@dataclass(frozen=True)
class NameRule:
    """A rule the module name must also follow for this runtime."""

    pattern: str
    rule: str
    example: str


@dataclass(frozen=True)
class RuntimeFacts:
    runtime: Runtime
    title: str
    #: One line for the runtime choice list.
    description: str
    module: ModuleKind
    registry_required: bool
    #: The artifact layouts the runtime pulls; the first is the default.
    layouts: tuple[ArtifactFormat, ...]
    #: Project-relative paths of the files the runtime adds.
    files: tuple[str, ...]
    next_steps: tuple[NextStep, ...]
    name_rule: NameRule | None = None
    #: What changes with the Krustlet node kind (empty for other runtimes).
    nodes: Mapping[KrustletNode, Mapping[str, Any]] | None = None
    #: Whether this is the runtime taken when none is chosen (one file says so).
    default: bool = False

    @property
    def is_handler(self) -> bool:
        return self.module is ModuleKind.HANDLER

    @property
    def asks_node(self) -> bool:
        return bool(self.nodes)

    def for_node(self, node: KrustletNode) -> RuntimeFacts:
        """The facts with NODE's overrides applied (the same facts without nodes)."""
        if not self.nodes:
            return self
        overrides = self.nodes.get(node, {})
        return replace(
            self,
            module=ModuleKind(overrides.get("module", self.module.value)),
            files=tuple(overrides.get("files", self.files)),
        )


@cache
def default_runtime() -> Runtime:
    """The runtime whose file says `default: true`."""
    from yowasm.packaged import default_runtime_name

    return Runtime(default_runtime_name())


@cache
def runtime_facts(runtime: Runtime) -> RuntimeFacts:
    from yowasm.packaged import load_packaged_yaml, runtime_file

    raw = load_packaged_yaml(runtime_file(runtime.value))
    return RuntimeFacts(
        runtime=runtime,
        title=raw["title"],
        description=raw["description"],
        module=ModuleKind(raw["module"]),
        registry_required=raw["registry"] == "required",
        layouts=tuple(ArtifactFormat(layout) for layout in raw["layouts"]),
        files=tuple(raw["files"]),
        next_steps=tuple(NextStep(**step) for step in raw["next_steps"]),
        name_rule=NameRule(**raw["name"]) if raw.get("name") else None,
        nodes={KrustletNode(node): overrides for node, overrides in raw["nodes"].items()} if raw.get("nodes") else None,
        default=raw.get("default", False) is True,
    )
