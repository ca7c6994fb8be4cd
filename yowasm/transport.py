"""HTTP/1.1 for the registry client: h11 (the protocol library under uvicorn and
httpx's core) frames every request and reads every reply; this module keeps the
sockets: one kept-alive connection per origin, TLS verified against the system's CAs
(or a given CA file), proxies from the environment, and nothing the caller did not ask
for: no redirects followed, no credentials added (no netrc), no content decoding.

Not the standard library's http.client: importing it takes about 18 ms (it imports
ssl, and email's header parser, even for plain HTTP), h11 about 9, and ssl is imported
here only for an https origin. A reply's status line and headers may take 64 KiB
together; a reply h11 finds outside HTTP/1.1 (its framing, its header syntax, an
encoding other than chunked) is a ProtocolError before its body and ConnectionFailed
within it, never a guess."""

from __future__ import annotations

import os
import select
import socket
from collections.abc import Mapping
from typing import Any, Callable, Iterator
from urllib.parse import unquote, urlsplit

import h11

#: How an HTTPS hello answered in plain HTTP shows in OpenSSL's errors.
_PLAIN_HTTP_ANSWERS = ("WRONG_VERSION_NUMBER", "record layer failure", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST")
#: A reply's status line and header fields together, at most (and a chunk's size line).
MAX_HEAD = 64 * 1024
#: 1xx interim answers skipped before the real one, at most.
_MAX_INTERIM = 10
_RECEIVE = 64 * 1024
#: A bytes body at most this long goes out in one send with the request's head.
_JOIN_LIMIT = 64 * 1024


def plain_http_answer(error: BaseException) -> bool:
    """Whether a TLS failure is a peer that answered the hello in plain HTTP."""
    return any(mark in str(error.__cause__ or error) for mark in _PLAIN_HTTP_ANSWERS)


class TransportError(Exception):
    """The request did not get an answer; `reason` says why, without URLs."""

    @property
    def reason(self) -> str:
        cause = self.__cause__ or self
        if isinstance(self, (ProtocolError, InvalidRequest)) and str(self):
            return str(self)
        return str(cause) or type(cause).__name__


class TLSError(TransportError):
    """The TLS handshake failed (verification, or a peer that does not speak TLS)."""


class ConnectionFailed(TransportError):
    """No connection, or it broke before the whole answer arrived."""


class TimedOut(TransportError):
    pass


class ProtocolError(TransportError):
    """The peer answered something that is not HTTP/1.x."""


class InvalidRequest(TransportError):
    """A URL or header value h11 will not send as it is (a space, a line break or
    another control character), refused rather than let it split the request."""


Origin = tuple[str, str, int]


class Headers(Mapping):
    """A reply's header fields by case-insensitive name; the first of a repeated field
    (as http.client's `get`)."""

    def __init__(self, fields: list[tuple[bytes, bytes]]):
        self._fields = [(name.decode("ascii"), value.decode("latin-1")) for name, value in fields]
        self._first: dict[str, str] = {}
        for name, value in self._fields:
            self._first.setdefault(name.lower(), value)

    def __getitem__(self, name: str) -> str:
        return self._first[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._first

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self._fields if key.lower() == name.lower()]


class _Connection:
    """One socket to one origin (or to a proxy) and the h11 state of its exchanges."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.http = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        #: An HTTP proxy takes absolute URLs as targets, with these headers.
        self.proxy_headers: dict[str, str] | None = None
        #: Whether any byte of the current exchange's answer has come.
        self._received = False

    def send(self, event: Any | Callable[[], Any]) -> bytes:
        """EVENT's bytes (EVENT made here when it is a callable: h11 checks a request's
        target and fields as it makes it)."""
        try:
            return self.http.send(event() if callable(event) else event)
        except h11.LocalProtocolError as error:
            raise InvalidRequest(str(error)) from None

    def next_event(self, *, in_body: bool) -> Any:
        """The next event of the reply, receiving as it needs; a reply outside HTTP/1.1
        is a ProtocolError in its head and ConnectionFailed in its body."""
        while True:
            try:
                event = self.http.next_event()
            except h11.RemoteProtocolError as error:
                if not self._received:
                    raise ConnectionFailed("the connection closed without an answer") from None
                if in_body:
                    raise ConnectionFailed(str(error)) from None
                raise ProtocolError(str(error)) from None
            if event is not h11.NEED_DATA:
                return event
            try:
                data = self.sock.recv(_RECEIVE)
            except (socket.timeout, TimeoutError) as error:
                raise TimedOut() from error
            except OSError as error:
                raise ConnectionFailed() from error
            self._received = self._received or bool(data)
            self.http.receive_data(data)  # b"": the peer closed

    def start(self) -> None:
        """A new exchange on this connection: nothing received for it yet."""
        self._received = False

    def close(self) -> None:
        self.sock.close()


class Response:
    """A reply's status and headers, its body read on demand within its framing."""

    def __init__(self, status: int, headers: Headers, connection: _Connection, release):
        self.status, self.headers = status, headers
        self._connection = connection
        self._pending = b""
        self._done = False
        self._release = release

    @property
    def complete(self) -> bool:
        """Whether the whole body has been read."""
        return self._done

    def read1(self, amount: int) -> bytes:
        """Up to AMOUNT bytes of the body, as soon as some have arrived; b"" at its end."""
        if amount <= 0:
            return b""
        while not self._pending and not self._done:
            event = self._connection.next_event(in_body=True)
            if isinstance(event, h11.Data):
                self._pending = bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._done = True
            else:
                raise ConnectionFailed(f"the answer's body ended in {type(event).__name__}")
        data, self._pending = self._pending[:amount], self._pending[amount:]
        return data

    def read(self, amount: int) -> bytes:
        """Up to AMOUNT bytes of the body (fewer only at its end)."""
        chunks, left = [], amount
        while left > 0 and (chunk := self.read1(left)):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        if self._release is not None:
            release, self._release = self._release, None
            release(self, self._connection)

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _origin(url: str) -> Origin:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def _proxy_for(url: str) -> str | None:
    if not any(key.lower().endswith("_proxy") for key in os.environ):
        return None
    import urllib.request

    host = urlsplit(url).hostname or ""
    if urllib.request.proxy_bypass_environment(host):
        return None
    return urllib.request.getproxies_environment().get(urlsplit(url).scheme)


def _host_bytes(host: str) -> bytes:
    # Encoded here: the socket module encodes a str host with the idna codec, an import.
    return host.encode("ascii") if host.isascii() else host.encode("idna")


def _authority(host: str, port: int, scheme: str) -> str:
    """HOST[:PORT] as a Host header or CONNECT target writes it (the port left out
    where it is the scheme's own; none is the scheme's own for CONNECT)."""
    shown = f"[{host}]" if ":" in host else host
    return shown if port == {"https": 443, "http": 80}.get(scheme) else f"{shown}:{port}"


def _reply(connection: _Connection) -> tuple[int, Headers]:
    """The status and header fields of the next answer, past at most _MAX_INTERIM 1xx ones."""
    for _ in range(_MAX_INTERIM + 1):
        event = connection.next_event(in_body=False)
        if isinstance(event, h11.Response):
            return event.status_code, Headers(list(event.headers))
        if not isinstance(event, h11.InformationalResponse):
            raise ConnectionFailed("the connection closed without an answer")
    raise ProtocolError(f"more than {_MAX_INTERIM} interim (1xx) answers")


class Transport:
    def __init__(self, *, verify: bool | str, timeout: float, user_agent: str):
        self.verify, self.timeout, self.user_agent = verify, timeout, user_agent
        self._connections: dict[Origin, _Connection] = {}
        self._context: Any = None

    def _ssl_context(self):
        if self._context is None:
            import ssl

            if self.verify is False:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            elif isinstance(self.verify, str):
                context = ssl.create_default_context(cafile=self.verify)
            else:
                # The bundle requests and curl users point at, else the system's store.
                bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
                context = ssl.create_default_context(cafile=bundle if bundle and os.path.isfile(bundle) else None)
            self._context = context
        return self._context

    def _socket(self, host: str, port: int) -> socket.socket:
        try:
            sock = socket.create_connection((_host_bytes(host), port), timeout=self.timeout)
        except (socket.timeout, TimeoutError) as error:
            raise TimedOut() from error
        except OSError as error:
            raise ConnectionFailed() from error
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _connect(self, url: str) -> _Connection:
        scheme, host, port = _origin(url)
        proxy = _proxy_for(url)
        if proxy:
            parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            proxy_headers: dict[str, str] = {}
            if parts.username:
                import base64

                pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
                proxy_headers["Proxy-Authorization"] = "Basic " + base64.b64encode(pair).decode()
            sock = self._socket(parts.hostname or "", parts.port or 8080)
            if scheme == "http":
                connection = _Connection(sock)
                connection.proxy_headers = proxy_headers
                return connection
            try:
                self._tunnel(sock, host, port, proxy_headers)
            except BaseException:
                sock.close()
                raise
        else:
            sock = self._socket(host, port)
        if scheme == "https":
            import ssl

            try:
                sock = self._ssl_context().wrap_socket(sock, server_hostname=host)
            except ssl.SSLError as error:
                sock.close()
                raise TLSError() from error
            except (socket.timeout, TimeoutError) as error:
                sock.close()
                raise TimedOut() from error
            except OSError as error:
                sock.close()
                raise ConnectionFailed() from error
        return _Connection(sock)

    def _tunnel(self, sock: socket.socket, host: str, port: int, headers: Mapping[str, str]) -> None:
        """CONNECT through an HTTP proxy to HOST:PORT, its answer read by h11 too."""
        authority = _authority(host, port, "")
        tunnel = _Connection(sock)
        tunnel.start()
        request = lambda: h11.Request(method="CONNECT", target=authority,  # noqa: E731
                                      headers=[("Host", authority), *headers.items()])
        try:
            sock.sendall(tunnel.send(request) + tunnel.send(h11.EndOfMessage()))
        except OSError as error:
            raise ConnectionFailed() from error
        status, _ = _reply(tunnel)
        if status != 200:
            raise ConnectionFailed(f"the proxy refused the tunnel: HTTP {status}")
        if tunnel.http.trailing_data[0]:
            raise ProtocolError("the proxy sent data before the tunnel was used")

    def _connection(self, url: str) -> _Connection:
        origin = _origin(url)
        connection = self._connections.pop(origin, None)
        if connection is not None:
            # A kept-alive connection the server has closed (or sent junk on) is readable.
            readable, _, _ = select.select([connection.sock], [], [], 0)
            if readable:
                connection.close()
                connection = None
        return connection or self._connect(url)

    def request(self, method: str, url: str, *, headers: Mapping[str, str], body: Any = None) -> Response:
        parts = urlsplit(url)
        scheme, host, port = origin = _origin(url)
        connection = self._connection(url)
        try:
            target = url if connection.proxy_headers is not None else \
                (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            fields = {"Host": _authority(host, port, scheme), "User-Agent": self.user_agent,
                      "Accept-Encoding": "identity", **(connection.proxy_headers or {}), **headers}
            if isinstance(body, (bytes, bytearray)):
                fields.setdefault("Content-Length", str(len(body)))
            elif body is None and method in ("POST", "PUT", "PATCH"):
                fields.setdefault("Content-Length", "0")
            connection.start()
            head = connection.send(lambda: h11.Request(method=method, target=target, headers=list(fields.items())))
            self._send_body(connection, head, body)
            status, reply_headers = _reply(connection)
        except BaseException:
            connection.close()
            raise

        def release(response: Response, used: _Connection) -> None:
            if not response.complete and not response._pending:
                try:  # a reply with no body (HEAD, 204, Content-Length: 0) is already complete
                    response._done = isinstance(used.http.next_event(), h11.EndOfMessage)
                except h11.RemoteProtocolError:
                    pass
            if response.complete and used.http.our_state is h11.DONE and used.http.their_state is h11.DONE \
                    and origin not in self._connections:
                used.http.start_next_cycle()
                self._connections[origin] = used  # fully read: the connection can be reused
            else:
                used.close()

        return Response(status, reply_headers, connection, release)

    def _send_body(self, connection: _Connection, head: bytes, body: Any) -> None:
        """The request's head, then its body (bytes, or a file-like object read to its
        end), then its end."""
        try:
            if body is None or isinstance(body, (bytes, bytearray)):
                data = connection.send(h11.Data(data=bytes(body))) if body else b""
                end = connection.send(h11.EndOfMessage())
                if len(data) <= _JOIN_LIMIT:
                    connection.sock.sendall(head + data + end)
                else:
                    connection.sock.sendall(head)
                    connection.sock.sendall(data)
                    connection.sock.sendall(end)
                return
            connection.sock.sendall(head)
            while block := body.read(_RECEIVE):
                connection.sock.sendall(connection.send(h11.Data(data=block)))
            connection.sock.sendall(connection.send(h11.EndOfMessage()))
        except (socket.timeout, TimeoutError) as error:
            raise TimedOut() from error
        except OSError as error:
            raise ConnectionFailed() from error

    def speaks_tls(self, url: str) -> bool:
        """Whether the server at URL's origin answers a TLS hello in TLS; False when it
        answers in plain HTTP. Only the hello is sent, so no certificates are loaded
        for it (that costs more than the probe); the real connection verifies."""
        if _proxy_for(url):
            return True
        import ssl

        _, host, port = _origin(url)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            with self._socket(host, port) as raw:
                with context.wrap_socket(raw, server_hostname=host):
                    return True
        except ssl.SSLError as error:
            return not plain_http_answer(error)  # another TLS failure: the verified attempt reports it
        except (socket.timeout, TimeoutError) as error:
            raise TimedOut() from error
        except OSError as error:
            raise ConnectionFailed() from error

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()
