"""The registry client against a hostile registry (tests/hostile_registry.py, a fake
used only for faults a real registry cannot produce on demand): where credentials go,
what is trusted, what is read, what is left behind. Cases a user meets run the CLI
as a subprocess; shapes are also explored with hypothesis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import yowasm_process
from tests.hostile_registry import PASSWORD, USER, Answer, HostileRegistry, TokenService, blob_digest
from tests.registry import environment, registry_credentials, self_signed, yowasm
from yowasm.credentials import Credentials
from yowasm.errors import RegistryError, YowasmError
from yowasm.reference import Reference
from yowasm.registry_client import MANIFEST_LIMIT, Connection
from yowasm.transfer import publish, pull

MODULE = b"\0asm\x01\0\0\0" + bytes(range(256)) * 16
#: An address of this machine that is not loopback (the test network's).
NON_LOOPBACK = "192.0.2.2"


def with_credentials(tmp_path: Path) -> dict[str, str]:
    return environment(tmp_path, YOWASM_REGISTRY_USERNAME=USER, YOWASM_REGISTRY_PASSWORD=PASSWORD)


def wasm_file(tmp_path: Path, data: bytes = MODULE) -> Path:
    path = tmp_path / "hello.wasm"
    path.write_bytes(data)
    return path


def clean_failure(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr and "\x1b" not in result.stderr, result.stderr
    assert PASSWORD not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.startswith(".") or path.suffix == ".part")


def connection(**kwargs) -> Connection:
    return Connection(credentials=Credentials(USER, PASSWORD), **kwargs)


@pytest.fixture
def registry():
    with HostileRegistry(auth="basic") as running:
        yield running


@pytest.fixture
def other_origin():
    """Another server, a different origin (port) on this machine."""
    with HostileRegistry() as running:
        yield running


# --- where credentials go ------------------------------------------------------------


def test_credentials_go_to_the_registry_and_nowhere_else(registry, other_origin, tmp_path):
    """An upload Location and a blob download redirect on another origin get no
    Authorization; the registry itself does."""

    def elsewhere(reg, request):
        if request.method == "POST" and request.path.endswith("/blobs/uploads/"):
            session = f"away-{uuid.uuid4().hex}"  # one per upload: the config and the module go up side by side
            other_origin.uploads[session] = bytearray()
            return Answer(202, {"Location": f"{other_origin.origin}/v2/team/hello/blobs/uploads/{session}"})
        if request.method == "GET" and "/blobs/sha256:" in request.path and reg._authorized(request):
            return Answer(307, {"Location": f"{other_origin.origin}/v2/team/hello{request.path.split('/team/hello')[1]}"})
        return None

    registry.fault = elsewhere
    pushed = yowasm("publish", str(wasm_file(tmp_path)), registry.ref(), cwd=tmp_path, env=with_credentials(tmp_path))
    assert pushed.returncode == 0, pushed.stderr
    assert other_origin.blobs[blob_digest(MODULE)] == MODULE
    assert registry.credentialed(), "the registry itself gets the credentials"
    assert other_origin.requests and not other_origin.credentialed()
    assert PASSWORD not in pushed.stdout + pushed.stderr

    other_origin.blobs.update(registry.blobs)
    other_origin.blobs[blob_digest(MODULE)] = MODULE
    registry.put_module("team/hello", "v2", MODULE)
    pulled = yowasm("pull", registry.ref(tag="v2"), "-o", "back.wasm", cwd=tmp_path, env=with_credentials(tmp_path))
    assert pulled.returncode == 0, pulled.stderr
    assert (tmp_path / "back.wasm").read_bytes() == MODULE
    assert any(request.method == "GET" and "/blobs/" in request.path for request in other_origin.requests)
    assert not other_origin.credentialed()


def test_netrc_passwords_are_never_sent(other_origin, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".netrc").write_text(f"machine 127.0.0.1 login {USER} password {PASSWORD}\n")
    (home / ".netrc").chmod(0o600)
    other_origin.put_module("team/hello", "v1", MODULE)
    pulled = yowasm("pull", other_origin.ref(), "-o", "x.wasm", cwd=tmp_path, env=environment(tmp_path))
    assert pulled.returncode == 0, pulled.stderr
    assert not other_origin.credentialed()


def test_a_token_realm_off_this_machine_gets_nothing(tmp_path):
    """A plain-HTTP registry on loopback whose realm is on another host: refused
    before any credential is sent (the token service never hears of it)."""
    with TokenService(NON_LOOPBACK) as tokens, HostileRegistry(auth="token", realm=f"{tokens.origin}/token") as registry:
        result = yowasm("publish", str(wasm_file(tmp_path)), registry.ref(), cwd=tmp_path, env=with_credentials(tmp_path))
        clean_failure(result, "Refusing the token service", "Nothing was sent")
        assert tokens.requests == [] and not registry.credentialed()


def test_a_token_realm_on_loopback_works_for_a_loopback_registry(tmp_path):
    with TokenService() as tokens, HostileRegistry(auth="token", realm=f"{tokens.origin}/token") as registry:
        result = yowasm("publish", str(wasm_file(tmp_path)), registry.ref(), cwd=tmp_path, env=with_credentials(tmp_path))
        assert result.returncode == 0, result.stderr
        assert tokens.credentialed() and all(r.authorization == "Bearer good-token" for r in registry.credentialed())


def test_a_realm_that_steps_down_from_https_is_refused(tmp_path):
    cert, key = self_signed(tmp_path, "hostile")
    with TokenService() as tokens, HostileRegistry(tls=(cert, key), auth="token", realm=f"{tokens.origin}/token") as registry:
        result = yowasm("publish", str(wasm_file(tmp_path)), registry.ref(), "--ca-file", str(cert), cwd=tmp_path,
                        env=with_credentials(tmp_path))
        clean_failure(result, "over plain HTTP from a registry reached over HTTPS")
        assert tokens.requests == [] and not registry.credentialed()


def test_tls_registry_with_an_https_token_service(tmp_path):
    cert, key = self_signed(tmp_path, "hostile")
    with TokenService(tls=(cert, key)) as tokens, \
            HostileRegistry(tls=(cert, key), auth="token", realm=f"{tokens.origin}/token") as registry:
        result = yowasm("publish", str(wasm_file(tmp_path)), registry.ref(), "--ca-file", str(cert), cwd=tmp_path,
                        env=with_credentials(tmp_path))
        assert result.returncode == 0, result.stderr
        assert tokens.credentialed()


def test_an_https_redirect_to_plain_http_is_refused(tmp_path, other_origin):
    cert, key = self_signed(tmp_path, "hostile")
    with HostileRegistry(tls=(cert, key)) as registry:
        registry.put_module("team/hello", "v1", MODULE)
        registry.fault = lambda reg, request: (Answer(302, {"Location": f"{other_origin.origin}/x"})
                                               if "/blobs/" in request.path else None)
        result = yowasm("pull", registry.ref(), "--ca-file", str(cert), cwd=tmp_path, env=environment(tmp_path))
        clean_failure(result, "steps down to plain HTTP", registry.host)
        assert other_origin.requests == []
        assert not (tmp_path / "hello.wasm").exists() and leftovers(tmp_path) == []


def test_plain_http_to_another_host_never_carries_credentials(tmp_path):
    with HostileRegistry(NON_LOOPBACK, auth="basic") as registry:
        env = with_credentials(tmp_path)
        no_flag = yowasm("publish", str(wasm_file(tmp_path)), registry.ref(), cwd=tmp_path, env=env)
        clean_failure(no_flag, "does not speak HTTPS", "--plain-http")  # no fallback off this machine
        refused = yowasm("publish", str(wasm_file(tmp_path)), registry.ref(), "--plain-http", cwd=tmp_path, env=env)
        clean_failure(refused, "Refusing --plain-http")
        insecure = yowasm("publish", str(wasm_file(tmp_path)), registry.ref(), "--plain-http", "--insecure",
                          cwd=tmp_path, env=env)
        clean_failure(insecure, "Refusing to send credentials", "over plain HTTP")
        assert not registry.credentialed()


def test_hints_carry_the_flags_that_were_needed(tmp_path):
    cert, key = self_signed(tmp_path, "hostile")
    with HostileRegistry(tls=(cert, key), auth="basic") as registry:
        result = yowasm("publish", str(wasm_file(tmp_path)), registry.ref(), "--ca-file", str(cert), cwd=tmp_path,
                        env=environment(tmp_path))
        clean_failure(result, f"yowasm login {registry.host} --ca-file {cert}")


# --- what is trusted -----------------------------------------------------------------


def test_a_lying_blob_digest_is_an_error_and_no_tag_is_pushed(registry, tmp_path):
    def lie(reg, request):
        if request.method == "PUT" and "/blobs/uploads/" in request.path and reg._authorized(request):
            request.body = b""
            return Answer(201, {"Docker-Content-Digest": "sha256:" + "0" * 64})
        return None

    registry.fault = lie
    result = yowasm("publish", str(wasm_file(tmp_path)), registry.ref(), cwd=tmp_path, env=with_credentials(tmp_path))
    clean_failure(result, "is not the sha256:", registry.host, "PUT /v2/team/hello/blobs/uploads/")
    assert "Pushed" not in result.stdout
    assert not any(request.method == "PUT" and "/manifests/" in request.path for request in registry.requests)


def test_a_lying_manifest_digest_is_an_error(registry, tmp_path):
    registry.fault = lambda reg, request: (Answer(201, {"Docker-Content-Digest": "sha256:" + "1" * 64})
                                           if request.method == "PUT" and "/manifests/" in request.path
                                           and reg._authorized(request) else None)
    result = yowasm("publish", str(wasm_file(tmp_path)), registry.ref(), cwd=tmp_path, env=with_credentials(tmp_path))
    clean_failure(result, "stored manifest digest", "PUT /v2/team/hello/manifests/v1")
    assert "Pushed" not in result.stdout


@pytest.mark.parametrize("chunked", [False, True])
def test_a_manifest_is_read_up_to_4_mib(other_origin, tmp_path, chunked):
    huge = b"{" + b" " * (MANIFEST_LIMIT + 10) + b"}"

    def answer(reg, request):
        if "/manifests/" in request.path:
            headers = {"Transfer-Encoding": "chunked"} if chunked else {}
            return Answer(200, headers, huge if not chunked else b"%x\r\n%s\r\n0\r\n\r\n" % (len(huge), huge))
        return None

    other_origin.fault = answer
    result = yowasm("pull", other_origin.ref(), cwd=tmp_path, env=environment(tmp_path))
    clean_failure(result, "over the 4,194,304 bytes", "GET /v2/team/hello/manifests/v1")


@pytest.mark.parametrize("served, problem", [
    (MODULE + b"more", "where the manifest declares"),
    (MODULE[:-1], "where the manifest declares"),
    (MODULE[:-1] + b"X", "does not match its digest"),
], ids=["longer", "shorter", "other-bytes"])
def test_a_blob_must_be_what_the_manifest_declares(other_origin, tmp_path, served, problem):
    other_origin.put_module("team/hello", "v1", MODULE)
    other_origin.fault = lambda reg, request: (Answer(200, {}, served) if "/blobs/" in request.path
                                               and request.method == "GET" else None)
    result = yowasm("pull", other_origin.ref(), cwd=tmp_path, env=environment(tmp_path))
    clean_failure(result, problem)
    assert leftovers(tmp_path) == [] and not (tmp_path / "hello.wasm").exists()


# --- replies of the wrong shape ------------------------------------------------------


BAD_MANIFESTS = [
    (b"[1, 2]", "not a JSON object"),
    (b"not json", "not JSON"),
    (b'{"layers": {"a": 1}}', '"layers" is not a list'),
    (b'{"layers": [{"mediaType": "application/wasm", "digest": "sha256:x", "size": 1}]}', '"digest" is not sha256'),
    (b'{"layers": [{"mediaType": "application/wasm", "digest": "sha256:' + b"a" * 64 + b'", "size": "1"}]}', '"size" is not'),
    (b'{"layers": [{"mediaType": "application/wasm", "digest": "sha256:' + b"a" * 64 + b'", "size": true}]}', '"size" is not'),
    (b'{"mediaType": "text/html", "layers": []}', "not an OCI image manifest"),
    (b'{"mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}', "index of several manifests"),
]


@pytest.mark.parametrize("body, problem", BAD_MANIFESTS)
def test_misshapen_manifests(other_origin, tmp_path, body, problem):
    other_origin.fault = lambda reg, request: Answer(200, {}, body) if "/manifests/" in request.path else None
    result = yowasm("pull", other_origin.ref(), cwd=tmp_path, env=environment(tmp_path))
    clean_failure(result, problem, other_origin.host)


@pytest.mark.parametrize("reply, problem", [
    (b"<html>", "not a JSON object"),
    (b"[]", "not a JSON object"),
    (b'{"token": 42}', "no token"),
    (b'{"token": ""}', "no token"),
    (b'{"token": "a b\\r\\nX-Evil: 1"}', "not a string of printable characters"),
])
def test_junk_token_replies(tmp_path, reply, problem):
    with TokenService() as tokens, HostileRegistry(auth="token", realm=f"{tokens.origin}/token") as registry:
        tokens.fault = lambda reg, request: Answer(200, {}, reply)
        result = yowasm("pull", registry.ref(), cwd=tmp_path, env=with_credentials(tmp_path))
        clean_failure(result, problem, f"token service of {registry.host}")


@pytest.mark.parametrize("answer, problem", [
    (Answer(202), "HTTP 202 without a Location header"),
    (Answer(202, {"Location": "ftp://elsewhere/x"}), "not an http(s) URL"),
    (Answer(202, {"Location": "http://user:pw@127.0.0.1:1/x"}), "not an http(s) URL"),
    (Answer(500, {}, json.dumps({"errors": [{"code": "\x1b]52;c;ZXZpbA==\x07", "message": "\x1b[31mred"}]}).encode()),
     "HTTP 500 (\\x1b]52;c;ZXZpbA==\\x07: \\x1b[31mred)"),
    (Answer(400, {}, b'{"errors": "nope"}'), "HTTP 400."),
])
def test_misshapen_upload_replies(registry, tmp_path, answer, problem):
    registry.fault = lambda reg, request: (answer if request.method == "POST" and reg._authorized(request) else None)
    result = yowasm("publish", str(wasm_file(tmp_path)), registry.ref(), cwd=tmp_path, env=with_credentials(tmp_path))
    clean_failure(result, problem, registry.host, "POST /v2/team/hello/blobs/uploads/")


def test_registry_text_is_shown_literally(other_origin, tmp_path):
    message = "\x1b]8;;http://evil\x1b\\click\x1b]8;;\x1b\\ \u202e"
    other_origin.fault = lambda reg, request: Answer(
        403, {}, json.dumps({"errors": [{"code": "DENIED", "message": message}]}).encode())
    result = yowasm("pull", other_origin.ref(), cwd=tmp_path, env=environment(tmp_path))
    clean_failure(result, "DENIED", "\\x1b]8;;http://evil", "\\u202e")
    assert "\u202e" not in result.stderr


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(
    st.binary(max_size=200),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                     st.sampled_from(["layers", "mediaType", "digest", "size", "schemaVersion", "manifests", "x"]),
                     inner, max_size=5), max_leaves=20).map(lambda value: json.dumps(value).encode()),
))
def test_any_manifest_reply_is_a_module_or_one_clear_error(other_origin, tmp_path, body):
    other_origin.fault = lambda reg, request: Answer(200, {}, body) if "/manifests/" in request.path else Answer(404)
    output = tmp_path / "any" / "out.wasm"
    try:
        pull(Reference.parse(other_origin.ref()), output, Connection())
    except YowasmError as error:
        assert error.message and "\x1b" not in error.message
    assert not output.exists()
    assert not output.parent.exists() or leftovers(output.parent) == []


def test_a_chunk_minimum_in_other_digits_is_ignored(other_origin, tmp_path):
    """A superscript 2 passes str.isdigit, yet int() refuses it: no traceback, no minimum."""
    def answer(reg, request):
        if request.method != "POST":
            return None
        reply = reg._default(request)
        reply.headers["OCI-Chunk-Min-Length"] = "\u00b2"
        return reply

    other_origin.fault = answer
    published = publish(wasm_file(tmp_path), Reference.parse(other_origin.ref()), Connection())
    assert published.uploaded_bytes > len(MODULE) and other_origin.blobs[blob_digest(MODULE)] == MODULE


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(status=st.sampled_from([200, 201, 202, 204, 301, 400, 401, 403, 404, 413, 416, 500]),
       headers=st.dictionaries(st.sampled_from(["Location", "Range", "Docker-Content-Digest", "WWW-Authenticate",
                                                "OCI-Chunk-Min-Length"]),
                               st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=40), max_size=3),
       body=st.binary(max_size=100))
def test_any_upload_reply_is_one_clear_error_or_a_verified_push(other_origin, tmp_path, status, headers, body):
    seen = {"n": 0}

    def answer(reg, request):
        if request.method in ("POST", "PUT", "PATCH"):
            seen["n"] += 1
            return Answer(status, headers, body) if seen["n"] % 2 else None
        return None

    other_origin.fault = answer
    other_origin.manifests.clear()
    other_origin.blobs.clear()
    del other_origin.requests[:]
    try:
        publish(wasm_file(tmp_path), Reference.parse(other_origin.ref()), Connection())
    except YowasmError as error:
        assert error.message and "\x1b" not in error.message
    else:  # a push reported done pushed its manifest last
        assert other_origin.requests[-1].method == "PUT" and "/manifests/" in other_origin.requests[-1].path


# --- uploads: streamed, chunked when the registry asks, resumed ------------------------


def test_a_413_to_the_streamed_put_goes_again_in_resumable_chunks(other_origin, tmp_path, monkeypatch):
    from yowasm import registry_client

    monkeypatch.setattr(registry_client, "CHUNK_SIZE", 1024)
    data = os.urandom(5000)
    state = {"cut": False}

    def answer(reg, request):
        if request.method == "PUT" and "/blobs/uploads/" in request.path and request.headers.get("content-length") != "0" \
                and len(data) == int(request.headers.get("content-length", 0)):
            return Answer(413)
        if request.method == "PATCH" and request.headers.get("content-range", "").startswith("2048-") and not state["cut"]:
            state["cut"] = True
            return Answer(0, cut_after=100)  # the registry keeps the 2048 bytes it had
        return None

    other_origin.fault = answer
    published = publish(wasm_file(tmp_path, data), Reference.parse(other_origin.ref()), Connection())
    assert other_origin.blobs[blob_digest(data)] == data
    uploads = [request for request in other_origin.requests if "/blobs/uploads/" in request.path]
    assert [request.headers["content-range"] for request in uploads if request.method == "PATCH"] == [
        "0-1023", "1024-2047", "2048-3071", "2048-3071", "3072-4095", "4096-4999"]
    assert [request.method for request in uploads].count("POST") == 3  # config, the refused PUT, the chunks
    assert "GET" in [request.method for request in uploads]  # asked where the upload stood, then went on
    assert published.digest == blob_digest(other_origin.manifests["team/hello:v1"])


def test_republishing_sends_no_blob(other_origin, tmp_path):
    wasm = wasm_file(tmp_path)
    publish(wasm, Reference.parse(other_origin.ref()), Connection())
    before = len(other_origin.requests)
    again = publish(wasm, Reference.parse(other_origin.ref()), Connection())
    assert again.uploaded_bytes == 0
    # The tag's manifest, and beside it the module's blob (asked before the tag's answer is in): nothing else.
    assert sorted(f"{request.method} {request.path}" for request in other_origin.requests[before:]) == [
        f"HEAD /v2/team/hello/blobs/{blob_digest(MODULE)}", "HEAD /v2/team/hello/manifests/v1"]


# --- nothing partial left behind -----------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_during_pull_leaves_nothing(other_origin, tmp_path, signum):
    big = os.urandom(4 * 1024 * 1024)
    other_origin.put_module("team/hello", "v1", big)
    other_origin.fault = lambda reg, request: (Answer(200, {}, big, stall=30) if "/blobs/" in request.path
                                               and request.method == "GET" else None)
    out = tmp_path / "out"
    out.mkdir()
    process = yowasm_process("pull", other_origin.ref(), "-o", str(out / "m.wasm"), cwd=tmp_path,
                             env=environment(tmp_path), unset=registry_credentials())
    deadline = time.monotonic() + 30
    while not any(path.suffix == ".part" and path.stat().st_size for path in out.iterdir()):
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.02)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode != 0
    assert "Traceback" not in stderr and "Aborted" in stderr
    assert list(out.iterdir()) == []


def test_registry_error_names_registry_request_and_problem(other_origin, tmp_path):
    other_origin.fault = lambda reg, request: Answer(202) if request.method == "POST" else None
    with pytest.raises(RegistryError) as error:
        publish(wasm_file(tmp_path), Reference.parse(other_origin.ref()), Connection())
    assert other_origin.host in error.value.message and "POST /v2/team/hello/blobs/uploads/" in error.value.message


@pytest.mark.parametrize("location, problem", [
    ("/v2/team/hello/manifests/v1", "more than 5 redirects"),
    ("ftp://127.0.0.1/x", "not an http(s) URL"),
])
def test_redirects_are_followed_only_so_far(other_origin, tmp_path, location, problem):
    other_origin.fault = lambda reg, request: Answer(302, {"Location": location}) if "/manifests/" in request.path else None
    result = yowasm("pull", other_origin.ref(), cwd=tmp_path, env=environment(tmp_path))
    clean_failure(result, problem, "GET /v2/team/hello/manifests/v1")
