"""The one owner of OCI reference grammar and registry host knowledge: how
`HOST[:PORT]/NAME[:TAG][@DIGEST]` is read and checked (the distribution spec's
grammar, which registries do not enforce themselves: see notes oci.md), which hosts
are aliases of one registry (Docker Hub's four names), and which hosts are this
machine (loopback)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from yowasm.errors import InvalidReferenceError, ValidationError

#: The tag `publish` and `pull` use when none is given: what `docker` and `oras` use.
DEFAULT_TAG = "latest"

DOCKER_HUB = "docker.io"
#: Where Docker Hub's registry API answers (`docker.io` itself does not).
DOCKER_HUB_API = "registry-1.docker.io"
#: Every name of Docker Hub; the first is the key Docker keeps its credentials under.
DOCKER_HUB_ALIASES = ("https://index.docker.io/v1/", "index.docker.io", DOCKER_HUB, DOCKER_HUB_API)
#: Hosts with a registry kind of their own (the values are `--registry` choices).
HOST_ALIASES = {"ghcr.io": "ghcr", **{host: "dockerhub" for host in DOCKER_HUB_ALIASES[1:]}}
#: The host of each registry kind that has one fixed host.
KIND_HOSTS = {"ghcr": "ghcr.io", "dockerhub": DOCKER_HUB}
ACR_SUFFIX = ".azurecr.io"

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
NAME_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
NAME_MAX = 255
TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
DIGEST_RE = re.compile(r"sha256:[a-f0-9]{64}")
_DOMAIN_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST_RE = re.compile(rf"(?P<host>{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*|\[[0-9a-fA-F:.]+\])(?::(?P<port>[0-9]+))?")
#: Schemes people paste in front of a reference, and what yowasm makes of them.
_FOREIGN_SCHEMES = ("docker://", "oci://", "oras://", "oci:")


def canonical_registry(host: str) -> str:
    """One name per registry: Docker Hub's aliases become docker.io."""
    return DOCKER_HUB if host.lower() in DOCKER_HUB_ALIASES else host.lower()


def api_host(registry: str) -> str:
    return DOCKER_HUB_API if registry == DOCKER_HUB else registry


def validate_host(value: object, field: str = "registry") -> str:
    """A registry HOST[:PORT] that no client reads as a Docker Hub user: it holds a '.'
    or a port, or is localhost or an [IPv6] address."""
    text = str(value).strip().lower()
    match = _HOST_RE.fullmatch(text)
    rule = (
        "must be a registry host name or IP address with an optional :PORT, holding a '.' "
        "or a port (or be localhost) so that clients do not read it as a Docker Hub user"
    )
    example = "registry.example.com:5000"
    if not match or len(text) > 253:
        raise ValidationError(field, value, rule, example)
    host, port = match.group("host"), match.group("port")
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValidationError(field, value, rule, "[::1]:5000") from None
    elif "." not in host and port is None and host != "localhost":
        raise ValidationError(field, value, rule, example)
    if port is not None and not 0 < int(port) < 65536:
        raise ValidationError(f"{field} port", port, "must be between 1 and 65535", "5000")
    return text


def is_loopback(registry: str) -> bool:
    """Whether HOST[:PORT] is this machine: localhost, 127.0.0.0/8 or ::1."""
    host = registry[1:].split("]")[0] if registry.startswith("[") else registry.rsplit(":", 1)[0]
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def split_scheme(text: str) -> tuple[str | None, str]:
    """`http://HOST/...` and `https://HOST/...` as (scheme, rest); other schemes that
    people paste (docker://, oci://) are refused with the spelling yowasm reads."""
    lowered = text.lower()
    for scheme in ("http", "https"):
        if lowered.startswith(f"{scheme}://"):
            return scheme, text[len(scheme) + 3:].rstrip("/")
    for prefix in _FOREIGN_SCHEMES:
        if lowered.startswith(prefix):
            bare = text[len(prefix):]
            raise InvalidReferenceError(
                f"Invalid reference {text!r}: yowasm reads references without a {prefix} prefix.",
                hint=f"Write it as {bare} (or http://{bare} for a registry that speaks plain HTTP).",
            )
    return None, text


@dataclass(frozen=True)
class Reference:
    """HOST/NAME with a tag or digest; `scheme` is set when the user wrote one."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None
    scheme: str | None = None

    @classmethod
    def parse(cls, text: str, *, default_tag: str | None = DEFAULT_TAG) -> Reference:
        def invalid(rule: str, example: str = "ghcr.io/octocat/hello:v1.0.0") -> InvalidReferenceError:
            shown = text if len(text) <= 300 else f"{text[:300]}..."
            return InvalidReferenceError(
                f"Invalid reference {shown!r}: {rule}.", hint=f"Example of a valid reference: {example}"
            )

        scheme, rest = split_scheme(text)
        digest = None
        if "@" in rest:
            rest, digest = rest.split("@", 1)
            if not DIGEST_RE.fullmatch(digest):
                raise invalid("the digest must be sha256: and 64 lower-case hex digits")
        first, slash, remainder = rest.partition("/")
        if slash and ("." in first or ":" in first or first.lower() == "localhost" or first.startswith("[")):
            try:
                registry = canonical_registry(validate_host(first))
            except ValidationError:
                raise invalid("the registry must be a host name with an optional :PORT") from None
            path = remainder
        elif scheme:
            raise invalid("after http:// comes a registry HOST[:PORT], then the repository",
                          "http://127.0.0.1:5000/team/hello:v1")
        else:
            registry, path = DOCKER_HUB, rest
        tag = None
        if ":" in path.rsplit("/", 1)[-1]:
            path, tag = path.rsplit(":", 1)
            if not TAG_RE.fullmatch(tag):
                raise invalid("a tag is 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'")
        if not NAME_RE.fullmatch(path) or len(path) > NAME_MAX:
            raise invalid("the repository is lower-case letters and digits joined by '.', '_' or '-', components by '/'")
        if registry == DOCKER_HUB and "/" not in path:
            path = f"library/{path}"
        return cls(registry, path, tag or (None if digest else default_tag), digest, scheme)

    @property
    def api_host(self) -> str:
        return api_host(self.registry)

    @property
    def reference(self) -> str:
        """The tag or digest the manifest is addressed by."""
        return self.digest or self.tag or DEFAULT_TAG

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.registry, self.repository, tag, None, self.scheme)

    def with_digest(self, digest: str) -> str:
        return f"{self.registry}/{self.repository}@{digest}"
