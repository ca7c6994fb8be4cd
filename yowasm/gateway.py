"""A WAGI gateway without the HTTP: each request runs a WASI module CGI style.

Each module is compiled once (and cached on disk by wasmtime); every request gets a
fresh instance, so no state leaks between requests, and its store is dropped as soon as
the request ends, so a handler's memory goes back to the system even after a trap.

Handlers run in *slots*, one per request running at once. A slot owns its wasmtime
engine and three memory files (stdin, stdout, stderr): wasmtime writes the handler's
output straight to a file, several times cheaper than a Python callback per write, and
because each slot's engine has an epoch of its own, the ticker can stop exactly the
one instance that overran its time or its output cap (a store's deadline cannot be
moved once the instance runs; the epoch can).

The HTTP side lives in yowasm/server.py.
"""

from __future__ import annotations

import os
import queue
import re
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable
from urllib.parse import unquote

from yowasm.errors import ServeError
from yowasm.text import literal
from yowasm.wagi import Route, find_route, sub_routes

#: How often the epoch ticks; timeouts are whole ticks.
TICK_SECONDS = 0.05
#: How long a quick run (on the server's event loop) may take: after 2 ticks it has run
#: for more than one whole tick, so it is slow, not unlucky in when it started.
QUICK_TICKS = 2
#: CPU time a quick run must have used for its overrun to make its route slow: the
#: ticks count wall-clock time, which a thread kept waiting for a core also spends.
QUICK_CPU_SECONDS = TICK_SECONDS / 2
#: WASI calls that can block in the host, where no epoch check can stop them (a sleep):
#: a module importing one never runs on the event loop.
HOST_BLOCKING = {"poll_oneoff"}
MiB = 1024 * 1024
MISSING_HEADERS = b"Exactly one of 'location' or 'content-type' must be specified"
NOT_PASSED = {"authorization", "connection"}
#: Most of the handler's stderr that reaches the server log per request.
STDERR_LOGGED = 64 * 1024
#: HTTP token characters (RFC 9110 5.6.2): what a header name may hold.
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
#: Control characters a header value may not hold (horizontal tab is allowed).
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_NO_BODY = (204, 304)


@dataclass(frozen=True)
class Settings:
    env: tuple[tuple[str, str], ...] = ()
    timeout: float = 30.0
    max_body: int = 10 * MiB
    max_response: int = 16 * MiB
    max_memory: int = 256 * MiB
    #: Modules running at once in one process; more requests wait their turn.
    #: Generous, so that a few handlers stuck until their timeout do not hold up the rest.
    slots: int = 8


@dataclass(frozen=True)
class Response:
    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


def plain(status: int, text: str) -> Response:
    return Response(status, ((b"content-type", b"text/plain; charset=utf-8"),), text.encode())


@dataclass(frozen=True)
class Request:
    method: str
    #: The request target as sent, path and query (percent-encoded).
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    server: tuple[str, int]
    client: tuple[str, int]


@dataclass(frozen=True)
class LoadedRoute:
    route: Route
    #: The module file this route runs (an `oci:` module once pulled).
    path: str
    #: Which load this is: a reload compiles the module files afresh.
    generation: int
    limit: threading.BoundedSemaphore | None = None
    #: Whether it may run on the server's event loop (Gateway.run_quickly).
    quick: bool = False


@dataclass(frozen=True)
class Planned:
    """A request routed to its handler: what the handler is run with."""

    target: LoadedRoute
    argv: list[str]
    env: list[tuple[str, str]]
    body: bytes


LogLine = Callable[[str], None]


class Slot:
    """Room for one running handler: its own engine (and so its own epoch), its
    modules compiled for that engine, and memory files for stdin, stdout and stderr."""

    def __init__(self) -> None:
        import wasmtime

        from yowasm.wasm import new_interruptible_engine

        self.engine = new_interruptible_engine()
        self.linker = wasmtime.Linker(self.engine)
        self.linker.define_wasi()
        self.compiled: dict[tuple[str, int], object] = {}
        self.stdin, self.stdout, self.stderr = (os.memfd_create(f"yowasm-{name}", os.MFD_CLOEXEC)
                                                for name in ("stdin", "stdout", "stderr"))
        self.epoch = 0
        self.deadline = 0
        self.running = False
        self.overflowed = False

    def instance_pre(self, path: str, generation: int):
        """The module file PATH of load GENERATION, compiled for this slot's engine."""
        key = (path, generation)
        if key not in self.compiled:
            from yowasm.wasm import load_module

            self.compiled = {old: value for old, value in self.compiled.items() if old[1] == generation}
            self.compiled[key] = self.linker.instantiate_pre(load_module(Path(path), on=self.engine))
        return self.compiled[key]

    def tick(self, max_output: int) -> None:
        self.epoch += 1
        self.engine.increment_epoch()
        if self.running and max(os.fstat(self.stdout).st_size, os.fstat(self.stderr).st_size) > max_output:
            self.overflowed = True
            self.stop()

    def stop(self) -> None:
        """Interrupt the running instance at its next epoch check."""
        while self.epoch < self.deadline:
            self.epoch += 1
            self.engine.increment_epoch()

    def output(self, descriptor: int, limit: int) -> bytes:
        size = min(os.fstat(descriptor).st_size, limit)
        return os.pread(descriptor, size, 0) if size else b""

    def clear(self) -> None:
        for descriptor in (self.stdin, self.stdout, self.stderr):
            os.ftruncate(descriptor, 0)

    def close(self) -> None:
        for descriptor in (self.stdin, self.stdout, self.stderr):
            os.close(descriptor)


class _Overran(Exception):
    """A quick run went on past QUICK_TICKS and was stopped."""


class Gateway:
    def __init__(self, routes: list[Route], settings: Settings, *, log_error: LogLine,
                 fetch_oci: Callable[[str], Path] | None = None):
        import wasmtime

        self._wasmtime = wasmtime
        self.settings = settings
        # Handlers' stderr, their trap messages and modules.toml names are outside text.
        self.log_error: LogLine = lambda message: log_error(literal(message))
        self._fetch_oci = fetch_oci
        self._stop = threading.Event()
        self._generation = 0
        #: (route, entrypoint, module path, generation) of the routes found slow on the loop.
        self._slow: set[tuple[str, str, str, int]] = set()
        self._all_slots = [Slot() for _ in range(max(1, settings.slots))]
        self._free: queue.SimpleQueue[Slot] = queue.SimpleQueue()
        for slot in self._all_slots:
            self._free.put(slot)
        self.routes: list[LoadedRoute] = self._load(routes)
        for slot in self._all_slots:  # compiled now, not on a slot's first request
            for loaded in self.routes:
                slot.instance_pre(loaded.path, loaded.generation)
        self._ticker = threading.Thread(target=self._tick, daemon=True, name="epoch-ticker")
        self._ticker.start()

    def reload(self, routes: list[Route]) -> None:
        """Compile ROUTES and switch to them at once; requests already running finish
        with the modules they started with."""
        self.routes = self._load(routes)

    def _load(self, routes: list[Route]) -> list[LoadedRoute]:
        loaded_routes: list[LoadedRoute] = []
        listings: dict[str, str | None] = {}
        blocking: dict[str, bool] = {}
        resolved: list[Route] = []
        self._generation += 1
        slot = self._free.get()
        try:
            for route in routes:
                path = route.module
                if route.is_oci:
                    if self._fetch_oci is None:
                        raise ServeError(f"{route.source}: oci: modules need a registry connection.")
                    path = str(self._fetch_oci(route.module[len("oci:"):]))
                if path not in listings:
                    module = slot.instance_pre(path, self._generation).module
                    blocking[path] = any(item.name in HOST_BLOCKING for item in module.imports)
                loaded = _loaded(route, path, self._generation, blocks=blocking[path])
                loaded_routes.append(loaded)
                resolved.append(replace(route, module=path))
                if path not in listings:
                    has_routes = any(export.name == "_routes" for export in module.exports)
                    listings[path] = self._call_routes(slot, loaded) if has_routes else None
                if listings[path] is not None:
                    loaded_routes += [_loaded(extra, path, self._generation, blocks=blocking[path])
                                      for extra in sub_routes(route, listings[path])]
            if loaded_routes:
                self._warm_up(slot, loaded_routes[0])
        finally:
            self._free.put(slot)
        self._resolved = resolved
        return loaded_routes

    def _warm_up(self, slot: Slot, loaded: LoadedRoute) -> None:
        """Instantiate once without running anything: the first WASI instantiation in a
        process sets up wasmtime's WASI runtime, which aborts the process if it finds no
        free file descriptor then; done at start-up, while there are some."""
        config = self._wasmtime.WasiConfig()
        config.stdin_file = config.stdout_file = os.devnull
        store = self._wasmtime.Store(slot.engine)
        store.set_wasi(config)
        try:
            slot.instance_pre(loaded.path, loaded.generation).instantiate(store)
        except self._wasmtime.WasmtimeError as error:
            raise ServeError(f"{loaded.route.source}: cannot be instantiated: {error}") from None
        finally:
            store.close()

    def _call_routes(self, slot: Slot, loaded: LoadedRoute) -> str:
        failure, output = self._run(slot, loaded, "_routes", [loaded.route.script_name], [], b"")
        if failure is not None:
            raise ServeError(f"{loaded.route.source}: its _routes export failed ({failure.status}).")
        return output.decode("utf-8", "replace")

    def _tick(self) -> None:
        cap = self.settings.max_response
        while not self._stop.wait(TICK_SECONDS):
            for slot in self._all_slots:
                slot.tick(cap)

    def close(self) -> None:
        self._stop.set()
        self._ticker.join()  # it reads the slots' files
        for slot in self._all_slots:
            slot.close()

    @property
    def resolved_routes(self) -> list[Route]:
        """The routes as loaded, `oci:` modules replaced by the files they were pulled
        to (the routes a module's `_routes` export added left out: loading adds them)."""
        return self._resolved

    def wait_closed(self, seconds: float) -> bool:
        """Sleep up to SECONDS; True once the gateway is closed."""
        return self._stop.wait(seconds)

    @property
    def route_table(self) -> list[tuple[str, str, str]]:
        return [(loaded.route.route, loaded.route.source, loaded.route.entrypoint) for loaded in self.routes]

    # -- one request --

    def handle(self, request: Request) -> Response:
        """REQUEST's response, its handler run on this thread with the full --timeout."""
        planned = self.plan(request)
        return planned if isinstance(planned, Response) else self.run(planned)

    def run(self, planned: Planned) -> Response:
        """Run PLANNED's handler, waiting for a free slot, with the full --timeout; on a
        thread of its own, since it may take that long."""
        target = planned.target
        if target.limit:
            with target.limit:
                return self._respond(planned)
        return self._respond(planned)

    def run_quickly(self, planned: Planned) -> Response | None:
        """PLANNED's response if its handler can run on the calling thread (the
        server's event loop) and finishes within QUICK_TICKS; None when it may not
        (a slow route, one with volumes or a concurrency limit, a module that can sleep,
        no free slot) or did not, and then the caller runs run() on a thread of its own.

        Running a request again from the start is safe for a handler with no volumes:
        nothing it did outlives its instance. A route whose quick run overran having
        used QUICK_CPU_SECONDS of this thread's CPU is slow from then on, until the next
        reload, so the loop is held up about once per slow route; one that overran only
        because the thread was kept off the CPU (a loaded machine) stays quick."""
        target = planned.target
        key = (target.route.route, target.route.entrypoint, target.path, target.generation)
        if not target.quick or key in self._slow:
            return None
        try:
            slot = self._free.get_nowait()
        except queue.Empty:
            return None
        started = time.thread_time()
        try:
            failure, output = self._run(slot, target, target.route.entrypoint, planned.argv, planned.env,
                                        planned.body, ticks=QUICK_TICKS)
        except _Overran:
            if time.thread_time() - started >= QUICK_CPU_SECONDS:
                self._slow.add(key)
            return None
        finally:
            self._free.put(slot)
        return failure or parse_response(output)

    def plan(self, request: Request) -> Response | Planned:
        """The route REQUEST goes to, with the handler's argv and CGI environment; or
        the response when no handler runs (/healthz, no route)."""
        path, _, query = request.target.partition("?")
        decoded = unquote(path)
        if decoded == "/healthz":
            return plain(200, "OK")
        routes = self.routes  # one snapshot, in case a reload swaps them meanwhile
        found = find_route([item.route for item in routes], decoded)
        if found is None:
            return plain(404, "Not Found\n")
        target = next(item for item in routes if item.route is found)
        route = target.route
        headers = request.headers
        host = next((value for name, value in headers if name == "host"),
                    f"{request.server[0]}:{request.server[1]}")
        env = {
            "REQUEST_METHOD": request.method,
            "QUERY_STRING": query,
            "CONTENT_TYPE": next((value for name, value in headers if name == "content-type"), ""),
            "CONTENT_LENGTH": str(len(request.body)),
            "PATH_INFO": route.path_info(decoded),
            "PATH_TRANSLATED": route.path_info(decoded),
            "SCRIPT_NAME": route.script_name,
            "SERVER_NAME": request.server[0],
            "SERVER_PORT": str(request.server[1]),
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_SOFTWARE": "WAGI/1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "REMOTE_ADDR": request.client[0],
            "REMOTE_HOST": request.client[0],
            "REMOTE_USER": "",
            "AUTH_TYPE": "",
            "X_MATCHED_ROUTE": route.route,
            "X_FULL_URL": f"http://{host}{request.target}",
            "X_RAW_PATH_INFO": route.path_info(path),
        }
        for name, value in headers:
            if name not in NOT_PASSED:
                env["HTTP_" + name.upper().replace("-", "_")] = value
        env.update(self.settings.env)
        args = [pair for pair in query.split("&") if pair] if query else []
        argv = route.argv.replace("${SCRIPT_NAME}", route.script_name or "/").replace("${ARGS}", " ".join(args)).split()
        return Planned(target, argv, list(env.items()), request.body)

    def _respond(self, planned: Planned) -> Response:
        slot = self._free.get()
        try:
            target = planned.target
            failure, output = self._run(slot, target, target.route.entrypoint, planned.argv, planned.env,
                                        planned.body)
        finally:
            self._free.put(slot)
        return failure or parse_response(output)

    def _run(self, slot: Slot, loaded: LoadedRoute, function: str, argv: list[str],
             env: list[tuple[str, str]], body: bytes, *, ticks: int | None = None) -> tuple[Response | None, bytes]:
        """Run FUNCTION of LOADED's module in SLOT: the failure response, if any, and
        what the handler wrote to stdout. Given TICKS (a quick run), a handler still
        running after that many ticks raises _Overran, nothing of it logged. However
        the run ends, the slot's files are emptied: no request's body or output may
        reach the next one."""
        try:
            return self._run_in(slot, loaded, function, argv, env, body, ticks)
        finally:
            slot.clear()

    def _run_in(self, slot: Slot, loaded: LoadedRoute, function: str, argv: list[str],
                env: list[tuple[str, str]], body: bytes, ticks: int | None) -> tuple[Response | None, bytes]:
        wasmtime = self._wasmtime
        source = loaded.route.source
        settings = self.settings
        store = None
        quick = overran = False
        try:
            config = wasmtime.WasiConfig()
            config.argv = argv
            config.env = env
            for guest, host in loaded.route.volumes:
                config.preopen_dir(str(host), guest)
            if body:  # without one, stdin is wasmtime's empty stream: no file to open
                os.pwrite(slot.stdin, body, 0)
                config.stdin_file = f"/proc/self/fd/{slot.stdin}"
            config.stdout_file = f"/proc/self/fd/{slot.stdout}"
            config.stderr_file = f"/proc/self/fd/{slot.stderr}"
            store = wasmtime.Store(slot.engine)
            store.set_wasi(config)
            store.set_limits(memory_size=settings.max_memory)
            quick = ticks is not None
            ticks = ticks or max(1, round(settings.timeout / TICK_SECONDS))
            store.set_epoch_deadline(ticks)
            instance_pre = slot.instance_pre(loaded.path, loaded.generation)
            slot.deadline = slot.epoch + ticks
            slot.overflowed = False
            slot.running = True
            instance = instance_pre.instantiate(store)
            entry = instance.exports(store).get(function)
            if entry is None:
                self.log_error(f"{source}: no exported function {function!r}")
                return plain(500, ""), b""
            entry(store)
        except wasmtime.ExitTrap as exit_:
            if exit_.code != 0:
                self.log_error(f"{source}: exited with code {exit_.code}")
        except wasmtime.Trap as trap:
            if slot.overflowed:
                return self._too_much_output(source), b""
            if trap.trap_code == wasmtime.TrapCode.INTERRUPT and quick:
                overran = True
                raise _Overran from None
            if trap.trap_code == wasmtime.TrapCode.INTERRUPT:
                self.log_error(f"{source}: stopped after the {settings.timeout:g} s timeout")
                return plain(504, "Gateway Timeout\n"), b""
            self.log_error(f"{source}: trapped: {trap.message}")
            return plain(500, ""), b""
        except wasmtime.WasmtimeError as error:
            self.log_error(f"{source}: {error}")
            return plain(500, ""), b""
        except OSError as error:  # no room for the body, or no file descriptor left
            self.log_error(f"{source}: cannot run the module: {error.strerror}")
            return plain(503, "Service Unavailable\n"), b""
        finally:
            slot.running = False
            if store is not None:
                store.close()  # the instance's memory goes back now, not at the next GC
            errors = b"" if overran else slot.output(slot.stderr, STDERR_LOGGED)
            for line in errors.decode("utf-8", "replace").rstrip("\n").split("\n") if errors else ():
                self.log_error(f"{source}: {line}")
        if slot.overflowed or os.fstat(slot.stdout).st_size > settings.max_response:
            return self._too_much_output(source), b""
        return None, slot.output(slot.stdout, settings.max_response)

    def _too_much_output(self, source: str) -> Response:
        self.log_error(f"{source}: stopped: wrote more than --max-response {self.settings.max_response:,} bytes")
        return plain(502, "Bad Gateway: the handler's response is too large\n")


def _loaded(route: Route, path: str, generation: int, *, blocks: bool) -> LoadedRoute:
    limit = threading.BoundedSemaphore(route.http_max_concurrency) if route.http_max_concurrency else None
    # Run again from the start after a quick run overran, a handler must have done
    # nothing outside its instance (no volumes), and the loop must not wait on a lock.
    quick = not (blocks or route.volumes or limit)
    return LoadedRoute(route, path, generation, limit, quick)


def _bad_gateway(why: str) -> Response:
    return plain(502, f"Bad Gateway: {why}\n")


def parse_response(stdout: bytes) -> Response:
    """The handler's CGI response: header lines up to the first empty line, each ended
    by LF (a CR before it is ignored), then the body. Parsed as bytes, so that no other
    line separator splits a header; names must be HTTP tokens, values may not hold
    control characters, and the bytes of a value pass through as the handler wrote them."""
    headers: list[tuple[bytes, bytes]] = []
    position = 0
    while True:
        end = stdout.find(b"\n", position)
        line = stdout[position:] if end == -1 else stdout[position:end]
        position = len(stdout) if end == -1 else end + 1
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            break
        name, sep, value = line.partition(b":")
        if not sep or not _TOKEN.fullmatch(name):
            return _bad_gateway(f"invalid header line {line[:80]!r}")
        value = value.strip(b" \t")
        if _CONTROL.search(value):
            return _bad_gateway(f"control character in the {name.decode()} header")
        headers.append((name.lower(), value))
        if end == -1:
            break
    body = stdout[position:]
    names = {name for name, _ in headers}
    if not names & {b"content-type", b"location", b"status"}:
        return Response(500, ((b"content-type", b"text/plain"),), MISSING_HEADERS)
    status = 302 if b"location" in names else 200
    kept = []
    for name, value in headers:
        if name == b"status":
            code = value.split(b" ", 1)[0]
            if not (len(code) == 3 and code.isdigit() and 200 <= int(code) <= 599):
                return _bad_gateway(f"unparsable Status {value[:40]!r}")
            status = int(code)
        elif name == b"content-length":
            if not (value.isdigit() and int(value) == len(body)):
                return _bad_gateway(f"Content-Length {value[:40]!r} does not match the {len(body)}-byte body")
        elif name not in (b"connection", b"transfer-encoding", b"keep-alive"):
            kept.append((name, value))
    if status in _NO_BODY:
        body = b""
    return Response(status, tuple(kept), body)
