"""HTTP to one repository of an OCI registry (the distribution spec).

Credentials travel only to the registry the user named and to its token service, and
only over HTTPS, except to a loopback registry reached over plain HTTP whose token
service is on loopback too. No Authorization header goes to any other origin (upload
Locations, redirects, blob downloads): the transport (yowasm.transport) follows no
redirect and adds no credential of its own; redirects are followed here. Every reply
is read within a bound and checked for its shape; one of the wrong shape is one clear
error naming the registry, the request and what was wrong, and registry text in
messages goes through `literal`.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Mapping
from urllib.parse import urlencode, urljoin, urlsplit

from yowasm import __version__
from yowasm.credentials import Credentials
from yowasm.errors import AuthError, FileSystemError, RegistryError, RegistryUnavailable, UsageError
from yowasm.reference import TAG_RE, Reference, is_loopback
from yowasm.text import literal, shell_command
from yowasm.transport import (ConnectionFailed, InvalidRequest, TimedOut, TLSError, Transport, TransportError,
                              plain_http_answer)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
#: What a registry must accept, and the most yowasm reads of a manifest.
MANIFEST_LIMIT = 4 * 1024 * 1024
#: The most yowasm reads of any other reply (tokens, tag lists, error bodies).
REPLY_LIMIT = 1024 * 1024
#: Chunk size of a chunked upload (used when a registry refuses one streamed PUT).
CHUNK_SIZE = 8 * 1024 * 1024
#: Attempts for a step that is safe to repeat, on connection errors and 5xx answers.
ATTEMPTS = 3
TIMEOUT = 60
REDIRECTS = 5
_READ_BLOCK = 1024 * 1024
_TOKEN_RE = re.compile(r"[\x21-\x7e]{1,16384}")
_RANGE_RE = re.compile(r"(?:bytes=)?0-([0-9]{1,19})")

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class Connection:
    """How to reach a registry: scheme, TLS verification, credentials."""

    plain_http: bool = False
    insecure: bool = False
    ca_file: Path | None = None
    credentials: Credentials | None = field(default=None, repr=False)
    #: The user wrote https://: no plain-HTTP fallback, even on loopback.
    https_only: bool = False

    def check(self, registry: str) -> None:
        if self.plain_http and not is_loopback(registry) and not self.insecure:
            raise UsageError(
                f"Refusing --plain-http to {registry}: plain HTTP would send the module and any "
                "credentials unencrypted to a host that is not this machine.",
                hint="Use --plain-http only for localhost / 127.0.0.1, or add --insecure to allow it "
                "(credentials are never sent over plain HTTP to another host).",
            )
        if self.ca_file is not None and not Path(self.ca_file).is_file():
            raise UsageError(f"Invalid --ca-file {literal(str(self.ca_file))!r}: no such file.",
                             hint="Example of a valid --ca-file: ./registry-ca.pem")

    @property
    def verify(self) -> bool | str:
        if self.insecure:
            return False
        return str(self.ca_file) if self.ca_file else True

    def flags(self) -> list[str]:
        """The command-line flags that reach the registry this way, for hints."""
        flags = ["--plain-http"] if self.plain_http else []
        if self.insecure:
            flags.append("--insecure")
        if self.ca_file:
            flags += ["--ca-file", str(self.ca_file)]
        return flags


@dataclass(frozen=True)
class Reply:
    """A registry's answer, its body read within a bound."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str


def sha256_digest(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    return parts.scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(parts.scheme)


def _loopback_host(hostname: str) -> bool:
    return is_loopback(f"[{hostname}]" if ":" in hostname else hostname)


def _reason(error: BaseException) -> str:
    """Why a request failed, without URLs' credentials or noise."""
    text = error.reason if isinstance(error, TransportError) else (str(error) or type(error).__name__)
    return literal(re.sub(r"(https?://)[^@\s/]*@", r"\1", text)[:300], single_line=True)


def _parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    params = {key.lower(): quoted if quoted or not bare else bare
              for key, quoted, bare in re.findall(r'(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))', rest)}
    return scheme.lower(), params


class _StreamedFile:
    """A file's first SIZE bytes as a streamed request body, counting what is sent."""

    def __init__(self, path: Path, size: int, sent: Callable[[int], None]):
        self._file = path.open("rb")
        self._left = size
        self._sent = sent

    def read(self, _size: int = -1) -> bytes:
        # Larger reads than the HTTP library's 16 KiB blocks: fewer system calls.
        block = self._file.read(min(_READ_BLOCK, self._left)) if self._left else b""
        if self._left and not block:
            raise FileSystemError(f"{literal(self._file.name)} became shorter while it was being uploaded.")
        self._left -= len(block)
        self._sent(len(block))
        return block

    def close(self) -> None:
        self._file.close()


class _ChunksWanted(Exception):
    """The registry refused one streamed PUT for the blob (413): send chunks."""


class RegistryClient:
    """One repository on one registry, with auth challenges and retries handled."""

    def __init__(self, reference: Reference, connection: Connection):
        connection.check(reference.registry)
        self.reference = reference
        self.registry = reference.registry
        self.connection = connection
        self.scheme = "http" if connection.plain_http else "https"
        # As the Docker CLI treats this machine: HTTPS first, then plain HTTP.
        self._may_fall_back = not connection.plain_http and not connection.https_only and is_loopback(self.registry)
        self.transport = Transport(verify=connection.verify, timeout=TIMEOUT, user_agent=f"yowasm/{__version__}")
        self._authorization: str | None = None
        self._tried_tokens: set[tuple[str, str, str]] = set()
        self._chunk_min = 0
        self.uploaded_bytes = 0

    def settle_scheme(self) -> None:
        """Choose between HTTPS and plain HTTP now (a registry on this machine reached
        without either said), so that twins made from now on start with the choice."""
        self._choose_scheme(self.base)

    def twin(self) -> RegistryClient:
        """A client of the same repository on a connection of its own, for an upload
        that goes on beside this client's: it starts with this one's scheme and
        authorization, and counts its own uploaded bytes."""
        twin = RegistryClient(self.reference, self.connection)
        twin.scheme, twin._may_fall_back = self.scheme, False
        twin._authorization, twin._tried_tokens = self._authorization, set(self._tried_tokens)
        return twin

    # -- URLs and messages --

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.reference.api_host}/v2/"

    def url(self, path: str) -> str:
        return f"{self.base}{self.reference.repository}/{path}" if self.reference.repository else self.base + path

    def _home(self) -> tuple[str, str, int | None]:
        return _origin(self.base)

    def _what(self, method: str, url: str) -> str:
        scheme, host, _ = _origin(url)
        path = urlsplit(url).path
        where = path if (scheme, host) == self._home()[:2] else f"{urlsplit(url).netloc}{path}"
        return f"{method} {literal(where, single_line=True)[:200]}"

    def _login_hint(self, action: str = "") -> str:
        command = shell_command("yowasm", "login", self.registry, *self.connection.flags())
        return f"Run `{command}`{action}, or set YOWASM_REGISTRY_USERNAME and YOWASM_REGISTRY_PASSWORD."

    def bad_reply(self, method: str, url: str, problem: str) -> RegistryError:
        return RegistryError(
            f"{self.registry} gave an unusable answer to {self._what(method, url)}: {problem}.",
            hint="yowasm stopped before trusting it. If it repeats, tell the registry's operator.",
        )

    # -- low level --

    def request(self, method: str, url: str, *, expect: tuple[int, ...] = (200,), push: bool = False,
                retry: bool = True, headers: Mapping[str, str] | None = None,
                body: bytes | Callable[[], Any] | None = None, limit: int = REPLY_LIMIT) -> Reply:
        """One request whose answer must be one of EXPECT, its body read up to LIMIT
        bytes; safe requests are retried on connection errors and 5xx answers."""
        response, url = self._attempts(method, url, expect=expect, push=push, retry=retry, headers=headers, body=body)
        with response:
            content = b"" if method == "HEAD" else self._read(response, limit, method, url)
        return Reply(response.status, response.headers, content, url)

    def _choose_scheme(self, url: str) -> str:
        """On the first request to a registry on this machine: HTTPS, unless its port
        answers a TLS hello in plain HTTP (then plain HTTP, as the Docker CLI does)."""
        if not self._may_fall_back or _origin(url) != self._home():
            return url
        self._may_fall_back = False
        try:
            speaks_tls = self.transport.speaks_tls(url)
        except TransportError:
            return url  # unreachable: the request itself says so, with retries
        if speaks_tls:
            return url
        self.scheme = "http"
        return "http://" + url[len("https://"):]

    def _attempts(self, method: str, url: str, *, expect, push, retry, headers, body):
        url = self._choose_scheme(url)
        attempts = ATTEMPTS if retry else 1
        attempt = 0
        while True:
            attempt += 1
            try:
                response, final_url = self._exchange(method, url, push=push, headers=headers, body=body)
            except TLSError as error:
                if plain_http_answer(error):
                    raise RegistryError(
                        f"{self.registry} does not speak HTTPS (it answered in plain HTTP).",
                        hint="Pass --plain-http (for a registry on this machine; other hosts also need --insecure).",
                    ) from None
                raise RegistryError(f"TLS verification of {self.registry} failed: {_reason(error)}",
                                    hint="Pass --ca-file with the registry's CA certificate (or --insecure to skip checks).") from None
            except ConnectionFailed as error:
                if attempt < attempts:
                    time.sleep(0.2 * attempt)
                    continue
                raise RegistryUnavailable(
                    f"Cannot reach the registry {self.registry}: {_reason(error)}",
                    hint="Check the host and port, and that the registry is running"
                    + (" (and speaks plain HTTP)" if self.connection.plain_http else "") + ".",
                ) from None
            except TimedOut:
                if attempt < attempts:
                    continue
                raise RegistryUnavailable(f"The registry {self.registry} did not answer {self._what(method, url)} "
                                          f"in {TIMEOUT} s.") from None
            except InvalidRequest as error:
                raise self.bad_reply(method, url, f"a URL yowasm will not send ({_reason(error)})") from None
            except TransportError as error:
                raise self.bad_reply(method, url, f"an answer that is not HTTP ({_reason(error)})") from None
            if response.status >= 500 and attempt < attempts:
                response.close()
                time.sleep(0.2 * attempt)
                continue
            if response.status not in expect:
                with response:
                    raise self._error(response, method, final_url)
            return response, final_url

    def _send(self, method: str, url: str, *, headers, body):
        headers = dict(headers or {})
        if self._authorization and _origin(url) == self._home():
            headers["Authorization"] = self._authorization
        data = body() if callable(body) else body
        try:
            return self.transport.request(method, url, headers=headers, body=data)
        finally:
            if hasattr(data, "close"):
                data.close()

    def _exchange(self, method: str, url: str, *, push: bool, headers, body):
        """Send, answering auth challenges of the registry itself and following
        redirects of GET and HEAD by hand (credentials stay on the registry's origin)."""
        for _hop in range(REDIRECTS + 1):
            for round_ in range(3):
                response = self._send(method, url, headers=headers, body=body)
                if response.status != 401 or _origin(url) != self._home() or round_ == 2:
                    break
                try:
                    answered = self._authenticate(response.headers.get("WWW-Authenticate", ""), push=push,
                                                  method=method, url=url)
                except BaseException:
                    response.close()
                    raise
                if not answered:
                    break  # this 401 is the answer
                self._drain(response)
            if response.status in (301, 302, 303, 307, 308) and method in ("GET", "HEAD"):
                target = self._location(response.status, response.headers, method, url)
                self._drain(response)
                url = target
                continue
            return response, url
        raise self.bad_reply(method, url, f"more than {REDIRECTS} redirects")

    @staticmethod
    def _drain(response) -> None:
        try:
            response.read(REPLY_LIMIT)
        except TransportError:  # only read to reuse the connection; it is closed anyway
            pass
        response.close()

    def _read(self, response, limit: int, method: str, url: str) -> bytes:
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > limit:
            raise self.bad_reply(method, url, f"a body of {int(length):,} bytes, over the {limit:,} bytes yowasm reads")
        chunks, total = [], 0
        try:
            while chunk := response.read1(min(_READ_BLOCK, limit + 1 - total)):
                total += len(chunk)
                if total > limit:
                    raise self.bad_reply(method, url, f"a body over the {limit:,} bytes yowasm reads")
                chunks.append(chunk)
        except TransportError as error:
            raise RegistryUnavailable(f"The connection to {self.registry} broke while reading the answer to "
                                      f"{self._what(method, url)}: {_reason(error)}") from None
        return b"".join(chunks)

    def _location(self, status: int, headers: Mapping[str, str], method: str, url: str) -> str:
        """The Location of a reply, absolute, checked: http(s), a host, no user info,
        no step down from HTTPS to plain HTTP."""
        location = headers.get("Location")
        if not location:
            raise self.bad_reply(method, url, f"HTTP {status} without a Location header")
        target = urljoin(url, location)
        parts = urlsplit(target)
        scheme, host, port = _origin(target)
        if scheme not in ("http", "https") or not host or port == -1 or parts.username or parts.password:
            raise self.bad_reply(method, url, f"a Location that is not an http(s) URL: {literal(location, single_line=True)[:200]!r}")
        if self.scheme == "https" and scheme == "http":
            raise self.bad_reply(method, url, f"a Location that steps down to plain HTTP: {literal(location, single_line=True)[:200]!r}")
        return target

    # -- authentication --

    def _authenticate(self, challenge: str, *, push: bool, method: str, url: str) -> bool:
        """Answer a challenge of the registry; False when there is nothing new to try."""
        scheme, params = _parse_challenge(challenge)
        credentials = self.connection.credentials
        if scheme == "basic":
            if credentials is None:
                raise AuthError(f"{self.registry} needs a user name and password.", hint=self._login_hint())
            if self._authorization and self._authorization.startswith("Basic"):
                return False
            self._may_send_credentials()
            import base64

            token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
            self._authorization = f"Basic {token}"
            return True
        if scheme != "bearer" or not params.get("realm"):
            shown = literal(scheme or "none", single_line=True)[:40]
            raise AuthError(f"{self.registry} asks for an unsupported authentication ({shown}) to {self._what(method, url)}.")
        realm = params["realm"]
        self._check_realm(realm, method, url)
        actions = "pull,push" if push else "pull"
        scope = params.get("scope") or (f"repository:{self.reference.repository}:{actions}"
                                        if self.reference.repository else "")
        key = (realm, params.get("service", ""), scope)
        if key in self._tried_tokens:
            return False
        self._tried_tokens.add(key)
        self._authorization = f"Bearer {self._fetch_token(realm, params.get('service', ''), scope, actions)}"
        return True

    def _may_send_credentials(self) -> None:
        if self.scheme == "http" and not is_loopback(self.registry):
            raise AuthError(f"Refusing to send credentials for {self.registry} over plain HTTP: it is not this machine.",
                            hint="Reach it over HTTPS (drop --plain-http; --ca-file for a private CA).")

    def _check_realm(self, realm: str, method: str, url: str) -> None:
        """Refuse a token service that would get the credentials over plain HTTP or,
        for a plain-HTTP registry on this machine, off this machine."""
        shown = literal(realm, single_line=True)[:200]
        parts = urlsplit(realm)
        scheme, host, port = _origin(realm)
        if scheme not in ("http", "https") or not host or port == -1 or parts.username or parts.password:
            raise self.bad_reply(method, url, f"a token service (realm) that is not an http(s) URL: {shown!r}")
        if self.scheme == "https" and scheme != "https":
            raise AuthError(f"Refusing the token service {shown} of {self.registry}: it would take the credentials "
                            "over plain HTTP from a registry reached over HTTPS.",
                            hint="Nothing was sent. Its operator must serve the token service over HTTPS.")
        if self.scheme == "http" and not (is_loopback(self.registry) and _loopback_host(host)):
            raise AuthError(f"Refusing the token service {shown} of {self.registry}: a registry reached over plain "
                            "HTTP may only use a token service on this machine.",
                            hint="Nothing was sent. Reach the registry over HTTPS instead.")

    def _fetch_token(self, realm: str, service: str, scope: str, actions: str) -> str:
        credentials = self.connection.credentials
        query = {key: value for key, value in (("service", service), ("scope", scope)) if value}
        url = realm + ("&" if "?" in realm else "?") + urlencode(query) if query else realm
        what = f"the token service of {self.registry} ({self._what('GET', url)})"
        headers = {}
        if credentials:
            import base64

            pair = f"{credentials.username}:{credentials.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        try:
            response = self.transport.request("GET", url, headers=headers)
        except TransportError as error:
            raise AuthError(f"Cannot reach {what}: {_reason(error)}") from None
        with response:
            body = self._read(response, REPLY_LIMIT, "GET", url)
        who = f" of {credentials.username!r}" if credentials else " (none were found)"
        if response.status in (401, 403):
            raise AuthError(f"{self.registry} refused the credentials{who}.",
                            hint=self._login_hint(f" with a user allowed to {actions}"))
        if response.status != 200:
            raise AuthError(f"{what[0].upper()}{what[1:]} answered HTTP {response.status}"
                            + (" (a redirect, which yowasm does not follow with credentials)"
                               if 300 <= response.status < 400 else "") + ".")
        try:
            reply = json.loads(body)
        except (ValueError, RecursionError):
            reply = None
        token = (reply.get("token") or reply.get("access_token")) if isinstance(reply, dict) else None
        if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
            problem = ("not a JSON object" if not isinstance(reply, dict) else
                       "no token string" if not isinstance(token, str) or not token else
                       "a token that is not a string of printable characters")
            raise AuthError(f"{what[0].upper()}{what[1:]} answered with {problem}.",
                            hint="Nothing was pushed or pulled. If it repeats, tell the registry's operator.")
        return token

    @property
    def authenticated(self) -> bool:
        """Whether the registry asked for credentials (and took them)."""
        return self._authorization is not None

    def _error(self, response, method: str, url: str) -> RegistryError:
        try:
            body = self._read(response, 64 * 1024, method, url)
        except RegistryError:
            body = b""
        detail = error_detail(body)
        what = self._what(method, url)
        credentials = self.connection.credentials
        if response.status == 401 and (self._authorization or "").startswith("Basic") and credentials:
            return AuthError(f"{self.registry} refused the user name and password of {credentials.username!r}.",
                             hint=self._login_hint(" with the right ones"))
        if response.status in (401, 403):
            who = f"{credentials.username!r}" if credentials else "anonymous users"
            return AuthError(
                f"{self.registry} denied {what} to {who}: {detail or f'HTTP {response.status}'}.",
                hint=("The credentials may lack permission; " if credentials else "") + self._login_hint(" as a user who has it"),
            )
        error_type = RegistryUnavailable if response.status >= 500 else RegistryError
        return error_type(f"{self.registry} refused {what}: HTTP {response.status}"
                          + (f" ({detail})" if detail else "") + ".")

    # -- operations --

    def ping(self) -> bool:
        """GET /v2/; whether the registry asked for credentials (and took them)."""
        self.request("GET", self.base)
        return self.authenticated

    def has_blob(self, digest: str, *, push: bool = False) -> bool:
        return self.request("HEAD", self.url(f"blobs/{digest}"), push=push, expect=(200, 404)).status == 200

    def tagged_digest(self, tag: str, *, push: bool = False) -> str | None:
        """The digest of the manifest TAG points at, or None when there is none."""
        reply = self.request("HEAD", self.url(f"manifests/{tag}"), push=push, expect=(200, 404),
                             headers={"Accept": f"{OCI_MANIFEST}, {DOCKER_MANIFEST}"})
        return reply.headers.get("Docker-Content-Digest") if reply.status == 200 else None

    def tags(self) -> list[str]:
        url = self.url("tags/list")
        reply = self.request("GET", url)
        try:
            listing = json.loads(reply.body)
        except (ValueError, RecursionError):
            raise self.bad_reply("GET", url, "a tag list that is not JSON") from None
        tags = listing.get("tags") if isinstance(listing, dict) else None
        if not isinstance(listing, dict) or not isinstance(tags, (list, type(None))) or \
                not all(isinstance(tag, str) for tag in tags or []):
            raise self.bad_reply("GET", url, 'a tag list that is not {"tags": ["...", ...]}')
        return list(tags or [])

    def get_manifest(self, reference: str) -> bytes:
        url = self.url(f"manifests/{reference}")
        reply = self.request("GET", url, expect=(200, 404), limit=MANIFEST_LIMIT,
                             headers={"Accept": f"{OCI_MANIFEST}, {DOCKER_MANIFEST}"})
        if reply.status == 404:
            raise self._missing(reference)
        claimed = reply.headers.get("Docker-Content-Digest")
        if claimed and claimed.startswith("sha256:") and claimed != sha256_digest(reply.body):
            raise self.bad_reply("GET", url, f"a manifest whose digest is not the {literal(claimed)[:80]} it claims")
        return reply.body

    def _missing(self, reference: str) -> RegistryError:
        where = f"{self.registry}/{self.reference.repository}"
        if reference.startswith("sha256:"):
            return RegistryError(f"{where} has no manifest {reference}.", hint="Check the digest.")
        try:
            tags = self.tags()
        except RegistryError:
            tags = None
        if tags:
            shown = [literal(tag, single_line=True) for tag in tags[:20]]
            listed = ", ".join(shown) + (f" and {len(tags) - 20} more" if len(tags) > 20 else "")
            example = next((tag for tag in tags if TAG_RE.fullmatch(tag)), None)
            return RegistryError(f"{where} has no tag {reference!r}; its tags: {listed}.",
                                 hint=f"Tags are case-sensitive. Example: yowasm pull {where}:{example}" if example else None)
        return RegistryError(f"{where} has no tag {reference!r}" + (" and no tags at all (the repository may not exist)."
                                                                     if tags == [] or tags is None else "."),
                             hint="Check the repository name; yowasm publish makes it.")

    def put_manifest(self, manifest: bytes, tag: str) -> str:
        url = self.url(f"manifests/{tag}")
        reply = self.request("PUT", url, push=True, expect=(201,), body=manifest,
                             headers={"Content-Type": OCI_MANIFEST})
        ours = sha256_digest(manifest)
        claimed = reply.headers.get("Docker-Content-Digest")
        if claimed and claimed != ours:
            raise self.bad_reply("PUT", url, f"a stored manifest digest {literal(claimed, single_line=True)[:80]} "
                                 f"that is not the {ours} pushed (the tag may now point at something else)")
        return ours

    # -- blob upload --

    def upload_blob(self, source: Path | bytes, digest: str, size: int, progress: ProgressCallback | None = None) -> None:
        """Push a blob unless the repository has it (send_blob)."""
        if self.has_blob(digest, push=True):
            if progress:
                progress(size)
            return
        self.send_blob(source, digest, size, progress)

    def send_blob(self, source: Path | bytes, digest: str, size: int, progress: ProgressCallback | None = None) -> None:
        """Push a blob the repository does not have: one streamed PUT, or, when the
        registry refuses that (413) or it fails, resumable chunks."""
        chunked = False
        for attempt in range(1, ATTEMPTS + 1):
            try:
                if chunked:
                    return self._upload_chunked(source, digest, size, progress)
                return self._upload_streamed(source, digest, size, progress)
            except _ChunksWanted:
                chunked = True
            except RegistryUnavailable:
                if attempt == ATTEMPTS:
                    raise
                chunked = True
                time.sleep(0.2 * attempt)
        raise RegistryError(f"{self.registry} kept refusing the upload of {digest}.")

    def _start_upload(self) -> str:
        url = self.url("blobs/uploads/")
        reply = self.request("POST", url, push=True, expect=(202,))
        minimum = reply.headers.get("OCI-Chunk-Min-Length", "")
        if minimum.isascii() and minimum.isdigit() and int(minimum) <= 64 * 1024 * 1024:  # "²" passes isdigit
            self._chunk_min = int(minimum)
        return self._reply_location(reply, "POST", url)

    def _reply_location(self, reply: Reply, method: str, url: str) -> str:
        return self._location(reply.status, reply.headers, method, url)

    def _count(self, progress: ProgressCallback | None) -> Callable[[int], None]:
        def sent(count: int) -> None:
            self.uploaded_bytes += count
            if progress:
                progress(count)

        return sent

    def _upload_streamed(self, source: Path | bytes, digest: str, size: int, progress) -> None:
        location = self._start_upload()
        target = _with_digest(location, digest)
        if isinstance(source, bytes):
            body: bytes | Callable[[], Any] = source
            self._count(progress)(len(source))
        else:
            path, sent = source, self._count(progress)
            body = lambda: _StreamedFile(path, size, sent)  # noqa: E731 - opened afresh if it must be resent
        reply = self.request("PUT", target, push=True, retry=False, expect=(201, 413), body=body,
                             headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)})
        if reply.status == 413:
            raise _ChunksWanted()
        self._check_blob_digest(reply, "PUT", target, digest)

    def _upload_chunked(self, source: Path | bytes, digest: str, size: int, progress) -> None:
        location = self._start_upload()
        chunk_size = max(CHUNK_SIZE, self._chunk_min)
        sent = self._count(progress)
        offset, resumes = 0, 0
        with (io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")) as stream:
            while offset < size:
                stream.seek(offset)
                chunk = stream.read(min(chunk_size, size - offset))
                if not chunk:
                    raise FileSystemError(f"{literal(str(source))} became shorter while it was being uploaded.")
                end = offset + len(chunk) - 1
                try:
                    reply = self.request("PATCH", location, push=True, retry=False, expect=(202,), body=chunk,
                                         headers={"Content-Type": "application/octet-stream",
                                                  "Content-Range": f"{offset}-{end}", "Content-Length": str(len(chunk))})
                except RegistryUnavailable as cut:
                    resumes += 1
                    if resumes > ATTEMPTS:
                        raise
                    time.sleep(0.2 * resumes)
                    try:
                        location, offset = self._upload_status(location, size)
                    except RegistryError:
                        raise cut from None  # the session cannot resume: upload_blob starts a new one
                    continue
                sent(len(chunk))
                confirmed = self._confirmed(reply, "PATCH", location)
                if confirmed is not None and confirmed != end + 1:
                    raise self.bad_reply("PATCH", location, f"a Range confirming {confirmed:,} bytes after {end + 1:,} were sent")
                location = self._reply_location(reply, "PATCH", location)
                offset = end + 1
        target = _with_digest(location, digest)
        reply = self.request("PUT", target, push=True, retry=False, expect=(201,), body=b"",
                             headers={"Content-Type": "application/octet-stream", "Content-Length": "0"})
        self._check_blob_digest(reply, "PUT", target, digest)

    def _upload_status(self, location: str, size: int) -> tuple[str, int]:
        """Where an interrupted upload stands: (its Location, the bytes the registry has)."""
        reply = self.request("GET", location, push=True, expect=(204,))
        offset = self._confirmed(reply, "GET", location) or 0
        if offset > size:
            raise self.bad_reply("GET", location, f"a Range of {offset:,} bytes for a blob of {size:,}")
        return self._reply_location(reply, "GET", location), offset

    def _confirmed(self, reply: Reply, method: str, url: str) -> int | None:
        """The bytes a Range header says the registry holds (`0-0` is none)."""
        value = reply.headers.get("Range")
        if value is None:
            return None
        match = _RANGE_RE.fullmatch(value.strip())
        if not match:
            raise self.bad_reply(method, url, f"a Range header that is not 0-END: {literal(value, single_line=True)[:80]!r}")
        end = int(match.group(1))
        return end + 1 if end else 0

    def _check_blob_digest(self, reply: Reply, method: str, url: str, digest: str) -> None:
        claimed = reply.headers.get("Docker-Content-Digest")
        if claimed and claimed != digest:
            raise self.bad_reply(method, url, f"a stored blob digest {literal(claimed, single_line=True)[:80]} "
                                 f"that is not the {digest} pushed")

    # -- blob download --

    def download_blob(self, digest: str, size: int, sink: BinaryIO, progress: ProgressCallback | None = None) -> None:
        """Write the blob into SINK, reading no more than SIZE bytes; it must hash to DIGEST."""
        url = self.url(f"blobs/{digest}")
        response, url = self._attempts("GET", url, expect=(200,), push=False, retry=True, headers=None, body=None)
        with response:
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) != size:
                raise self.bad_reply("GET", url, f"{int(length):,} bytes where the manifest declares {size:,}")
            hasher, total = hashlib.sha256(), 0
            try:
                # read1: what has arrived, so that progress and writes keep up with the network.
                while chunk := response.read1(min(_READ_BLOCK, size + 1 - total)):
                    total += len(chunk)
                    if total > size:
                        raise self.bad_reply("GET", url, f"more than the {size:,} bytes the manifest declares")
                    hasher.update(chunk)
                    sink.write(chunk)
                    if progress:
                        progress(len(chunk))
            except TransportError as error:
                raise RegistryUnavailable(f"The download of {digest} from {self.registry} broke off: {_reason(error)}",
                                          hint="Nothing was written; try again.") from None
        if total != size:
            raise self.bad_reply("GET", url, f"{total:,} bytes where the manifest declares {size:,}")
        if f"sha256:{hasher.hexdigest()}" != digest:
            raise RegistryError(f"The blob downloaded from {self.registry} does not match its digest {digest}.",
                                hint="Nothing was written; try again, and tell the registry's operator if it repeats.")


def _with_digest(location: str, digest: str) -> str:
    return f"{location}{'&' if '?' in location else '?'}{urlencode({'digest': digest})}"


def error_detail(body: bytes) -> str:
    """The codes and messages of a registry's error body, made literal; '' when it has none."""
    try:
        reply = json.loads(body)
    except (ValueError, RecursionError):
        return ""
    errors = reply.get("errors") if isinstance(reply, dict) else None
    if not isinstance(errors, list):
        return ""
    parts = []
    for entry in errors[:5]:
        if isinstance(entry, dict):
            code, message = entry.get("code"), entry.get("message")
            code = code if isinstance(code, str) else "ERROR"
            parts.append(f"{code}: {message}" if isinstance(message, str) and message else code)
    return literal("; ".join(parts), single_line=True)[:300]


def check_login(registry: str, connection: Connection) -> bool:
    """Prove CONNECTION's credentials to REGISTRY: its /v2/ endpoint must answer once they
    are presented (Basic), or its token service must grant a token for them (Bearer; no
    repository scope, so only the credentials are judged). False when the registry asks
    for no credentials at all."""
    return RegistryClient(Reference(registry, "", None, None), connection).ping()
