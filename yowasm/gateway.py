"""A WAGI-compatible HTTP/1.1 gateway: each request runs a WASI module CGI style.

Each module is compiled once (and cached on disk by wasmtime); every request gets a
fresh instance, so no state leaks between requests. Requests run concurrently on a
bounded pool of workers; a handler that runs past the timeout is stopped by epoch
interruption and answered 504 without holding up the others.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable
from urllib.parse import unquote

from yowasm import __version__
from yowasm.errors import ServeError
from yowasm.wagi import Route, find_route, sub_routes

#: How often the epoch ticks; timeouts are whole ticks.
TICK_SECONDS = 0.05
MISSING_HEADERS = "Exactly one of 'location' or 'content-type' must be specified"
NOT_PASSED = {"authorization", "connection"}
# /dev/shm keeps request bodies in memory when the machine has it.
BODY_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else None


@dataclass(frozen=True)
class Settings:
    env: tuple[tuple[str, str], ...] = ()
    timeout: float = 30.0
    max_body: int = 10 * 1024 * 1024
    #: Modules running at once; more requests wait their turn. Generous, so that a few
    #: handlers stuck until their timeout do not hold up the rest.
    workers: int = max(8, 4 * (os.cpu_count() or 1))


@dataclass(frozen=True)
class Response:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass
class LoadedRoute:
    route: Route
    instance_pre: object
    limit: threading.Semaphore | None = field(default=None)


LogAccess = Callable[[str, str, int, float], None]
LogLine = Callable[[str], None]


class Gateway:
    def __init__(self, routes: list[Route], settings: Settings, *, log_error: LogLine,
                 fetch_oci: Callable[[str], Path] | None = None):
        import wasmtime

        from yowasm.wasm import engine

        self.settings = settings
        self.log_error = log_error
        self.engine = engine(epoch_interruption=True)
        self._wasmtime = wasmtime
        self._fetch_oci = fetch_oci
        self._workers = threading.BoundedSemaphore(settings.workers)
        self._stop = threading.Event()
        threading.Thread(target=self._tick, daemon=True, name="epoch-ticker").start()
        self.routes: list[LoadedRoute] = self._load(routes)

    def reload(self, routes: list[Route]) -> None:
        """Compile ROUTES and switch to them at once; requests already running finish
        with the modules they started with."""
        self.routes = self._load(routes)

    def _load(self, routes: list[Route]) -> list[LoadedRoute]:
        from yowasm.wasm import load_module

        loaded_routes: list[LoadedRoute] = []
        compiled: dict[str, tuple[object, bool]] = {}
        for route in routes:
            path = route.module
            if route.is_oci:
                if self._fetch_oci is None:
                    raise ServeError(f"{route.source}: oci: modules need a registry connection.")
                path = str(self._fetch_oci(route.module[len("oci:"):]))
            if path not in compiled:
                module = load_module(Path(path), epoch_interruption=True)
                linker = self._wasmtime.Linker(self.engine)
                linker.define_wasi()
                has_routes = any(export.name == "_routes" for export in module.exports)
                compiled[path] = (linker.instantiate_pre(module), has_routes)
            instance_pre, has_routes = compiled[path]
            loaded = self._loaded(route, instance_pre)
            loaded_routes.append(loaded)
            if has_routes:
                listing = self._call_routes(loaded)
                loaded_routes += [self._loaded(extra, instance_pre) for extra in sub_routes(route, listing)]
        return loaded_routes

    def _loaded(self, route: Route, instance_pre) -> LoadedRoute:
        limit = threading.BoundedSemaphore(route.http_max_concurrency) if route.http_max_concurrency else None
        return LoadedRoute(route, instance_pre, limit)

    def _call_routes(self, loaded: LoadedRoute) -> str:
        output = bytearray()
        response = self._run(loaded, "_routes", [loaded.route.script_name], [], None, output)
        if response is not None:
            raise ServeError(f"{loaded.route.source}: its _routes export failed ({response.status}).")
        return output.decode("utf-8", "replace")

    def _tick(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            self.engine.increment_epoch()

    def close(self) -> None:
        self._stop.set()

    def wait_closed(self, seconds: float) -> bool:
        """Sleep up to SECONDS; True once the gateway is closed."""
        return self._stop.wait(seconds)

    @property
    def route_table(self) -> list[tuple[str, str, str]]:
        return [(loaded.route.route, loaded.route.source, loaded.route.entrypoint) for loaded in self.routes]

    # -- one request --

    def handle(self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes,
               server: tuple[str, int], client: tuple[str, int]) -> Response:
        path, _, query = raw_path.partition("?")
        decoded = unquote(path)
        if decoded == "/healthz":
            return Response(200, (("Content-Type", "text/plain"),), b"OK")
        routes = self.routes  # one snapshot, in case a reload swaps them meanwhile
        found = find_route([item.route for item in routes], decoded)
        if found is None:
            return Response(404, (("Content-Type", "text/plain"),), b"Not Found\n")
        target = next(item for item in routes if item.route is found)
        route = target.route
        host = next((value for name, value in headers if name.lower() == "host"), f"{server[0]}:{server[1]}")
        env = {
            "REQUEST_METHOD": method,
            "QUERY_STRING": query,
            "CONTENT_TYPE": next((value for name, value in headers if name.lower() == "content-type"), ""),
            "CONTENT_LENGTH": str(len(body)),
            "PATH_INFO": route.path_info(decoded),
            "PATH_TRANSLATED": route.path_info(decoded),
            "SCRIPT_NAME": route.script_name,
            "SERVER_NAME": server[0],
            "SERVER_PORT": str(server[1]),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_SOFTWARE": "WAGI/1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "REMOTE_ADDR": client[0],
            "REMOTE_HOST": client[0],
            "REMOTE_USER": "",
            "AUTH_TYPE": "",
            "X_MATCHED_ROUTE": route.route,
            "X_FULL_URL": f"http://{host}{raw_path}",
            "X_RAW_PATH_INFO": route.path_info(path),
        }
        for name, value in headers:
            if name.lower() not in NOT_PASSED:
                env["HTTP_" + name.upper().replace("-", "_")] = value
        env.update(self.settings.env)
        args = [pair for pair in query.split("&") if pair] if query else []
        argv = route.argv.replace("${SCRIPT_NAME}", route.script_name or "/").replace("${ARGS}", " ".join(args)).split()
        output = bytearray()
        with self._workers:
            if target.limit:
                with target.limit:
                    failure = self._run(target, route.entrypoint, argv, list(env.items()), body, output)
            else:
                failure = self._run(target, route.entrypoint, argv, list(env.items()), body, output)
        return failure or parse_response(bytes(output))

    def _run(self, loaded: LoadedRoute, function: str, argv: list[str], env: list[tuple[str, str]],
             body: bytes | None, output: bytearray) -> Response | None:
        wasmtime = self._wasmtime
        config = wasmtime.WasiConfig()
        config.argv = argv
        config.env = [list(pair) for pair in env]
        for guest, host in loaded.route.volumes:
            config.preopen_dir(str(host), guest)
        config.stdout_custom = output.extend
        errors = bytearray()
        config.stderr_custom = errors.extend
        body_file = None
        try:
            if body:
                descriptor, body_file = tempfile.mkstemp(prefix="yowasm-body-", dir=BODY_DIR)
                with os.fdopen(descriptor, "wb") as file:
                    file.write(body)
                config.stdin_file = body_file
            else:
                config.stdin_file = os.devnull
            store = wasmtime.Store(self.engine)
            store.set_wasi(config)
            store.set_epoch_deadline(max(1, round(self.settings.timeout / TICK_SECONDS)))
            instance = loaded.instance_pre.instantiate(store)
            entry = instance.exports(store).get(function)
            if entry is None:
                self.log_error(f"{loaded.route.source}: no exported function {function!r}")
                return Response(500, (), b"")
            entry(store)
        except wasmtime.ExitTrap as exit_:
            if exit_.code != 0:
                self.log_error(f"{loaded.route.source}: exited with code {exit_.code}")
        except wasmtime.Trap as trap:
            if trap.trap_code == wasmtime.TrapCode.INTERRUPT:
                self.log_error(f"{loaded.route.source}: stopped after the {self.settings.timeout:g} s timeout")
                return Response(504, (("Content-Type", "text/plain"),), b"Gateway Timeout\n")
            self.log_error(f"{loaded.route.source}: trapped: {trap.message}")
            return Response(500, (), b"")
        except wasmtime.WasmtimeError as error:
            self.log_error(f"{loaded.route.source}: {error}")
            return Response(500, (), b"")
        finally:
            if body_file:
                os.unlink(body_file)
            if errors:
                for line in errors.decode("utf-8", "replace").splitlines():
                    self.log_error(f"{loaded.route.source}: {line}")
        return None


def parse_response(stdout: bytes) -> Response:
    """Headers up to the first blank line (CR ignored), then the body."""
    normalized_end = None
    for separator in (b"\r\n\r\n", b"\n\n", b"\r\n\n", b"\n\r\n"):
        index = stdout.find(separator)
        if index != -1 and (normalized_end is None or index < normalized_end[0]):
            normalized_end = (index, len(separator))
    if normalized_end is None:
        head, body = stdout, b""
    else:
        head, body = stdout[: normalized_end[0]], stdout[sum(normalized_end):]
    headers = []
    for line in head.decode("latin-1").splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip():
            headers.append((name.strip(), value.strip()))
    names = {name.lower() for name, _ in headers}
    if not names & {"content-type", "location", "status"}:
        return Response(500, (("Content-Type", "text/plain"),), MISSING_HEADERS.encode())
    status = 302 if "location" in names else 200
    for name, value in headers:
        if name.lower() == "status":
            code = value.split(" ", 1)[0]
            if not code.isdigit() or not 100 <= int(code) <= 599:
                return Response(502, (("Content-Type", "text/plain"),), b"Bad Gateway: unparsable Status\n")
            status = int(code)
    return Response(status, tuple((name, value) for name, value in headers if name.lower() != "status"), body)


# --- HTTP -------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address, gateway: Gateway, log_access: LogAccess):
        self.gateway = gateway
        self.log_access = log_access
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = f"yowasm/{__version__}"
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body are two writes; Nagle would delay the second
    server: _Server

    def _serve(self) -> None:
        started = time.perf_counter()
        gateway = self.server.gateway
        length = self.headers.get("Content-Length")
        if length is not None and (not length.isdigit() or int(length) > gateway.settings.max_body):
            status = 413 if length.isdigit() else 400
            self._send(Response(status, (("Content-Type", "text/plain"),),
                                b"Payload Too Large\n" if status == 413 else b"Bad Request\n"), close=True)
            self.server.log_access(self.command, self.path, status, time.perf_counter() - started)
            return
        body = self.rfile.read(int(length)) if length else b""
        response = gateway.handle(self.command, self.path, list(self.headers.items()), body,
                                  self.server.server_address[:2], self.client_address[:2])
        self._send(response)
        self.server.log_access(self.command, self.path, response.status, time.perf_counter() - started)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

    def _send(self, response: Response, *, close: bool = False) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        elif self.request_version == "HTTP/1.0" and not self.close_connection:
            self.send_header("Connection", "keep-alive")  # HTTP/1.0 clients keep it only if told
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format, *args) -> None:  # access lines go through log_access
        pass


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise ServeError(f"Invalid --listen {value!r}: must be HOST:PORT with a port from 1 to 65535.",
                         hint="Example of a valid --listen: 127.0.0.1:3000", exit_code=2)
    return host.strip("[]"), int(port)


def serve(gateway: Gateway, address: tuple[str, int], *, log_access: LogAccess,
          on_ready: Callable[[str], None]) -> None:
    """Serve until interrupted (Ctrl-C), then stop cleanly."""
    try:
        server = _Server(address, gateway, log_access)
    except OSError as error:
        raise ServeError(f"Cannot listen on {address[0]}:{address[1]}: {error.strerror}.",
                         hint="Choose another port with --listen 127.0.0.1:PORT.") from None
    host, port = server.server_address[:2]
    on_ready(f"http://{host}:{port}")
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        gateway.close()
