"""Push and pull Wasm modules to and from OCI registries (the distribution spec),
in the wasm-to-oci layout or the CNCF Wasm OCI Artifact layout.

Blobs the registry has are skipped, large modules go up in chunks, and the manifest
is pushed last, so a failed push never leaves a tag pointing at missing content.
Credentials never appear in messages: only registry error codes and texts do.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import json
import os
import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Callable, Mapping
from urllib.parse import urlencode, urljoin

from yowasm.credentials import Credentials
from yowasm.errors import AuthError, FileSystemError, InvalidReferenceError, RegistryError, RegistryUnavailable, UsageError
from yowasm.model import ArtifactFormat, parse_pairs

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
TITLE = "org.opencontainers.image.title"


@dataclass(frozen=True)
class Layout:
    config_media_type: str
    layer_media_type: str


LAYOUTS = {
    ArtifactFormat.WASM_TO_OCI: Layout("application/vnd.wasm.config.v1+json", "application/vnd.wasm.content.layer.v1+wasm"),
    ArtifactFormat.CNCF: Layout("application/vnd.wasm.config.v0+json", "application/wasm"),
}
WASM_LAYER_TYPES = {layout.layer_media_type for layout in LAYOUTS.values()}

#: Modules above this size are uploaded in chunks of this size.
CHUNK_SIZE = 8 * 1024 * 1024
#: Attempts for a step that is safe to repeat, on connection errors and 5xx answers.
ATTEMPTS = 3
TIMEOUT = 60

# --- references (OCI distribution grammar) ---------------------------------------

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_NAME_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_DIGEST_RE = re.compile(r"sha256:[a-f0-9]{64}")
_HOST_RE = re.compile(r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]{1,5})?|\[[0-9a-fA-F:]+\](?::[0-9]{1,5})?")
DOCKER_HUB = "docker.io"


@dataclass(frozen=True)
class Reference:
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str, *, default_tag: str | None = "latest") -> Reference:
        def invalid(rule: str, example: str = "ghcr.io/octocat/hello:v1.0.0") -> InvalidReferenceError:
            return InvalidReferenceError(
                f"Invalid reference {text!r}: {rule}.", hint=f"Example of a valid reference: {example}"
            )

        rest, digest = text, None
        if "@" in rest:
            rest, digest = rest.split("@", 1)
            if not _DIGEST_RE.fullmatch(digest):
                raise invalid("the digest must be sha256: and 64 lower-case hex digits")
        first, slash, remainder = rest.partition("/")
        if slash and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
            registry, path = first, remainder
            if not _HOST_RE.fullmatch(registry):
                raise invalid("the registry must be a host name with an optional :PORT")
        else:
            registry, path = DOCKER_HUB, rest
        tag = None
        if ":" in path.rsplit("/", 1)[-1]:
            path, tag = path.rsplit(":", 1)
            if not _TAG_RE.fullmatch(tag):
                raise invalid("a tag is 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'")
        if not _NAME_RE.fullmatch(path) or len(path) > 255:
            raise invalid("the repository is lower-case letters and digits joined by '.', '_' or '-', components by '/'")
        if registry == DOCKER_HUB and "/" not in path:
            path = f"library/{path}"
        return cls(registry, path, tag or (None if digest else default_tag), digest)

    @property
    def api_host(self) -> str:
        return "registry-1.docker.io" if self.registry == DOCKER_HUB else self.registry

    @property
    def reference(self) -> str:
        """The tag or digest the manifest is addressed by."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        text = f"{self.registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    def with_digest(self, digest: str) -> str:
        return f"{self.registry}/{self.repository}@{digest}"


def is_loopback(registry: str) -> bool:
    host = registry.rsplit(":", 1)[0] if not registry.startswith("[") else registry[1:].split("]")[0]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- connection ------------------------------------------------------------------


@dataclass(frozen=True)
class Connection:
    """How to reach a registry: scheme, TLS verification, credentials."""

    plain_http: bool = False
    insecure: bool = False
    ca_file: Path | None = None
    credentials: Credentials | None = field(default=None, repr=False)

    def check(self, registry: str) -> None:
        if self.plain_http and not is_loopback(registry) and not self.insecure:
            raise UsageError(
                f"Refusing --plain-http to {registry}: plain HTTP would send the module and any "
                "credentials unencrypted to a host that is not this machine.",
                hint="Use --plain-http only for localhost / 127.0.0.1, or add --insecure to allow it.",
            )
        if self.ca_file is not None and not Path(self.ca_file).is_file():
            raise UsageError(f"Invalid --ca-file {str(self.ca_file)!r}: no such file.",
                             hint="Example of a valid --ca-file: ./registry-ca.pem")

    @property
    def verify(self) -> bool | str:
        if self.insecure:
            return False
        return str(self.ca_file) if self.ca_file else True


ProgressCallback = Callable[[int], None]


class RegistryClient:
    """One repository on one registry, with auth challenges and retries handled."""

    def __init__(self, reference: Reference, connection: Connection):
        import requests

        connection.check(reference.registry)
        self.reference = reference
        self.connection = connection
        scheme = "http" if connection.plain_http else "https"
        self.base = f"{scheme}://{reference.api_host}/v2/{reference.repository}/"
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "yowasm"
        self._authorization: str | None = None
        self.uploaded_bytes = 0

    # -- low level --

    def request(self, method: str, url: str, *, push: bool = False, retry: bool = True,
                expect: tuple[int, ...] = (200,), **kwargs):
        """Send a request, answering auth challenges; retry safe requests on
        connection errors and 5xx answers, a bounded number of times."""
        import requests

        attempts = ATTEMPTS if retry else 1
        for attempt in range(1, attempts + 1):
            try:
                response = self._send(method, url, **kwargs)
                if response.status_code == 401:
                    self._authenticate(response, push=push)
                    response = self._send(method, url, **kwargs)
                    if response.status_code == 401 and "insufficient_scope" in response.headers.get("WWW-Authenticate", ""):
                        self._authenticate(response, push=push)
                        response = self._send(method, url, **kwargs)
            except requests.exceptions.SSLError as error:
                if "WRONG_VERSION_NUMBER" in str(error):  # a TLS hello answered in plain HTTP
                    raise RegistryError(f"{self.reference.registry} does not speak HTTPS (it answered in plain HTTP).",
                                        hint="Pass --plain-http (for a registry on this machine; other hosts "
                                        "also need --insecure).") from None
                raise RegistryError(
                    f"TLS verification of {self.reference.registry} failed: {_reason(error)}",
                    hint="Pass --ca-file with the registry's CA certificate (or --insecure to skip checks).",
                ) from None
            except requests.exceptions.ConnectionError as error:
                if attempt < attempts:
                    time.sleep(0.2 * attempt)
                    continue
                raise RegistryUnavailable(
                    f"Cannot reach the registry {self.reference.registry}: {_reason(error)}",
                    hint="Check the host and port, and that the registry is running"
                    + (" (and speaks plain HTTP)" if self.connection.plain_http else "") + ".",
                ) from None
            except requests.exceptions.Timeout:
                if attempt < attempts:
                    continue
                raise RegistryUnavailable(f"The registry {self.reference.registry} did not answer in {TIMEOUT} s.") from None
            if response.status_code >= 500 and attempt < attempts:
                time.sleep(0.2 * attempt)
                continue
            if response.status_code not in expect:
                raise self._error(response, method)
            return response
        raise AssertionError("unreachable")

    @property
    def authenticated(self) -> bool:
        """Whether the registry asked for credentials (and took them)."""
        return self._authorization is not None

    def _send(self, method: str, url: str, **kwargs):
        headers = dict(kwargs.pop("headers", {}))
        if self._authorization:
            headers["Authorization"] = self._authorization
        return self.session.request(method, url, headers=headers, verify=self.connection.verify,
                                    timeout=TIMEOUT, allow_redirects=True, **kwargs)

    def _authenticate(self, response, *, push: bool) -> None:
        import base64

        challenge = response.headers.get("WWW-Authenticate", "")
        scheme, _, params_text = challenge.partition(" ")
        params = dict(re.findall(r'(\w+)="([^"]*)"', params_text))
        credentials = self.connection.credentials
        if scheme.lower() == "basic":
            if credentials is None:
                raise AuthError(
                    f"{self.reference.registry} needs a user name and password.",
                    hint=f"Run `yowasm login {self.reference.registry}` or set YOWASM_REGISTRY_USERNAME "
                    "and YOWASM_REGISTRY_PASSWORD.",
                )
            if self._authorization and self._authorization.startswith("Basic"):
                raise AuthError(f"{self.reference.registry} refused the user name and password for "
                                f"{credentials.username!r}.", hint="Check them, then `yowasm login` again.")
            token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
            self._authorization = f"Basic {token}"
            return
        if scheme.lower() != "bearer" or "realm" not in params:
            raise AuthError(f"{self.reference.registry} asks for an unsupported authentication: {scheme or 'none'}.")
        actions = "pull,push" if push else "pull"
        query = {"service": params.get("service", "")}
        if scope := params.get("scope") or (self.reference.repository and
                                            f"repository:{self.reference.repository}:{actions}"):
            query["scope"] = scope
        auth = (credentials.username, credentials.password) if credentials else None
        import requests

        try:
            answer = requests.get(params["realm"], params=query, auth=auth, verify=self.connection.verify,
                                  timeout=TIMEOUT)
        except requests.exceptions.RequestException as error:
            raise AuthError(f"Cannot reach the token service of {self.reference.registry}: {_reason(error)}") from None
        if answer.status_code in (401, 403):
            raise AuthError(
                f"{self.reference.registry} refused the credentials"
                + (f" of {credentials.username!r}" if credentials else " (none were found)") + ".",
                hint=f"Run `yowasm login {self.reference.registry}` with a user allowed to {actions}.",
            )
        if answer.status_code != 200:
            raise AuthError(f"The token service of {self.reference.registry} answered HTTP {answer.status_code}.")
        body = answer.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise AuthError(f"The token service of {self.reference.registry} returned no token.")
        self._authorization = f"Bearer {token}"

    def _error(self, response, method: str) -> RegistryError:
        try:
            errors = response.json().get("errors") or []
        except ValueError:
            errors = []
        detail = "; ".join(f"{e.get('code', 'ERROR')}: {e.get('message', '')}".strip() for e in errors)
        what = f"{method} {response.request.path_url.split('?')[0]}"
        credentials = self.connection.credentials
        if response.status_code == 401 and (self._authorization or "").startswith("Basic") and credentials:
            return AuthError(
                f"{self.reference.registry} refused the user name and password of {credentials.username!r}.",
                hint=f"Check them, then `yowasm login {self.reference.registry}` again.",
            )
        if response.status_code in (401, 403):
            who = f"{credentials.username!r}" if credentials else "anonymous users"
            return AuthError(
                f"{self.reference.registry} denied {what} to {who}: {detail or f'HTTP {response.status_code}'}.",
                hint=f"The credentials may lack permission; `yowasm login {self.reference.registry}` as a user who has it.",
            )
        error_type = RegistryUnavailable if response.status_code >= 500 else RegistryError
        return error_type(f"{self.reference.registry} refused {what}: HTTP {response.status_code}"
                             + (f" ({detail})" if detail else "") + ".")

    # -- blobs --

    def has_blob(self, digest: str, *, push: bool = False) -> bool:
        response = self.request("HEAD", urljoin(self.base, f"blobs/{digest}"), push=push, expect=(200, 404))
        return response.status_code == 200

    def upload_blob(self, path_or_bytes: Path | bytes, digest: str, size: int,
                    progress: ProgressCallback | None = None) -> None:
        """Upload unless present; the whole upload is restarted (a fresh session) on a
        connection error or 5xx, which is safe because sessions are independent."""
        if self.has_blob(digest, push=True):
            if progress:
                progress(size)
            return
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return self._upload_once(path_or_bytes, digest, size, progress)
            except RegistryUnavailable:
                if attempt == ATTEMPTS:
                    raise
                time.sleep(0.2 * attempt)

    def _upload_once(self, source: Path | bytes, digest: str, size: int, progress: ProgressCallback | None) -> None:
        start = self.request("POST", urljoin(self.base, "blobs/uploads/"), push=True, expect=(202,))
        location = urljoin(self.base, start.headers["Location"])
        with _open(source) as stream:
            if size <= CHUNK_SIZE:
                body = stream.read()
                self._put_final(location, digest, body)
                self.uploaded_bytes += len(body)
                if progress:
                    progress(len(body))
                return
            offset = 0
            while offset < size:
                chunk = stream.read(CHUNK_SIZE)
                end = offset + len(chunk) - 1
                response = self.request(
                    "PATCH", location, push=True, retry=False, expect=(202,), data=chunk,
                    headers={"Content-Type": "application/octet-stream", "Content-Range": f"{offset}-{end}",
                             "Content-Length": str(len(chunk))},
                )
                location = urljoin(self.base, response.headers["Location"])
                offset += len(chunk)
                self.uploaded_bytes += len(chunk)
                if progress:
                    progress(len(chunk))
            self._put_final(location, digest, b"")

    def _put_final(self, location: str, digest: str, body: bytes) -> None:
        separator = "&" if "?" in location else "?"
        self.request("PUT", f"{location}{separator}{urlencode({'digest': digest})}", push=True, retry=False,
                     expect=(201,), data=body,
                     headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(body))})

    def blob_stream(self, digest: str):
        return self.request("GET", urljoin(self.base, f"blobs/{digest}"), stream=True)

    # -- manifests --

    def put_manifest(self, manifest: bytes, tag: str) -> str:
        response = self.request("PUT", urljoin(self.base, f"manifests/{tag}"), push=True, expect=(201,),
                                data=manifest, headers={"Content-Type": OCI_MANIFEST})
        return response.headers.get("Docker-Content-Digest") or _sha256(manifest)

    def get_manifest(self, reference: str) -> tuple[bytes, str]:
        response = self.request("GET", urljoin(self.base, f"manifests/{reference}"), expect=(200, 404),
                                headers={"Accept": f"{OCI_MANIFEST}, {DOCKER_MANIFEST}"})
        if response.status_code == 404:
            raise RegistryError(f"{self.reference} does not exist on {self.reference.registry}.",
                                hint="Check the repository and tag (tags are case-sensitive).")
        return response.content, response.headers.get("Content-Type", "")


# --- publish and pull --------------------------------------------------------------


def check_login(registry: str, connection: Connection) -> bool:
    """Prove CONNECTION's credentials to REGISTRY: its /v2/ endpoint must answer once they
    are presented (Basic), or its token service must grant a token for them (Bearer; no
    repository scope, so only the credentials are judged). False when the registry asks
    for no credentials at all."""
    client = RegistryClient(Reference(registry, "", None, None), connection)
    client.request("GET", urljoin(client.base, "/v2/"))
    return client.authenticated


@dataclass(frozen=True)
class Published:
    reference: Reference
    digest: str
    size: int
    uploaded_bytes: int

    @property
    def pinned(self) -> str:
        return self.reference.with_digest(self.digest)


def artifact_config(layout: ArtifactFormat, module: Path, layer_digest: str) -> bytes:
    if layout is ArtifactFormat.WASM_TO_OCI:
        return b"{}"
    # The module's own time, so republishing an unchanged module changes no blob.
    created = datetime.fromtimestamp(int(module.stat().st_mtime), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    config = {"created": created, "architecture": "wasm", "os": "wasip1", "layerDigests": [layer_digest]}
    component = _component_interfaces(module)
    if component is not None:
        config.update(os="wasip2", component=component)
    return json.dumps(config, separators=(",", ":")).encode()


#: The preamble after `\0asm` that marks a component (version 0x0d, layer 1), not a core module.
_COMPONENT_PREAMBLE = b"\0asm\x0d\x00\x01\x00"


def _component_interfaces(module: Path) -> dict[str, list[str]] | None:
    """A component's imports and exports as wasmtime reads them from the binary (the
    CNCF config's `component`), or None for a core module."""
    with module.open("rb") as file:
        if file.read(len(_COMPONENT_PREAMBLE)) != _COMPONENT_PREAMBLE:
            return None
    import wasmtime
    from wasmtime.component import Component

    from yowasm.wasm import engine

    try:
        world = Component.from_file(engine(), str(module)).type
    except wasmtime.WasmtimeError as error:
        raise UsageError(f"{module} is not a valid WebAssembly component: {error}") from None
    return {"imports": sorted(world.imports(engine())), "exports": sorted(world.exports(engine()))}


def build_manifest(layout: ArtifactFormat, module: Path, layer_digest: str, config: bytes,
                   annotations: Mapping[str, str]) -> bytes:
    media = LAYOUTS[layout]
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": media.config_media_type, "digest": _sha256(config), "size": len(config)},
        "layers": [{
            "mediaType": media.layer_media_type,
            "digest": layer_digest,
            "size": module.stat().st_size,
            "annotations": {TITLE: module.name},
        }],
    }
    if annotations:
        manifest["annotations"] = dict(annotations)
    return json.dumps(manifest, separators=(",", ":")).encode()


def publish(module: Path, reference: Reference, connection: Connection, *,
            layout: ArtifactFormat = ArtifactFormat.WASM_TO_OCI, annotations: Mapping[str, str] | None = None,
            progress: Callable[[int], ProgressCallback] | None = None) -> Published:
    """Push MODULE as an artifact and tag it; blobs first, the manifest last."""
    if not module.is_file():
        raise UsageError(f"No module at {module}.", hint="Build it first: yowasm build")
    if reference.digest or not reference.tag:
        raise InvalidReferenceError(f"Invalid reference {str(reference)!r}: publishing needs a tag, not a digest.",
                                    hint="Example of a valid reference: ghcr.io/octocat/hello:v1.0.0")
    with ThreadPoolExecutor(max_workers=1) as background:
        # Hashing a large module takes about as long as importing the HTTP stack that
        # RegistryClient loads; hashlib releases the GIL, so the two overlap.
        hashing = background.submit(_file_sha256, module)
        client = RegistryClient(reference, connection)
        layer_digest = hashing.result()
    size = module.stat().st_size
    config = artifact_config(layout, module, layer_digest)
    on_progress = progress(size) if progress else None
    client.upload_blob(config, _sha256(config), len(config))
    client.upload_blob(module, layer_digest, size, on_progress)
    manifest = build_manifest(layout, module, layer_digest, config, annotations or {})
    digest = client.put_manifest(manifest, reference.tag)
    return Published(reference, digest, size, client.uploaded_bytes)


@dataclass(frozen=True)
class Pulled:
    reference: Reference
    digest: str
    path: Path
    size: int
    layout: ArtifactFormat


def pull(reference: Reference, output: Path, connection: Connection) -> Pulled:
    """Fetch the module of either layout, check every digest, write OUTPUT atomically."""
    client = RegistryClient(reference, connection)
    manifest_bytes, _ = client.get_manifest(reference.reference)
    manifest_digest = _sha256(manifest_bytes)
    if reference.digest and reference.digest != manifest_digest:
        raise RegistryError(f"The manifest of {reference} has digest {manifest_digest}, not {reference.digest}.")
    try:
        manifest = json.loads(manifest_bytes)
        layers = [layer for layer in manifest["layers"] if layer.get("mediaType") in WASM_LAYER_TYPES]
    except (ValueError, KeyError, TypeError):
        raise RegistryError(f"{reference} does not point at an OCI image manifest.") from None
    if len(layers) != 1:
        found = ", ".join(layer.get("mediaType", "?") for layer in manifest.get("layers", [])) or "no layers"
        raise RegistryError(f"{reference} is not a Wasm module artifact (its layers: {found}).",
                            hint="yowasm pulls the wasm-to-oci and CNCF Wasm OCI Artifact layouts.")
    layer = layers[0]
    layout = next(key for key, value in LAYOUTS.items() if value.layer_media_type == layer["mediaType"])
    output = output.absolute()
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
    except OSError as error:
        raise FileSystemError(f"Cannot write {output}: {error.strerror}.") from None
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(descriptor, "wb") as file, client.blob_stream(layer["digest"]) as response:
            for chunk in response.iter_content(1024 * 1024):
                digest.update(chunk)
                file.write(chunk)
                size += len(chunk)
        if f"sha256:{digest.hexdigest()}" != layer["digest"] or size != layer.get("size", size):
            raise RegistryError(f"The module downloaded from {reference} does not match its digest {layer['digest']}.",
                                hint="Nothing was written; try again, and tell the registry's operator if it repeats.")
        os.chmod(temporary, 0o644)
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return Pulled(reference, manifest_digest, output, size, layout)


# --- helpers -------------------------------------------------------------------------


def _sha256(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(CHUNK_SIZE), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"


def _open(source: Path | bytes) -> BinaryIO:
    return io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")


def _reason(error: Exception) -> str:
    """The innermost reason of a requests error, without URLs' credentials or noise."""
    reason = error
    while reason.__context__ is not None and reason.__context__ is not reason:
        reason = reason.__context__
    text = str(reason) or type(reason).__name__
    return re.sub(r"https?://[^@\s/]*@", "https://", text)[:300]


def parse_annotations(values: list[str]) -> dict[str, str]:
    return dict(parse_pairs(values, "--annotation", "org.opencontainers.image.source=https://github.com/octocat/hello"))

