"""What `yowasm publish` pushes where: the module, the reference and the layout, from
the arguments or, inside a project, from its answers."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from yowasm.credentials import Credentials, erase, lookup, store
from yowasm.errors import AuthError, InvalidReferenceError, RegistryUnavailable, UsageError
from yowasm import ANSWERS_FILE
from yowasm.model import ArtifactFormat
from yowasm.reference import DEFAULT_TAG, TAG_RE, Reference
from yowasm.registry_client import Connection, check_login

if TYPE_CHECKING:
    from yowasm.project import Project


@dataclass(frozen=True)
class PublishPlan:
    module: Path
    reference: Reference
    layout: ArtifactFormat
    project: Project | None


def plan_publish(module: Path | None, reference: str | None, *, tag: str | None,
                 artifact_format: str | None, folder: Path) -> PublishPlan:
    """Arguments win; a project (FOLDER holding the answers file) fills in the rest:
    its module, HOST/NAMESPACE/NAME, its artifact format, and the tag from --tag, the
    exact git tag of HEAD, or `latest` (the default of docker and oras, and of `pull`)."""
    project = None
    if (folder / ANSWERS_FILE).is_file():
        from yowasm.project import load_project

        project = load_project(folder)
    if module is None:
        if project is None:
            raise UsageError("No module given and no project here.",
                             hint="Run in a project made by `yowasm new`, or: yowasm publish MODULE.wasm REGISTRY/NAME:TAG")
        module = project.module_path
    if reference is None:
        if project is None or project.answers.repository is None:
            raise UsageError(
                "No reference given" + (" and the project has no registry." if project else "."),
                hint="Example: yowasm publish build/hello.wasm ghcr.io/octocat/hello:v1.0.0",
            )
        reference = f"{project.answers.repository}:{tag or _git_tag(project.root) or DEFAULT_TAG}"
    if artifact_format:
        layout = ArtifactFormat.parse(artifact_format, "artifact format")
    elif project is not None:
        layout = project.answers.artifact_format
    else:
        layout = ArtifactFormat.WASM_TO_OCI
    if layout is ArtifactFormat.SPIN:
        raise UsageError(
            "A Spin application is published with `spin registry push` (release.yml does it), "
            "which packs spin.toml with the module in Spin's own layout.",
            hint="Run `spin build && spin registry push` here, or push the module alone for WAGI: "
            "yowasm publish --artifact-format wasm-to-oci",
        )
    parsed = Reference.parse(reference, default_tag=DEFAULT_TAG)
    if tag:
        if not TAG_RE.fullmatch(tag):
            raise InvalidReferenceError(f"Invalid --tag {tag!r}: a tag is 1 to 128 letters, digits, '_', '.' or '-', "
                                        "not starting with '.' or '-'.", hint="Example of a valid --tag: v1.0.0")
        parsed = parsed.with_tag(tag)
    return PublishPlan(module, parsed, layout, project)


def _git_tag(root: Path) -> str | None:
    try:
        completed = subprocess.run(["git", "describe", "--tags", "--exact-match", "HEAD"], cwd=root,
                                   capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() or None if completed.returncode == 0 else None


def connection_for(reference: Reference, *, plain_http: bool, insecure: bool, ca_file: Path | None) -> Connection:
    """How to reach REFERENCE's registry: the flags, the scheme the user wrote
    (http:// is --plain-http, https:// allows no plain-HTTP fallback), and the
    credentials stored for it."""
    plain_http = plain_http or reference.scheme == "http"
    if plain_http and reference.scheme == "https":
        raise UsageError(f"--plain-http contradicts the https:// of https://{reference}.",
                         hint=f"Drop one of them, e.g. yowasm pull http://{reference}")
    connection = Connection(plain_http=plain_http, insecure=insecure, ca_file=ca_file,
                            https_only=reference.scheme == "https")
    connection.check(reference.registry)
    return Connection(plain_http=plain_http, insecure=insecure, ca_file=ca_file,
                      https_only=reference.scheme == "https", credentials=lookup(reference.registry))


@dataclass(frozen=True)
class Login:
    registry: str
    username: str
    path: Path
    #: True: the registry accepted the credentials; False: it asks for none;
    #: None: not checked (--no-verify).
    accepted: bool | None


def log_in(registry: str, credentials: Credentials, *, verify: bool, plain_http: bool, insecure: bool,
           ca_file: Path | None, https_only: bool = False) -> Login:
    """Check the credentials with the registry (unless told not to), then store them."""
    accepted = None
    if verify:
        connection = Connection(plain_http=plain_http, insecure=insecure, ca_file=ca_file, credentials=credentials,
                                https_only=https_only)
        try:
            accepted = check_login(registry, connection)
        except AuthError as error:
            raise AuthError(error.message, hint="Nothing was stored. Check the user name and the password "
                            "or token, then try again.") from None
        except RegistryUnavailable as error:
            raise RegistryUnavailable(error.message, hint=f"{error.hint} Nothing was stored; --no-verify "
                                      "stores the credentials without checking them.") from None
    return Login(registry, credentials.username, store(registry, credentials), accepted)


@dataclass(frozen=True)
class Logout:
    registry: str
    path: Path
    #: Whether there were credentials to forget.
    removed: bool


def log_out(registry: str) -> Logout:
    path, removed = erase(registry)
    return Logout(registry, path, removed)
