"""The HTTP side of `yowasm serve`: uvicorn with its httptools (llhttp) parser.

Chosen by measurement on a 2-core machine (README.md, bench/serve.py): of granian,
uvicorn (httptools or h11), hypercorn and aiohttp, uvicorn + httptools was the fastest
that is also strict: llhttp refuses Transfer-Encoding with Content-Length, a bad chunk,
a bad or repeated Content-Length, and closes the connection; granian, faster still,
handed a truncated chunked body to the application as if it were whole.

What uvicorn does not bound, this module does: the time to receive a request head
(slowloris; uvicorn's keep-alive timer only starts after a first response) and the time
to receive a body; bodies, chunked or not, are capped by --max-body. A handler runs on
the event loop while it is quick (Gateway.run_quickly), else on a thread pool (a
handler that loops until its timeout holds only its own thread), in --workers
processes that share the listening socket and wasmtime's on-disk cache.
"""

from __future__ import annotations

import asyncio
import gc
import os
import pickle
import resource
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO, Callable

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from yowasm import __version__
from yowasm.errors import ServeError, YowasmError
from yowasm.gateway import Gateway, Request, Response, Settings, plain
from yowasm.text import literal
from yowasm.wagi import Route

LogAccess = Callable[[str, str, int, float], None]
LogLine = Callable[[str], None]
#: Status logged when the client went away before its response (as nginx logs it).
CLIENT_GONE = 499
#: File descriptors kept free for the handlers (each opens three) and the server itself.
RESERVED_DESCRIPTORS = 64
#: Connections the kernel holds for the workers to accept.
LISTEN_BACKLOG = 2048
#: How long `serve` waits for its workers to serve before it says it is serving.
WORKER_START_SECONDS = 30.0


@dataclass(frozen=True)
class Limits:
    """Bounds on what clients may hold (times in seconds, connections per worker
    process), and how many worker processes serve."""

    head_timeout: float = 10.0
    idle_timeout: float = 5.0
    body_timeout: float = 30.0
    max_connections: int = 1000
    workers: int = len(os.sched_getaffinity(0))  # the cores this process may run on


def connection_cap(wanted: int, slots: int) -> int:
    """WANTED, lowered to what this process's file-descriptor limit leaves room for."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - RESERVED_DESCRIPTORS - 3 * slots))


class _Server(uvicorn.Server):
    """uvicorn's server, each worker taking one connection at a time.

    asyncio accepts up to `backlog` connections each time the listening socket is ready,
    so the first worker to wake took a whole burst (wrk's 8 connections, all of them)
    while the others idled. Given a backlog of 1 it takes one; the socket is then put
    back to its real backlog. A worker busy running a handler is not waiting on the
    socket, so the next connection goes to one that is."""

    def __init__(self, config: uvicorn.Config, *, on_started: Callable[[], None] = lambda: None):
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        for listener in sockets or ():
            listener.listen(LISTEN_BACKLOG)
        # What start-up made lives as long as the server: out of the collector's sight,
        # so that its full collections, which come every so many requests, stay short.
        gc.freeze()
        self._on_started()


class _Config(uvicorn.Config):
    head_timeout: float = 10.0


class _OneSendPerStep:
    """A transport that sends what is written to it in one event-loop step with one
    send(): uvicorn writes a response's head and its body separately, and each send()
    to a loopback client cost about 30 us, a tenth of a hello request."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


class _Protocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for each request head, sending
    each response with one write."""

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(_OneSendPerStep(transport, self.loop))
        # asyncio sets TCP_NODELAY only on sockets it made itself; without it a second
        # write waits for the client's delayed ACK (40 ms).
        connection = transport.get_extra_info("socket")
        if connection is not None and connection.family in (socket.AF_INET, socket.AF_INET6):
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._arm_head_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:  # a keep-alive connection's next request
            self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        super().on_headers_complete()

    def connection_lost(self, exc) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.config.head_timeout, self._head_too_slow)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()  # nothing was a request yet, so nothing is answered


@dataclass(frozen=True)
class _Plan:
    """What a worker process needs to build its gateway (picklable: workers are spawned)."""

    routes: tuple[Route, ...]
    settings: Settings
    limits: Limits


class GatewayApp:
    """The ASGI application: reads the request (bounded), runs the handler (here while
    it is quick, else on a thread of its own), sends the response."""

    def __init__(self, plan: _Plan, *, log_error: LogLine, access_logger: Callable[[], LogAccess],
                 gateway: Gateway):
        self.plan = plan
        self.log_error = log_error
        self.access_logger = access_logger
        self.gateway = gateway
        self.log_access: LogAccess = lambda method, path, status, seconds: None
        self.executor: ThreadPoolExecutor | None = None
        self._last_warned: dict[str, float] = {}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                asyncio.get_running_loop().set_exception_handler(self._loop_exception)
                self.executor = ThreadPoolExecutor(self.gateway.settings.slots, thread_name_prefix="handler")
                self.log_access = self.access_logger()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.executor:
                    self.executor.shutdown(wait=False, cancel_futures=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _loop_exception(self, loop, context: dict) -> None:
        """One line per kind of trouble at most every few seconds, never a traceback.
        Out of file descriptors, asyncio logs each failed accept() (and retries each
        a second later: connections wait in the backlog meanwhile)."""
        message = context.get("message", "event loop error").split("(<")[0]  # no object reprs
        now = time.monotonic()
        if now - self._last_warned.get(message, -60.0) < 5:
            return
        self._last_warned[message] = now
        error = context.get("exception")
        detail = f": {error.strerror or error}" if isinstance(error, OSError) else f": {error}" if error else ""
        self.log_error(f"{message}{detail}")

    async def _http(self, scope, receive, send) -> None:
        started = time.perf_counter()
        method = scope["method"]
        target = scope["raw_path"].decode("latin-1")
        if scope["query_string"]:
            target += "?" + scope["query_string"].decode("latin-1")
        headers = tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"])
        response, close = await self._respond(scope, receive, method, target, headers)
        sent = await _send(send, response, close=close)
        self.log_access(method, literal(target), response.status if sent else CLIENT_GONE,
                        time.perf_counter() - started)

    async def _respond(self, scope, receive, method: str, target: str,
                       headers: tuple[tuple[str, str], ...]) -> tuple[Response, bool]:
        settings, limits = self.gateway.settings, self.plan.limits
        length = next((value for name, value in headers if name == "content-length"), None)
        if length is not None and int(length) > settings.max_body:  # llhttp let only digits through
            return plain(413, "Payload Too Large\n"), True
        chunked = any(name == "transfer-encoding" for name, _ in headers)
        body = bytearray()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limits.body_timeout
        more = chunked or length not in (None, "0")  # else there is no body to wait for
        while more:
            remaining = deadline - loop.time()
            try:
                message = await asyncio.wait_for(receive(), max(remaining, 0))
            except asyncio.TimeoutError:
                return plain(408, "Request Timeout\n"), True
            if message["type"] == "http.disconnect":
                return plain(CLIENT_GONE, ""), True
            body += message.get("body", b"")
            if len(body) > settings.max_body:
                return plain(413, "Payload Too Large\n"), True
            more = message.get("more_body", False)
        server, client = scope.get("server") or ("", 0), scope.get("client") or ("", 0)
        request = Request(method, target, headers, bytes(body), (server[0], server[1]), (client[0], client[1]))
        planned = self.gateway.plan(request)
        if isinstance(planned, Response):
            return planned, False
        response = self.gateway.run_quickly(planned)  # most handlers: here, no thread hop
        if response is None:
            response = await loop.run_in_executor(self.executor, self.gateway.run, planned)
        return response, False


async def _send(send, response: Response, *, close: bool) -> bool:
    """Send RESPONSE; False if the client was gone."""
    if response.status == CLIENT_GONE:
        return False
    headers = list(response.headers)
    if response.status not in (204, 304):
        headers.append((b"content-length", str(len(response.body)).encode()))
    if close:
        headers.append((b"connection", b"close"))
    try:
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})
    except OSError:
        return False
    return True


def serve(routes: list[Route], settings: Settings, limits: Limits, address: tuple[str, int], *,
          log_error: LogLine, access_logger: Callable[[], LogAccess],
          on_ready: Callable[[str, list[tuple[str, str, str]]], None], fetch_oci=None,
          reload_routes: Callable[[], list[Route]] | None = None,
          on_serving: Callable[[Callable[[], None], Callable[[float], bool]], None] | None = None) -> None:
    """Serve until interrupted (Ctrl-C or SIGTERM), then stop cleanly.

    This process loads the routes first (a broken module is reported before any other
    worker starts, and wasmtime's on-disk cache is warm for them), then serves as the
    first worker; --workers - 1 more processes serve the same socket. ON_SERVING is
    given a function that reloads every worker (from RELOAD_ROUTES) and one that waits
    up to some seconds and says whether serving has stopped."""
    gateway = Gateway(routes, settings, log_error=log_error, fetch_oci=fetch_oci)
    plan = _Plan(tuple(gateway.resolved_routes), settings, limits)
    try:
        listener = socket.create_server(address, family=socket.AF_INET6 if ":" in address[0] else socket.AF_INET,
                                        backlog=LISTEN_BACKLOG)
    except OSError as error:
        gateway.close()
        raise ServeError(f"Cannot listen on {address[0]}:{address[1]}: {error.strerror}.",
                         hint="Choose another port with --listen 127.0.0.1:PORT.") from None
    workers = _Workers(plan, listener, log_error=log_error, access_logger=access_logger)

    def reload_all() -> None:
        gateway.reload(reload_routes() if reload_routes else routes)
        workers.reload()

    try:
        workers.start(max(0, limits.workers - 1))
        if on_serving:
            on_serving(reload_all, gateway.wait_closed)
        on_ready("http://{}:{}".format(*listener.getsockname()[:2]), gateway.route_table)
        app = GatewayApp(plan, log_error=log_error, access_logger=access_logger, gateway=gateway)
        _Server(_config(app, plan)).run(sockets=[listener])
    finally:
        workers.stop()
        listener.close()
        gateway.close()


def _config(app: GatewayApp, plan: _Plan) -> _Config:
    config = _Config(
        app, http=_Protocol, loop="asyncio", lifespan="on", log_config=None, log_level="warning",
        access_log=False, proxy_headers=False, ws="none", timeout_keep_alive=max(1, round(plan.limits.idle_timeout)),
        limit_concurrency=connection_cap(plan.limits.max_connections, plan.settings.slots),
        server_header=False, headers=[("server", f"yowasm/{__version__}")],
        timeout_graceful_shutdown=max(1, round(plan.settings.timeout)),
        backlog=1,  # connections accepted at a time (see _Server)
    )
    config.head_timeout = plan.limits.head_timeout
    return config


class _Workers:
    """The other worker processes: each a fresh `python -m yowasm.server` given the
    plan on stdin and the listening socket, replaced if it dies, told to reload with
    SIGHUP, stopped with this process (and on their own if this process vanishes).

    Not uvicorn's Multiprocess supervisor: its idle parent process and
    multiprocessing's resource tracker cost 60 MB of the 100 MB budget."""

    def __init__(self, plan: _Plan, listener: socket.socket, *, log_error: LogLine,
                 access_logger: Callable[[], LogAccess]):
        self._payload = pickle.dumps((plan, log_error, access_logger))
        self._listener = os.dup(listener.fileno())  # its own: uvicorn closes the socket when it stops
        self._log_error = log_error
        self._processes: list[subprocess.Popen] = []
        self._stopping = threading.Event()

    def start(self, count: int, *, wait: float = WORKER_START_SECONDS) -> None:
        """Start COUNT workers and wait (up to WAIT seconds) until each serves or gives up."""
        started = [self._spawn() for _ in range(count)]
        self._processes = [process for process, _ in started]
        deadline = time.monotonic() + wait
        for _, ready in started:
            if ready is not None:
                with ready:
                    select.select([ready], [], [], max(0.0, deadline - time.monotonic()))
        if count:
            threading.Thread(target=self._supervise, daemon=True, name="workers").start()

    def _spawn(self) -> tuple[subprocess.Popen | _Gone, BinaryIO | None]:
        """A new worker, and a pipe that is readable once it serves (or has died)."""
        ready_read, ready_write = os.pipe()
        try:
            process = subprocess.Popen([sys.executable, "-m", "yowasm.server", str(self._listener), str(os.getpid()),
                                        str(ready_write)],
                                       stdin=subprocess.PIPE, pass_fds=(self._listener, ready_write),
                                       start_new_session=True)
            process.stdin.write(self._payload)
            process.stdin.close()
        except (OSError, ValueError) as error:  # out of processes, memory or descriptors
            os.close(ready_read)
            self._log_error(f"Cannot start a worker process: {getattr(error, 'strerror', None) or error}")
            return _Gone(STARTUP_FAILURE), None
        finally:
            os.close(ready_write)
        return process, os.fdopen(ready_read, "rb")

    def _supervise(self) -> None:
        while not self._stopping.wait(0.5):
            for index, process in enumerate(self._processes):
                code = process.poll()
                if code is None or isinstance(process, _Gone) or self._stopping.is_set():
                    continue
                if code == STARTUP_FAILURE:
                    self._log_error(f"Worker {process.pid} could not start; serving with one worker fewer.")
                    self._processes[index] = _Gone(code)
                else:
                    self._log_error(f"Worker {process.pid} stopped (exit code {code}); starting another.")
                    self._processes[index], ready = self._spawn()
                    if ready is not None:
                        ready.close()

    def reload(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        self._stopping.set()
        for process in self._processes:
            if process.poll() is None:
                process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        os.close(self._listener)


class _Gone:
    """A worker that could not start and is not tried again."""

    def __init__(self, code: int):
        self.returncode = code

    def send_signal(self, number: int) -> None:
        pass

    def poll(self) -> int:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        return self.returncode


STARTUP_FAILURE = 3


def _worker(descriptor: int, parent: int, ready: int) -> None:
    """One more worker process (see _Workers); it closes READY once it serves."""
    plan, log_error, access_logger = pickle.load(sys.stdin.buffer)
    listener = socket.socket(fileno=descriptor)
    try:
        gateway = Gateway(list(plan.routes), plan.settings, log_error=log_error)
    except YowasmError as error:
        log_error(error.message)
        sys.exit(STARTUP_FAILURE)

    def orphaned() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    def reload() -> None:
        try:
            gateway.reload(list(plan.routes))
            log_error(f"Worker {os.getpid()} reloaded its modules")
        except YowasmError as error:
            log_error(f"Worker {os.getpid()}: reload failed, still serving the last good module: {error.message}")

    threading.Thread(target=orphaned, daemon=True, name="orphaned").start()
    signal.signal(signal.SIGHUP, lambda number, frame: threading.Thread(target=reload).start())
    app = GatewayApp(plan, log_error=log_error, access_logger=access_logger, gateway=gateway)
    try:
        _Server(_config(app, plan), on_started=lambda: os.close(ready)).run(sockets=[listener])
    finally:
        gateway.close()


if __name__ == "__main__":
    _worker(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
