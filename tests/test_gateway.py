"""The CGI response a handler writes, parsed strictly as bytes; the size and listen
values of `yowasm serve`. (Over HTTP, with real handlers: tests/test_cli_serve.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from contextlib import ExitStack

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import IN_CI
from yowasm.gateway import parse_response

CONTROL = bytes([*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F])


def test_headers_then_body_lf_or_crlf():
    for newline in (b"\n", b"\r\n"):
        response = parse_response(newline.join([b"Content-Type: text/plain", b"X-A:  spaced \t", b"", b"body\n\nmore"]))
        assert response.status == 200
        assert response.headers == ((b"content-type", b"text/plain"), (b"x-a", b"spaced"))
        assert response.body == b"body\n\nmore"


@pytest.mark.parametrize("separator", ["\x85", "\u2028", "\u2029", "\x1c", "\x1d", "\x1e", "\x0b", "\x0c"])
def test_no_line_separator_but_lf_splits_a_header(separator):
    written = f"Content-Type: text/plain\nX-A: 1{separator}Set-Cookie: evil=1\n\nok".encode()
    response = parse_response(written)
    assert b"set-cookie" not in {name for name, _ in response.headers}
    if response.status == 200:  # a non-ASCII separator: one header, its bytes as written
        assert dict(response.headers)[b"x-a"] == f"1{separator}Set-Cookie: evil=1".encode()
    else:  # an ASCII control character
        assert response.status == 502


def test_non_ascii_values_pass_through_as_written():
    response = parse_response("Content-Type: text/plain\nX-Name: café ☕\n\n".encode())
    assert dict(response.headers)[b"x-name"] == "café ☕".encode()


@given(st.binary(max_size=40).filter(lambda value: b"\n" not in value))  # LF ends the line
def test_any_value_is_refused_or_kept_byte_for_byte(value):
    response = parse_response(b"Content-Type: text/plain\nX-V: " + value + b"\n\nbody")
    expected = value.removesuffix(b"\r").strip(b" \t")  # a CR before the LF is ignored
    if response.status == 200:
        kept = dict(response.headers)[b"x-v"]
        assert kept == expected and not any(byte in CONTROL for byte in kept)
        assert response.body == b"body"
    else:
        assert response.status == 502 and any(byte in CONTROL for byte in expected)


@given(st.binary(max_size=30))
def test_any_header_name_is_a_token_or_refused(name):
    response = parse_response(b"Content-Type: text/plain\n" + name + b": v\n\n")
    for kept, _ in response.headers:
        assert kept and all(chr(byte).isalnum() or chr(byte) in "!#$%&'*+.^_`|~-" for byte in kept)


@pytest.mark.parametrize("status", ["²00", "2OO", "٢٠٠", "20", "2000", "099", "600", "101", "100", " ", ""])
def test_status_takes_three_ascii_digits_of_a_final_response(status):
    assert parse_response(f"Status: {status}\nContent-Type: text/plain\n\n".encode()).status == 502


@pytest.mark.parametrize("length", ["¹2", "+2", "0x2", "-2", "3", "2.0"])
def test_content_length_must_be_ascii_digits_matching_the_body(length):
    assert parse_response(f"Content-Type: text/plain\nContent-Length: {length}\n\nok".encode()).status == 502
    assert parse_response(b"Content-Type: text/plain\nContent-Length: 2\n\nok").status == 200


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_for_204_and_304(status):
    response = parse_response(f"Status: {status}\nContent-Type: text/plain\n\na body anyway".encode())
    assert (response.status, response.body) == (status, b"")


def test_framing_headers_from_the_handler_are_dropped():
    response = parse_response(b"Content-Type: text/plain\nTransfer-Encoding: chunked\nConnection: close\n\nok")
    assert response.headers == ((b"content-type", b"text/plain"),)


@pytest.mark.parametrize("line", [b"no colon here", b" folded: value", b"bad name: v", b": empty", b"X-A: a\rb"])
def test_malformed_header_lines_are_a_bad_gateway(line):
    assert parse_response(b"Content-Type: text/plain\n" + line + b"\n\n").status == 502


def test_wagi_rules_location_and_missing_headers():
    assert parse_response(b"Location: /elsewhere\n\n").status == 302
    assert parse_response(b"X-Only: 1\n\nbody").status == 500
    assert parse_response(b"").status == 500


def test_a_handlers_stderr_reaches_the_log_spelled_out(tmp_path):
    from tests.conftest import compile_wat
    from yowasm.gateway import Gateway, Request, Settings
    from yowasm.wagi import single_module

    module = compile_wat(tmp_path, "stderr", r"""
      (module
        (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 1)
        (data (i32.const 100) "\1b]52;c;ZXZpbA==\07 sneaky\nContent-Type: text/plain\n\nok")
        (func (export "_start")
          (i32.store (i32.const 0) (i32.const 100)) (i32.store (i32.const 4) (i32.const 24))
          (drop (call $w (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
          (i32.store (i32.const 0) (i32.const 124)) (i32.store (i32.const 4) (i32.const 28))
          (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
    """)
    lines: list[str] = []
    gateway = Gateway(single_module(module), Settings(slots=1), log_error=lines.append)
    try:
        response = gateway.handle(Request("GET", "/", (), b"", ("127.0.0.1", 3000), ("127.0.0.1", 4000)))
    finally:
        gateway.close()
    assert (response.status, response.body) == (200, b"ok")
    assert lines == [f"{module}: \\x1b]52;c;ZXZpbA==\\x07 sneaky"]


# -- running handlers, with real modules in real wasmtime --

@pytest.fixture(scope="module")
def gateway_modules(tmp_path_factory):
    """A modules.toml of handlers for the gateway's own tests: /behave/trap (behave.c:
    writes, then traps), /echo (its stdin is its response), /slow (300 ms), /busy (a
    few ms of computing), /sleepy (imports poll_oneoff), /volume (echo with a volume)."""
    from tests.conftest import MODULES, compile_test_module, compile_wat

    folder = tmp_path_factory.mktemp("gateway")
    compile_test_module("behave", folder)
    for name in ("echo", "slow", "sleepy", "busy"):
        compile_wat(folder, name, (MODULES / f"{name}.wat").read_text())
    (folder / "data").mkdir()
    (folder / "modules.toml").write_text(
        '[[module]]\nroute = "/behave/..."\nmodule = "behave.wasm"\n'
        '[[module]]\nroute = "/echo"\nmodule = "echo.wasm"\n'
        '[[module]]\nroute = "/slow"\nmodule = "slow.wasm"\n'
        '[[module]]\nroute = "/busy"\nmodule = "busy.wasm"\n'
        '[[module]]\nroute = "/sleepy"\nmodule = "sleepy.wasm"\n'
        '[[module]]\nroute = "/volume"\nmodule = "echo.wasm"\nvolumes = { "/data" = "data" }\n'
    )
    return folder / "modules.toml"


@pytest.fixture
def one_slot_gateway(gateway_modules):
    """A gateway with one slot, so that every request runs in the same one; and the
    lines it logged."""
    from yowasm.gateway import Gateway, Settings
    from yowasm.wagi import load_modules_toml

    lines: list[str] = []
    gateway = Gateway(load_modules_toml(gateway_modules), Settings(slots=1), log_error=lines.append)
    try:
        yield gateway, lines
    finally:
        gateway.close()


def on_the_loop(gateway, request):
    """REQUEST as the server's event loop runs it: routed, then run quickly or not at all."""
    from yowasm.gateway import Response

    planned = gateway.plan(request)
    return planned if isinstance(planned, Response) else gateway.run_quickly(planned)


def http_request(path: str, body: bytes = b""):
    from yowasm.gateway import Request

    return Request("POST", path, (("host", "127.0.0.1:3000"),), body, ("127.0.0.1", 3000), ("127.0.0.1", 4000))


@pytest.mark.parametrize("quickly", [False, True], ids=["on a thread", "on the event loop"])
def test_no_request_body_reaches_the_next_request_after_a_trap(one_slot_gateway, quickly):
    gateway, _ = one_slot_gateway
    handle = (lambda request: on_the_loop(gateway, request)) if quickly else gateway.handle
    secret = b"password=hunter2&card=4111111111111111"
    assert handle(http_request("/behave/trap", secret)).status == 500
    response = handle(http_request("/echo", b"Content-Type: text/plain\n\nhi"))
    assert (response.status, response.body) == (200, b"hi")


def test_a_quick_handler_is_answered_on_the_calling_thread(one_slot_gateway):
    gateway, _ = one_slot_gateway
    response = on_the_loop(gateway, http_request("/echo", b"Content-Type: text/plain\n\nquick"))
    assert (response.status, response.body) == (200, b"quick")


def test_a_slow_handler_is_stopped_on_the_loop_and_then_left_to_a_thread(one_slot_gateway):
    import time

    gateway, lines = one_slot_gateway
    started = time.monotonic()
    assert on_the_loop(gateway, http_request("/slow")) is None  # stopped: it runs 300 ms
    assert time.monotonic() - started < 0.25  # at most two 50 ms ticks, give or take
    assert lines == []  # its stderr is logged by the run that answers, once
    for _ in range(5):  # on a loaded machine a stopped run may not have had its CPU yet
        started = time.monotonic()
        assert on_the_loop(gateway, http_request("/slow")) is None
        if time.monotonic() - started < 0.02:
            break  # known slow: not run again
    else:
        raise AssertionError("the slow route is still tried on the loop")
    response = gateway.handle(http_request("/slow"))
    assert (response.status, response.body) == (200, b"done")
    assert lines == ["slow.wasm: slow handler ran"]
    assert on_the_loop(gateway, http_request("/echo", b"Content-Type: text/plain\n\nstill quick")).body \
        == b"still quick"


@pytest.mark.parametrize("path", ["/sleepy", "/volume"])
def test_handlers_that_could_sleep_or_touch_files_never_run_on_the_loop(one_slot_gateway, path):
    gateway, _ = one_slot_gateway
    body = b"Content-Type: text/plain\n\nfiles"
    assert on_the_loop(gateway, http_request(path, body)) is None
    assert gateway.handle(http_request(path, body)).status == 200


def test_a_quick_run_kept_off_the_cpu_leaves_its_route_quick(one_slot_gateway):
    """The ticks count wall-clock time. A quick handler whose thread got little of a core
    for a while (here: pinned to one core beside a busy process, at the lowest priority,
    while the ticker runs on another) overruns and is run again on a thread, but its
    route stays quick: it used a few ms of CPU, where a slow handler uses the ticks'."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        reason = "needs two cores: one to starve the handler on, one for the ticker"
        if IN_CI:  # CI runs on a machine of the kind this is written for: no skip there
            pytest.fail(reason)
        pytest.skip(reason)
    gateway, _ = one_slot_gateway
    busy = http_request("/busy")
    assert on_the_loop(gateway, busy).body == b"busy"  # quick on a free core
    outcome: list = []

    def starved() -> None:
        os.sched_setaffinity(0, {cores[0]})  # this thread only
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        for _ in range(5):  # the scheduler may give a new thread a burst first: try again
            outcome.append(on_the_loop(gateway, busy))
            if outcome[-1] is None:
                return

    with ExitStack() as stack:
        hog = subprocess.Popen([sys.executable, "-c", "import os; os.write(1, b'.'); exec('while True: pass')"],
                               stdout=subprocess.PIPE, preexec_fn=lambda: os.sched_setaffinity(0, {cores[0]}))
        stack.callback(hog.wait)
        stack.callback(hog.kill)
        assert hog.stdout.read(1) == b"."  # it is spinning
        thread = threading.Thread(target=starved)
        thread.start()
        thread.join(timeout=60)
    assert outcome[-1] is None  # overran on the wall clock: the caller runs it on a thread
    assert on_the_loop(gateway, busy).body == b"busy"  # and the route is still quick
