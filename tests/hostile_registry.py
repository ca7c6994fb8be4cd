"""A hostile registry for the tests: a FAKE, used only for faults the real registry
(Debian's docker-registry, tests/registry.py) cannot be made to produce on demand:
token realms on other hosts or schemes, upload Locations and redirects to other
origins, lying digests, oversized or misshapen replies, cut connections mid-body,
413 to a single PUT. It is a small in-memory registry on http.server (the standard
library's server, in a thread), optionally over TLS, that records every request it
gets (and whether it carried credentials); a test swaps in a `fault` that answers
some requests its own way."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import ssl
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlsplit

USER, PASSWORD = "octocat", "hostile-test-secret"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes

    @property
    def authorization(self) -> str | None:
        return self.headers.get("authorization")


@dataclass
class Answer:
    status: int
    headers: dict = field(default_factory=dict)
    body: bytes = b""
    #: Close the connection after reading this many bytes of the request body (None: answer).
    cut_after: int | None = None
    #: Send the body this slowly: (bytes first, then stall seconds) for signal tests.
    stall: float | None = None


Fault = Callable[["HostileRegistry", Recorded], "Answer | None"]


def blob_digest(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


class HostileRegistry:
    def __init__(self, host: str = "127.0.0.1", *, tls: tuple[Path, Path] | None = None, auth: str | None = None,
                 realm: str | None = None):
        self.requests: list[Recorded] = []
        self.blobs: dict[str, bytes] = {}
        self.uploads: dict[str, bytearray] = {}
        self.manifests: dict[str, bytes] = {}
        self.fault: Fault | None = None
        self.auth, self.realm = auth, realm
        self.lock = threading.Lock()
        registry = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one(self):
                registry._handle(self)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one  # noqa: N815

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # clients hanging up are part of the play
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self.host = f"{host}:{self.server.server_address[1]}"
        self.origin = f"{self.scheme}://{self.host}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> HostileRegistry:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def ref(self, repository: str = "team/hello", tag: str = "v1") -> str:
        return f"{self.host}/{repository}:{tag}"

    def credentialed(self) -> list[Recorded]:
        return [request for request in self.requests if request.authorization]

    # -- content --

    def put_module(self, repository: str, tag: str, module: bytes, *, layer_type: str = "application/vnd.wasm.content.layer.v1+wasm") -> bytes:
        config = b"{}"
        self.blobs[blob_digest(config)] = config
        self.blobs[blob_digest(module)] = module
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.wasm.config.v1+json", "digest": blob_digest(config), "size": 2},
            "layers": [{"mediaType": layer_type, "digest": blob_digest(module), "size": len(module)}],
        }).encode()
        self.manifests[f"{repository}:{tag}"] = manifest
        return manifest

    # -- the server --

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        headers = {key.lower(): value for key, value in handler.headers.items()}
        length = int(headers.get("content-length") or 0)
        recorded = Recorded(handler.command, parts.path, parse_qs(parts.query), headers, b"")
        answer = self.fault(self, recorded) if self.fault else None
        if answer is not None and answer.cut_after is not None:
            handler.rfile.read(min(answer.cut_after, length))
            with self.lock:
                self.requests.append(recorded)
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        recorded.body = handler.rfile.read(length) if length else b""
        with self.lock:
            self.requests.append(recorded)
        if answer is None:
            answer = self._default(recorded)
        self._send(handler, answer)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, answer: Answer) -> None:
        handler.send_response(answer.status)
        headers = dict(answer.headers)
        if "Transfer-Encoding" not in headers:
            headers.setdefault("Content-Length", str(len(answer.body)))
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        if handler.command == "HEAD" or not answer.body:
            return
        if answer.stall is not None:
            import time

            half = len(answer.body) // 20
            handler.wfile.write(answer.body[:half])
            handler.wfile.flush()
            time.sleep(answer.stall)
            return
        handler.wfile.write(answer.body)

    def _authorized(self, request: Recorded) -> bool:
        if self.auth is None:
            return True
        header = request.authorization or ""
        if self.auth == "basic":
            return header == "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        return header == "Bearer good-token"

    def challenge(self) -> Answer:
        if self.auth == "basic":
            return Answer(401, {"WWW-Authenticate": 'Basic realm="hostile"'})
        return Answer(401, {"WWW-Authenticate": f'Bearer realm="{self.realm}",service="hostile",scope="repository:team/hello:pull,push"'})

    def _default(self, request: Recorded) -> Answer:
        if not self._authorized(request):
            return self.challenge()
        path = request.path
        if path == "/v2/":
            return Answer(200, {"Content-Type": "application/json"}, b"{}")
        match = re.fullmatch(r"/v2/(?P<name>.+?)/(?P<kind>blobs/uploads|blobs|manifests|tags)/?(?P<rest>.*)", path)
        if not match:
            return Answer(404)
        name, kind, rest = match.group("name", "kind", "rest")
        if kind == "blobs" and request.method in ("GET", "HEAD"):
            blob = self.blobs.get(rest)
            return Answer(200, {"Docker-Content-Digest": rest}, blob) if blob is not None else Answer(404)
        if kind == "blobs/uploads":
            if request.method == "POST":
                upload = uuid.uuid4().hex
                self.uploads[upload] = bytearray()
                return Answer(202, {"Location": f"/v2/{name}/blobs/uploads/{upload}", "Range": "0-0"})
            data = self.uploads.get(rest)
            if data is None:
                return Answer(404)
            if request.method == "GET":
                return Answer(204, {"Location": f"/v2/{name}/blobs/uploads/{rest}", "Range": f"0-{max(len(data) - 1, 0)}"})
            if request.method == "PATCH":
                start = int(request.headers.get("content-range", "0-0").split("-")[0])
                if start != len(data):
                    return Answer(416)
                data += request.body
                return Answer(202, {"Location": f"/v2/{name}/blobs/uploads/{rest}", "Range": f"0-{len(data) - 1}"})
            if request.method == "PUT":
                data += request.body
                digest = request.query.get("digest", [""])[0]
                if blob_digest(bytes(data)) != digest:
                    return Answer(400, {"Content-Type": "application/json"},
                                  b'{"errors":[{"code":"DIGEST_INVALID","message":"digest mismatch"}]}')
                self.blobs[digest] = bytes(data)
                del self.uploads[rest]
                return Answer(201, {"Docker-Content-Digest": digest, "Location": f"/v2/{name}/blobs/{digest}"})
        if kind == "manifests":
            key = rest if rest.startswith("sha256:") else f"{name}:{rest}"
            if request.method == "PUT":
                self.manifests[key] = request.body
                self.manifests[blob_digest(request.body)] = request.body
                return Answer(201, {"Docker-Content-Digest": blob_digest(request.body)})
            manifest = self.manifests.get(key)
            if manifest is None:
                return Answer(404, {"Content-Type": "application/json"},
                              b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}')
            return Answer(200, {"Content-Type": "application/vnd.oci.image.manifest.v1+json",
                                "Docker-Content-Digest": blob_digest(manifest)}, manifest)
        if kind == "tags":
            tags = [key.split(":", 1)[1] for key in self.manifests if key.startswith(f"{name}:")]
            return Answer(200, {"Content-Type": "application/json"}, json.dumps({"name": name, "tags": tags}).encode())
        return Answer(405)


class TokenService(HostileRegistry):
    """A token service that hands out `good-token` to whoever asks (recording who did)."""

    def _default(self, request: Recorded) -> Answer:
        return Answer(200, {"Content-Type": "application/json"}, b'{"token": "good-token"}')
