"""yowasm's HTTP/1.1 (yowasm/transport.py: h11 and yowasm's sockets) against replies no
real registry sends: a FAKE on a bare socket that answers each request with bytes a
test scripts, for framing faults http.server cannot be made to produce (junk status
lines, heads over 64 KiB, broken chunks, bodies cut short). Each must be one clear error, and
HTTP's legal shapes (chunks with trailers, a body that ends when the server closes,
interim 100 answers, folded headers) must be read whole. Also: proxies from the
environment (a plain-HTTP publish through an HTTP proxy, a TLS one tunnelled with
CONNECT to the real registry), and a URL that would split the request is never sent."""

from __future__ import annotations

import hashlib
import json
import socket
import socketserver
import threading
from pathlib import Path
from typing import Callable

import pytest

from tests.hostile_registry import Answer, HostileRegistry
from tests.registry import environment, running_registry, yowasm
from yowasm.errors import RegistryError
from yowasm.reference import Reference
from yowasm.registry_client import Connection
from yowasm.transfer import publish, pull

MODULE = b"\0asm\x01\0\0\0" + bytes(range(256)) * 4
CONFIG = b"{}"


def digest(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


MANIFEST = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.wasm.config.v1+json", "digest": digest(CONFIG), "size": 2},
    "layers": [{"mediaType": "application/vnd.wasm.content.layer.v1+wasm", "digest": digest(MODULE),
                "size": len(MODULE)}],
}).encode()


class LoopbackServer:
    """A loopback server (socketserver's threads) handing each connection's socket to HANDLE."""

    def __init__(self, handle: Callable[[socket.socket], None]):
        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                handle(self.request)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ScriptedServer(LoopbackServer):
    """Answers each request (its head and Content-Length body read) with the bytes
    SCRIPT returns for its request line, then closes the connection if told to."""

    def __init__(self, script: Callable[[str], tuple[bytes, bool]]):
        self.script = script
        self.lines: list[str] = []
        self.connections = 0
        super().__init__(self._connection)

    def _connection(self, sock: socket.socket) -> None:
        self.connections += 1
        with sock.makefile("rb") as reader:
            while line := reader.readline():
                request = line.decode("latin-1").strip()
                length = 0
                while (header := reader.readline()) not in (b"\r\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                reader.read(length)
                self.lines.append(request)
                reply, close = self.script(request)
                sock.sendall(reply)
                if close:
                    return


def serving_manifest(reply: bytes, *, close: bool = True) -> Callable[[str], tuple[bytes, bool]]:
    """A script answering the manifest GET with REPLY, and blobs as a registry would."""

    def script(request: str) -> tuple[bytes, bool]:
        if "/manifests/" in request:
            return reply, close
        blob = MODULE if digest(MODULE) in request else CONFIG
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(blob), blob), False

    return script


def pulled(tmp_path: Path, script) -> bytes:
    return pulled_from(ScriptedServer(script), tmp_path)


def pulled_from(server: ScriptedServer, tmp_path: Path) -> bytes:
    try:
        pull(Reference.parse(f"{server.host}/team/hello:v1"), tmp_path / "out.wasm", Connection(plain_http=True))
    finally:
        server.close()
    return (tmp_path / "out.wasm").read_bytes()


def ok(headers: bytes, body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\n" + headers + b"\r\n" + body


@pytest.mark.parametrize("reply", [
    ok(b"Content-Length: %d\r\n" % len(MANIFEST), MANIFEST),
    ok(b"Transfer-Encoding: chunked\r\n",
       b"%x;ext=1\r\n%s\r\n%x\r\n%s\r\n0\r\nX-Trailer: 1\r\n\r\n" % (10, MANIFEST[:10], len(MANIFEST) - 10, MANIFEST[10:])),
    b"HTTP/1.0 200 OK\r\n\r\n" + MANIFEST,  # the body ends when the server closes
    b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"Content-Length: %d\r\n" % len(MANIFEST), MANIFEST),
    ok(b"X-Folded: a\r\n b\r\nContent-Length: %d\r\n" % len(MANIFEST), MANIFEST),
], ids=["content-length", "chunked-with-trailer", "until-close", "after-100-continue", "folded-header"])
def test_every_legal_framing_of_a_reply_is_read_whole(tmp_path, reply):
    assert pulled(tmp_path, serving_manifest(reply)) == MODULE


NOT_HTTP, BROKEN = "an answer that is not HTTP", "broke while reading the answer"


@pytest.mark.parametrize("reply, problem", [
    (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", NOT_HTTP),
    (b"HTTP/1.1 2000 OK\r\n\r\n", NOT_HTTP),
    (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", NOT_HTTP),
    (b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 200_000 + b"\r\n\r\n", NOT_HTTP),  # a head over 64 KiB
    (b"HTTP/1.1 200 " + b"O" * 200_000 + b"\r\n\r\n", NOT_HTTP),
    (b"HTTP/1.1 200 OK\r\n" + b"X-A: 1\r\n" * 30_000 + b"\r\n", NOT_HTTP),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n", NOT_HTTP),
    (b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\n", NOT_HTTP),  # a superscript 2
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", NOT_HTTP),
    (b"HTTP/1.1 100 Continue\r\n\r\n" * 11, "interim"),
    (ok(b"Transfer-Encoding: chunked\r\n", b"zz\r\nabc\r\n0\r\n\r\n"), BROKEN),
    (ok(b"Transfer-Encoding: chunked\r\n", b"3\r\n{}}XX0\r\n\r\n"), BROKEN),
    (ok(b"Transfer-Encoding: chunked\r\n", b"%x\r\n%s\r\n0\r\n" % (len(MANIFEST), MANIFEST) + b"X: 1\r\n" * 30_000),
     BROKEN),
    (ok(b"Content-Length: %d\r\n" % (len(MANIFEST) + 10), MANIFEST), BROKEN),
    (b"", "closed without an answer"),
    (b"HTTP/1.1 200 OK\r\nContent-Le", NOT_HTTP),
], ids=["not-http", "status-code", "no-colon", "long-header", "long-status", "many-headers", "bad-length",
        "superscript-length", "gzip", "endless-100", "chunk-size", "chunk-end", "endless-trailers", "cut-body",
        "no-answer", "cut-head"])
def test_a_reply_that_breaks_http_framing_is_one_clear_error(tmp_path, reply, problem):
    with pytest.raises(RegistryError) as raised:
        pulled(tmp_path, serving_manifest(reply))
    assert problem in raised.value.message, raised.value.message
    assert not (tmp_path / "out.wasm").exists()


def test_a_framing_error_is_a_clean_cli_failure(tmp_path):
    server = ScriptedServer(serving_manifest(b"HTTP/1.1 200 OK\r\n" + b"X-A: 1\r\n" * 30_000 + b"\r\n"))
    try:
        result = yowasm("pull", f"{server.host}/team/hello:v1", "--plain-http", cwd=tmp_path, env=environment(tmp_path))
    finally:
        server.close()
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert NOT_HTTP in result.stderr and server.host in result.stderr, result.stderr


def test_a_kept_alive_connection_is_reused_and_a_closed_one_replaced(tmp_path):
    """A pull's two requests (manifest, then blob) go on one connection when the server
    keeps it open, on a fresh one when it says it closes it."""
    length = b"Content-Length: %d\r\n" % len(MANIFEST)
    kept = ScriptedServer(serving_manifest(ok(length, MANIFEST), close=False))
    assert pulled_from(kept, tmp_path) == MODULE and kept.connections == 1
    closed = ScriptedServer(serving_manifest(ok(length + b"Connection: close\r\n", MANIFEST), close=True))
    assert pulled_from(closed, tmp_path) == MODULE and closed.connections == 2


def test_an_upload_location_that_would_split_the_request_is_never_sent(tmp_path):
    module = tmp_path / "hello.wasm"
    module.write_bytes(MODULE)
    with HostileRegistry() as registry:
        registry.fault = lambda reg, request: (
            Answer(202, {"Location": "/v2/team/hello/blobs/uploads/x HTTP/1.1\tHost: elsewhere"})
            if request.method == "POST" else None)
        with pytest.raises(RegistryError) as raised:
            publish(module, Reference.parse(registry.ref()), Connection(plain_http=True))
        assert "a URL yowasm will not send" in raised.value.message, raised.value.message
        assert not any(request.method == "PUT" for request in registry.requests)


def test_a_chunk_minimum_in_other_digits_is_ignored(tmp_path):
    module = tmp_path / "hello.wasm"
    module.write_bytes(MODULE)
    with HostileRegistry() as registry:
        def answer(reg, request):
            if request.method != "POST":
                return None
            reply = reg._default(request)
            reply.headers["OCI-Chunk-Min-Length"] = "\u00b2"  # a superscript 2: str.isdigit, yet no int
            return reply

        registry.fault = answer
        published = publish(module, Reference.parse(registry.ref()), Connection(plain_http=True))
        assert published.uploaded_bytes == len(MODULE) + len(CONFIG) and registry.blobs[digest(MODULE)] == MODULE


def test_an_http_proxy_from_the_environment_carries_a_plain_http_publish(tmp_path):
    module = tmp_path / "hello.wasm"
    module.write_bytes(MODULE)
    with HostileRegistry() as proxy:  # it takes absolute-form targets, as a proxy does
        unreachable = "127.0.0.1:9"  # the discard port: nothing listens there
        result = yowasm("publish", str(module), f"{unreachable}/team/hello:v1", "--plain-http", cwd=tmp_path,
                        env=environment(tmp_path, http_proxy=f"http://{proxy.host}", no_proxy=""))
        assert result.returncode == 0, result.stderr
        assert "team/hello:v1" in proxy.manifests and proxy.blobs[digest(MODULE)] == MODULE


class ConnectProxy(LoopbackServer):
    """An HTTP proxy that only tunnels (CONNECT), recording the authorities asked for."""

    def __init__(self):
        self.tunnels: list[str] = []
        super().__init__(self._tunnel)
        self.address = self.host

    def _tunnel(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            head += client.recv(4096)
        method, authority, _ = head.split(b"\r\n")[0].decode().split(" ")
        self.tunnels.append(f"{method} {authority}")
        host, port = authority.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")

        def pipe(source: socket.socket, sink: socket.socket) -> None:
            with source, sink:
                while data := source.recv(65536):
                    sink.sendall(data)

        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)


@pytest.mark.registry
def test_an_https_proxy_from_the_environment_tunnels_to_a_tls_registry(tmp_path):
    module = tmp_path / "hello.wasm"
    module.write_bytes(MODULE)
    proxy = ConnectProxy()
    try:
        with running_registry(tmp_path / "registry", "tls") as registry:
            env = environment(tmp_path, https_proxy=f"http://{proxy.address}", no_proxy="")
            result = yowasm("publish", str(module), registry.ref("team/hello"), "--ca-file", str(registry.ca_file),
                            cwd=tmp_path, env=env)
            assert result.returncode == 0, result.stderr
            assert proxy.tunnels and set(proxy.tunnels) == {f"CONNECT {registry.host}"}
            copied = registry.skopeo("inspect", "--raw", f"docker://{registry.ref('team/hello')}")
            assert digest(MODULE) in copied.stdout, copied.stderr
    finally:
        proxy.close()
