"""The domain model: what a yowasm project is, as validated, typed values.

Raw input (flags, prompts, data files, answers files) is parsed here once, at the
edge; everything inward receives these frozen values and can trust them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Iterable, Mapping

from yowasm.errors import UsageError, ValidationError
from yowasm.reference import ACR_SUFFIX, HOST_ALIASES, KIND_HOSTS, validate_host


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
        raise ValidationError(field, value, f"must be one of {choices}", next(iter(cls)).value)


class Language(Choice):
    RUST = "rust"
    C = "c"
    ASSEMBLYSCRIPT = "assemblyscript"
    TINYGO = "tinygo"

    @property
    def title(self) -> str:
        return {"rust": "Rust", "c": "C", "assemblyscript": "AssemblyScript", "tinygo": "TinyGo"}[self.value]


class Runtime(Choice):
    WASMTIME = "wasmtime"
    WAGI = "wagi"
    KRUSTLET = "krustlet"


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


class Publisher(Choice):
    """The tool a generated release workflow pushes with."""

    ORAS = "oras"
    WASM_TO_OCI = "wasm-to-oci"


class RegistryKind(Choice):
    GHCR = "ghcr"
    ACR = "acr"
    DOCKERHUB = "dockerhub"
    NONE = "none"
    HOST = "host"


# --- rules -------------------------------------------------------------------

NAME_MAX = 64
_NAME_RE = re.compile(r"[a-z](?:[a-z0-9]|-(?=[a-z0-9]))*")
# Names that one of the ecosystems a module name must live in refuses or misreads:
# Rust (keywords, sysroot crates, cargo's output folders), npm, Go, Windows devices,
# and this project's own output folder.
RESERVED_NAMES = frozenset(
    """
    test std core alloc self super crate proc-macro build deps examples incremental
    as async await break const continue dyn else enum extern false fn for if impl in
    let loop match mod move mut pub ref return static struct trait true type unsafe
    use where while abstract become box do final macro override priv typeof unsized
    virtual yield try node-modules favicon-ico go main con prn aux nul com1 com2 com3
    lpt1 lpt2 lpt3 wasm wasi
    """.split()
)
# OCI distribution spec: path components and registry host[:port].
_OCI_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_NAMESPACE_RE = re.compile(rf"{_OCI_COMPONENT}(?:/{_OCI_COMPONENT})*")
_ACR_NAME_RE = re.compile(r"[a-z0-9]{5,50}")
_BRANCH_RE = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9._-]|/(?=[A-Za-z0-9_]))*")
_PRINTABLE_EXCEPTIONS = "\t"

WELL_KNOWN_HOSTS = {host: RegistryKind(kind) for host, kind in HOST_ALIASES.items()}


def validate_name(value: object) -> str:
    name = str(value)
    rule = (
        "use lower case letters, digits and single dashes, start with a letter, "
        f"end with a letter or digit, at most {NAME_MAX} characters"
    )
    if not name or len(name) > NAME_MAX or not _NAME_RE.fullmatch(name):
        raise ValidationError("module name", value, rule, "hello-wasm")
    if name in RESERVED_NAMES:
        raise ValidationError(
            "module name",
            value,
            "it is reserved by Rust, Cargo, npm, Go or an operating system",
            f"{name}-module",
        )
    return name


def suggest_name(text: str) -> str:
    """Turn free text (a folder name, a person's name) into a valid module name."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    slug = re.sub(r"^[^a-z]+", "", slug)[:NAME_MAX].rstrip("-")
    if not slug:
        return "wasm-module"
    if slug in RESERVED_NAMES:
        slug = f"{slug}-module"
    return slug


def suggest_namespace(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug or ""


def validate_text(field: str, value: object, *, required: bool = False) -> str:
    text = "" if value is None else str(value)
    if required and not text.strip():
        raise ValidationError(field, value, "must not be empty", "Jane Doe")
    bad = [ch for ch in text if not ch.isprintable() and ch not in _PRINTABLE_EXCEPTIONS]
    if bad:
        raise ValidationError(
            field, value, f"must be printable text on one line (found {bad[0]!r})", "Jane Doe"
        )
    return text


def validate_namespace(value: object, *, single: bool = False) -> str:
    namespace = str(value).strip("/")
    if not namespace or not _NAMESPACE_RE.fullmatch(namespace) or len(namespace) > 200:
        raise ValidationError(
            "namespace",
            value,
            "must follow the OCI name grammar: lower case letters and digits, "
            "separated by '.', '_', '__' or dashes, components joined by '/'",
            "octocat or team/wasm",
        )
    if single and "/" in namespace:
        raise ValidationError(
            "namespace", value, "Docker Hub takes a single user or organisation name", "octocat"
        )
    return namespace


def validate_acr_name(value: object) -> str:
    name = str(value)
    if not _ACR_NAME_RE.fullmatch(name):
        raise ValidationError(
            "ACR name",
            value,
            "Azure Container Registry names are 5 to 50 lower case letters and digits",
            "myregistry",
        )
    return name


def validate_branch(value: object) -> str:
    branch = str(value)
    if (
        not _BRANCH_RE.fullmatch(branch)
        or ".." in branch
        or branch.endswith((".", ".lock"))
        or len(branch) > 100
    ):
        raise ValidationError(
            "default branch",
            value,
            "use letters, digits, '.', '_', '-' and single '/' (a git branch name "
            "that is also a literal GitHub Actions branch filter)",
            "main",
        )
    return branch


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
    artifact_format: ArtifactFormat | None = None
    publisher: Publisher = Publisher.ORAS

    def __post_init__(self) -> None:
        if self.artifact_format is None:
            default = (
                ArtifactFormat.CNCF if self.runtime is Runtime.WASMTIME else ArtifactFormat.WASM_TO_OCI
            )
            object.__setattr__(self, "artifact_format", default)
        if self.runtime is not Runtime.WASMTIME and self.artifact_format is ArtifactFormat.CNCF:
            raise ValidationError(
                "artifact format",
                self.artifact_format.value,
                f"{self.runtime.value} pulls only the wasm-to-oci layout; cncf is for wasmtime",
                "wasm-to-oci",
            )
        if self.publisher is Publisher.WASM_TO_OCI and self.artifact_format is ArtifactFormat.CNCF:
            raise ValidationError(
                "publisher",
                self.publisher.value,
                "wasm-to-oci pushes only its own layout, not cncf",
                "oras (or --artifact-format wasm-to-oci)",
            )
        if self.runtime is Runtime.KRUSTLET and self.registry.kind is RegistryKind.NONE:
            raise ValidationError(
                "registry",
                "none",
                "Krustlet pulls modules from an OCI registry, so krustlet needs one",
                "ghcr",
            )

    @property
    def is_handler(self) -> bool:
        """True when the module is a WAGI (CGI-style) HTTP handler."""
        return self.runtime is Runtime.WAGI or (
            self.runtime is Runtime.KRUSTLET and self.krustlet_node is KrustletNode.WAGI
        )

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
        if self.runtime is Runtime.KRUSTLET:
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
            krustlet_node=KrustletNode.parse(data.get("krustlet_node") or "wasi", "Krustlet node kind"),
            registry=registry,
            license=License.parse(data.get("license") or "MIT", "license"),
            branch=validate_branch(data.get("branch") or "main"),
            artifact_format=(
                ArtifactFormat.parse(artifact_format, "artifact format") if artifact_format else None
            ),
            publisher=Publisher.parse(data.get("publisher") or "oras", "publisher"),
        )


def parse_pairs(values: Iterable[str], option: str, example: str) -> list[tuple[str, str]]:
    """The KEY=VALUE values of a repeatable option such as --env, --annotation or --data."""
    pairs = []
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key or "\0" in value:
            raise UsageError(f"Invalid {option} {value!r}: must be KEY=VALUE with a non-empty KEY.",
                             hint=f"Example of a valid {option}: {example}")
        pairs.append((key, text))
    return pairs
