"""The domain model: what a yowasm project is, as validated, typed values.

Raw input (flags, prompts, data files, answers files) is parsed here once, at the
edge; everything inward receives these frozen values and can trust them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import TYPE_CHECKING, Any, Mapping

from yowasm.errors import ValidationError
from yowasm.packaged import language_names, runtime_names, templates_dir
from yowasm.reference import ACR_SUFFIX, HOST_ALIASES, KIND_HOSTS, validate_host

if TYPE_CHECKING:
    from yowasm.runtimes import RuntimeFacts


class Choice(str, Enum):
    """An enum whose values are what users type; parsed with a clear error."""

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: object, field: str):
        if isinstance(value, cls):
            return value
        text = str(value).strip()
        for member in cls:
            if member.value.lower() == text.lower():
                return member
        choices = ", ".join(member.value for member in cls)
        raise ValidationError(field, value, f"must be one of {choices}", cls.default().value)

    @classmethod
    def default(cls):
        """The member a refusal gives as its example: the first, which for most choices
        is also the one taken when none is given."""
        return next(iter(cls))


class _LanguageChoice(Choice):
    """A language: templates/<value>/language.yml says what it is (yowasm.languages)."""

    @classmethod
    def default(cls):
        """The language whose file says `default: true`."""
        from yowasm.packaged import default_language_name

        return cls(default_language_name())

    @property
    def title(self) -> str:
        """How people write the language's name (its file's `title`)."""
        from yowasm.languages import language_facts

        return language_facts(self).title


#: The languages, one member per template folder with a language.yml (Language.RUST is
#: rust/'s), so that adding a language is adding its folder.
Language = _LanguageChoice(
    "Language", [(name.upper().replace("-", "_"), name) for name in language_names()], module=__name__,
    qualname="Language"
)


class _RuntimeChoice(Choice):
    """A runtime: templates/runtimes/<value>.yml says what it is (yowasm.runtimes)."""

    @classmethod
    def default(cls):
        """The runtime whose file says `default: true`."""
        from yowasm.runtimes import default_runtime

        return default_runtime()


#: The runtimes, one member per runtime file (Runtime.WASMTIME is wasmtime.yml's), so
#: that adding a runtime is adding its file.
Runtime = _RuntimeChoice(
    "Runtime", [(name.upper().replace("-", "_"), name) for name in runtime_names()], module=__name__, qualname="Runtime"
)


class KrustletNode(Choice):
    WASI = "wasi"
    WAGI = "wagi"


class License(Choice):
    MIT = "MIT"
    APACHE_2 = "Apache-2.0"
    NONE = "none"


class ArtifactFormat(Choice):
    """How a module is laid out in an OCI registry (see shared notes oci.md)."""

    WASM_TO_OCI = "wasm-to-oci"
    CNCF = "cncf"
    #: Spin's application layout, pushed by `spin registry push` and pulled by SpinKube.
    SPIN = "spin"


class Publisher(Choice):
    """The tool a generated release workflow pushes with."""

    ORAS = "oras"
    WASM_TO_OCI = "wasm-to-oci"
    SPIN = "spin"


class RegistryKind(Choice):
    GHCR = "ghcr"
    ACR = "acr"
    DOCKERHUB = "dockerhub"
    NONE = "none"
    HOST = "host"


# --- rules -------------------------------------------------------------------
# The rules themselves are data, templates/rules.yml, which copier.yml's validators
# read too: both give the same verdicts.


@cache
def rules() -> dict[str, Any]:
    from yowasm.packaged import load_packaged_yaml

    return load_packaged_yaml(templates_dir() / "rules.yml")


def _matches(rule: str, value: str) -> bool:
    return re.search(rules()[rule]["pattern"], value) is not None


_PRINTABLE_EXCEPTIONS = "\t"

WELL_KNOWN_HOSTS = {host: RegistryKind(kind) for host, kind in HOST_ALIASES.items()}


def validate_name(value: object) -> str:
    name = str(value)
    rule = rules()["name"]
    if not _matches("name", name):
        raise ValidationError(rule["field"], value, rule["rule"], rule["example"])
    if name in rule["reserved"]:
        raise ValidationError(rule["field"], value, rule["reserved_rule"], f"{name}-module")
    return name


def suggest_name(text: str) -> str:
    """Turn free text (a folder name, a person's name) into a valid module name."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    slug = re.sub(r"^[^a-z]+", "", slug)[: rules()["name"]["max"]].rstrip("-")
    if not slug:
        return "wasm-module"
    if slug in rules()["name"]["reserved"]:
        slug = f"{slug}-module"
    return slug


def suggest_namespace(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or ""


def validate_text(field: str, value: object, *, required: bool = False) -> str:
    text = "" if value is None else str(value)
    rule = rules()["text"]
    if required and not text.strip():
        raise ValidationError(field, value, rule["required_rule"], rule["example"])
    bad = [ch for ch in text if not ch.isprintable() and ch not in _PRINTABLE_EXCEPTIONS]
    if bad:
        raise ValidationError(field, value, f"{rule['rule']} (found {bad[0]!r})", rule["example"])
    return text


def validate_namespace(value: object, *, single: bool = False) -> str:
    namespace = str(value).strip("/")
    rule = rules()["namespace"]
    if not _matches("namespace", namespace):
        raise ValidationError("namespace", value, rule["rule"], rule["example"])
    if single and "/" in namespace:
        raise ValidationError("namespace", value, rule["single_rule"], rule["single_example"])
    return namespace


def validate_acr_name(value: object) -> str:
    name = str(value)
    rule = rules()["acr_name"]
    if not _matches("acr_name", name):
        raise ValidationError(rule["field"], value, rule["rule"], rule["example"])
    return name


def validate_branch(value: object) -> str:
    branch = str(value)
    rule = rules()["branch"]
    if not _matches("branch", branch):
        raise ValidationError(rule["field"], value, rule["rule"], rule["example"])
    return branch


def default_publisher(layout: ArtifactFormat) -> Publisher:
    """The first release tool (in rules.yml's order) that pushes LAYOUT."""
    return next(Publisher(tool) for tool, layouts in rules()["publisher"]["pushes"].items() if layout.value in layouts)


_KIND_BY_CHOICE = {
    kind.value: kind
    for kind in (RegistryKind.GHCR, RegistryKind.ACR, RegistryKind.DOCKERHUB, RegistryKind.NONE)
}


# --- values ------------------------------------------------------------------


@dataclass(frozen=True)
class Registry:
    """Where a module is published: a kind, a host and a namespace (or ACR name)."""

    kind: RegistryKind
    host: str | None = None
    namespace: str | None = None

    @classmethod
    def parse(cls, registry: object, namespace: object = None, acr_name: object = None) -> Registry:
        text = str(registry).strip().lower()
        kind = WELL_KNOWN_HOSTS.get(text) or _KIND_BY_CHOICE.get(text, RegistryKind.HOST)
        if kind is RegistryKind.HOST and text.endswith(ACR_SUFFIX):
            kind, acr_name = RegistryKind.ACR, acr_name or text.removesuffix(ACR_SUFFIX)
        if kind is RegistryKind.NONE:
            return cls(kind)
        if kind is RegistryKind.ACR:
            return cls(kind, f"{validate_acr_name(acr_name)}{ACR_SUFFIX}")
        if kind is RegistryKind.HOST:
            host = validate_host(registry)
        else:
            host = KIND_HOSTS[kind.value]
        return cls(kind, host, validate_namespace(namespace, single=kind is RegistryKind.DOCKERHUB))

    @property
    def choice(self) -> str:
        """The value a user types for --registry to get this registry."""
        if self.kind is RegistryKind.HOST:
            return self.host or ""
        return self.kind.value

    @property
    def acr_name(self) -> str | None:
        if self.kind is RegistryKind.ACR and self.host:
            return self.host.removesuffix(ACR_SUFFIX)
        return None

    def repository(self, name: str) -> str | None:
        """HOST/NAMESPACE/NAME, the reference of a module without a tag."""
        if self.kind is RegistryKind.NONE:
            return None
        parts = [self.host, self.namespace, name]
        return "/".join(part for part in parts if part)


@dataclass(frozen=True)
class ProjectAnswers:
    """Every answer a project is generated from, validated."""

    name: str
    description: str
    author: str
    language: Language
    runtime: Runtime
    registry: Registry
    krustlet_node: KrustletNode = KrustletNode.WASI
    license: License = License.MIT
    branch: str = "main"
    #: None: the runtime's default layout, and the first publisher that pushes it.
    artifact_format: ArtifactFormat | None = None
    publisher: Publisher | None = None

    def __post_init__(self) -> None:
        facts = self.runtime_facts
        if facts.name_rule and not re.search(facts.name_rule.pattern, self.name):
            raise ValidationError("module name", self.name, facts.name_rule.rule, facts.name_rule.example)
        if facts.registry_required and self.registry.kind is RegistryKind.NONE:
            rule = rules()["registry"]
            raise ValidationError("registry", "none", rule["needed_rule"].format(title=facts.title, runtime=self.runtime.value),
                                  rule["needed_example"])
        if self.artifact_format is None:
            object.__setattr__(self, "artifact_format", facts.layouts[0])
        if self.artifact_format not in facts.layouts:
            layouts = " or ".join(layout.value for layout in facts.layouts)
            raise ValidationError(
                rules()["artifact_format"]["field"],
                self.artifact_format.value,
                rules()["artifact_format"]["rule"].format(runtime=self.runtime.value, layouts=layouts),
                facts.layouts[0].value,
            )
        if self.publisher is None:
            object.__setattr__(self, "publisher", default_publisher(self.artifact_format))
        pushes = rules()["publisher"]["pushes"][self.publisher.value]
        if self.artifact_format.value not in pushes:
            raise ValidationError(
                "publisher",
                self.publisher.value,
                rules()["publisher"]["rule"].format(publisher=self.publisher.value, layouts=" or ".join(pushes)),
                default_publisher(self.artifact_format).value,
            )

    @property
    def runtime_facts(self) -> RuntimeFacts:
        """What the runtime is (templates/runtimes/<runtime>.yml), for this node kind."""
        from yowasm.runtimes import runtime_facts

        return runtime_facts(self.runtime).for_node(self.krustlet_node)

    @property
    def is_handler(self) -> bool:
        """True when the module is a WAGI (CGI-style) HTTP handler."""
        return self.runtime_facts.is_handler

    @property
    def repository(self) -> str | None:
        return self.registry.repository(self.name)

    @property
    def module_file(self) -> str:
        """Where every language's build puts the release module, relative to the project."""
        return f"build/{self.name}.wasm"

    def to_data(self) -> dict[str, Any]:
        """The answers as the template questionnaire (and answers file) spells them."""
        data: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "author": self.author,
            "language": self.language.value,
            "runtime": self.runtime.value,
        }
        if self.runtime_facts.asks_node:
            data["krustlet_node"] = self.krustlet_node.value
        data["registry"] = self.registry.choice
        if self.registry.kind is RegistryKind.ACR:
            data["acr_name"] = self.registry.acr_name
        elif self.registry.kind is not RegistryKind.NONE:
            data["namespace"] = self.registry.namespace
        if self.registry.kind is not RegistryKind.NONE:
            data["artifact_format"] = self.artifact_format.value
            data["publisher"] = self.publisher.value
        data["license"] = self.license.value
        data["branch"] = self.branch
        return data

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ProjectAnswers:
        """Validate raw answers (flags, prompts, files), every key already present."""
        runtime = Runtime.parse(data["runtime"], "runtime")
        registry = Registry.parse(data["registry"], data.get("namespace"), data.get("acr_name"))
        artifact_format = data.get("artifact_format")
        return cls(
            name=validate_name(data["name"]),
            description=validate_text("description", data.get("description", "")),
            author=validate_text("author", data["author"], required=True),
            language=Language.parse(data["language"], "language"),
            runtime=runtime,
            krustlet_node=KrustletNode.parse(data.get("krustlet_node") or KrustletNode.default(), "Krustlet node kind"),
            registry=registry,
            license=License.parse(data.get("license") or "MIT", "license"),
            branch=validate_branch(data.get("branch") or "main"),
            artifact_format=(
                ArtifactFormat.parse(artifact_format, "artifact format") if artifact_format else None
            ),
            publisher=Publisher.parse(data["publisher"], "publisher") if data.get("publisher") else None,
        )
