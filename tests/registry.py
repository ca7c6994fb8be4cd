"""A real OCI registry for the tests: Debian's `docker-registry` (CNCF distribution)
on 127.0.0.1 and a free port, open, with htpasswd basic auth, with TLS (a self-signed
certificate), or with token auth from a small token issuer written for the tests
(what GHCR, Docker Hub and ACR do)."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, urlparse

from tests.conftest import require_tool, run_yowasm

USERS = {"pusher": "push-secret", "reader": "read-secret"}
#: What each user may do in the token variant: readers only pull.
ALLOWED_ACTIONS = {"pusher": {"pull", "push"}, "reader": {"pull"}}


def yowasm(*args: str, cwd: Path, env: dict | None = None, stdin: str = "") -> subprocess.CompletedProcess:
    """tests.conftest.run_yowasm with STDIN as its input and, given ENV (made by
    `environment`), none of this environment's registry credentials."""
    return run_yowasm(*args, cwd=cwd, env=env, unset=registry_credentials() if env else (), input=stdin)


def registry_credentials() -> list[str]:
    """The names of this environment's registry credential variables (YOWASM_REGISTRY_*)."""
    return [key for key in os.environ if key.startswith("YOWASM_REGISTRY_")]


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This environment without registry credentials, with a Docker config folder and
    a HOME of the test's own (no ~/.netrc, no ~/.docker of the machine)."""
    env = {key: value for key, value in os.environ.items() if key not in registry_credentials()}
    return {**env, "DOCKER_CONFIG": str(tmp_path / "docker-config"), "HOME": str(tmp_path / "home"), **extra}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Registry:
    host: str
    data: Path
    log: Path
    variant: str
    ca_file: Path | None = None
    users: dict[str, str] = field(default_factory=dict)

    def ref(self, repository: str, tag: str = "v1") -> str:
        return f"{self.host}/{repository}:{tag}"

    @property
    def plain_http(self) -> bool:
        return self.variant != "tls"

    def upload_requests(self) -> list[str]:
        """Every blob upload request the registry logged (POST/PATCH/PUT under blobs/uploads)."""
        requests = []
        for line in self.log.read_text(errors="replace").splitlines():
            method = re.search(r"http\.request\.method=(\w+)", line)
            uri = re.search(r'http\.request\.uri="?([^" ]+)', line)
            if "response completed" in line and method and uri and "/blobs/uploads" in uri.group(1):
                requests.append(f"{method.group(1)} {uri.group(1)}")
        return requests

    def skopeo(self, *args: str, creds: tuple[str, str] | None = None) -> subprocess.CompletedProcess:
        skopeo = require_tool("skopeo", "sudo apt-get install skopeo")
        tls = ["--tls-verify=false"]
        if creds:
            tls += ["--creds", f"{creds[0]}:{creds[1]}"]
        command = [skopeo, "--insecure-policy", args[0], *tls, *args[1:]] if args[0] == "inspect" else [skopeo, "--insecure-policy", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)


def self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class TokenIssuer:
    """Issues ES256 JWTs the registry trusts (x5c header with the signing certificate,
    the same certificate being the registry's rootcertbundle), granting each user at
    most ALLOWED_ACTIONS of what it asks for."""

    def __init__(self, folder: Path, service: str, issuer: str):
        from cryptography.hazmat.primitives import serialization

        self.cert_path, key_path = self_signed(folder, "token-signer")
        self.key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        from cryptography import x509

        self.cert_der = x509.load_pem_x509_certificate(self.cert_path.read_bytes()).public_bytes(serialization.Encoding.DER)
        self.service, self.issuer = service, issuer
        issuer_self = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                issuer_self.handle(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        user = None
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            name, _, password = base64.b64decode(header[6:]).decode().partition(":")
            if USERS.get(name) != password:
                request.send_response(401)
                request.end_headers()
                return
            user = name
        query = parse_qs(urlparse(request.path).query)
        access = []
        for scope in query.get("scope", []):
            kind, name, actions = scope.split(":")
            granted = sorted(set(actions.split(",")) & ALLOWED_ACTIONS.get(user, set()))
            access.append({"type": kind, "name": name, "actions": granted})
        body = json.dumps({"token": self.token(user or "", access)}).encode()
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    def token(self, subject: str, access: list) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        now = int(time.time())
        header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(self.cert_der).decode()]}
        claims = {"iss": self.issuer, "sub": subject, "aud": self.service, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": str(time.monotonic_ns()), "access": access}
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        r, s = decode_dss_signature(self.key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def running_registry(folder: Path, variant: str = "open") -> Iterator[Registry]:
    binary = require_tool("docker-registry", "sudo apt-get install docker-registry")
    port = free_port()
    data, log = folder / "data", folder / "registry.log"
    data.mkdir(parents=True)
    http = {"addr": f"127.0.0.1:{port}", "secret": "yowasm-tests"}
    config: dict = {"version": 0.1, "log": {"level": "info", "formatter": "text"},
                    "storage": {"filesystem": {"rootdirectory": str(data)}, "delete": {"enabled": True}},
                    "http": http}
    registry = Registry(f"127.0.0.1:{port}", data, log, variant)
    issuer = None
    if variant == "basic":
        htpasswd = require_tool("htpasswd", "sudo apt-get install apache2-utils")
        lines = [subprocess.run([htpasswd, "-Bbn", user, password], capture_output=True, text=True, check=True).stdout.strip()
                 for user, password in USERS.items()]
        (folder / "htpasswd").write_text("\n".join(lines) + "\n")
        config["auth"] = {"htpasswd": {"realm": "yowasm-tests", "path": str(folder / "htpasswd")}}
        registry.users = dict(USERS)
    elif variant == "tls":
        cert, key = self_signed(folder, "registry")
        http["tls"] = {"certificate": str(cert), "key": str(key)}
        registry.ca_file = cert
    elif variant == "token":
        issuer = TokenIssuer(folder, service="yowasm-test-registry", issuer="yowasm-test-issuer")
        config["auth"] = {"token": {"realm": issuer.realm, "service": issuer.service, "issuer": issuer.issuer,
                                    "rootcertbundle": str(issuer.cert_path)}}
        registry.users = dict(USERS)
    (folder / "config.yml").write_text(json.dumps(config))  # JSON is YAML
    with log.open("wb") as log_file:
        process = subprocess.Popen([binary, "serve", str(folder / "config.yml")], stdout=log_file, stderr=subprocess.STDOUT)
        try:
            _wait_until_listening(port, process, log)
            yield registry
        finally:
            process.terminate()
            process.wait(timeout=10)
            if issuer:
                issuer.close()


def _wait_until_listening(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {log.read_text()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"docker-registry did not listen on {port}: {log.read_text()}")


def http_get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
