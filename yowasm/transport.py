"""HTTP/1.1 for the registry client over the standard library's http.client: one
kept-alive connection per origin, TLS verified against the system's CAs (or a given CA
file), proxies from the environment, and nothing the caller did not ask for: no
redirects followed, no credentials added (no netrc), no content decoding.

It is what `requests` would do here at a fraction of its start-up cost (importing
requests takes longer than pushing a 1 MB module to a local registry)."""

from __future__ import annotations

import http.client
import os
import select
import socket
import ssl
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import unquote, urlsplit


#: How an HTTPS hello answered in plain HTTP shows in OpenSSL's errors.
_PLAIN_HTTP_ANSWERS = ("WRONG_VERSION_NUMBER", "record layer failure", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST")


def plain_http_answer(error: BaseException) -> bool:
    """Whether a TLS failure is a peer that answered the hello in plain HTTP."""
    return any(mark in str(error.__cause__ or error) for mark in _PLAIN_HTTP_ANSWERS)


class TransportError(Exception):
    """The request did not get an answer; `reason` says why, without URLs."""

    @property
    def reason(self) -> str:
        cause = self.__cause__ or self
        return str(cause) or type(cause).__name__


class TLSError(TransportError):
    """The TLS handshake failed (verification, or a peer that does not speak TLS)."""


class ConnectionFailed(TransportError):
    """No connection, or it broke before the whole answer arrived."""


class TimedOut(TransportError):
    pass


class ProtocolError(TransportError):
    """The peer answered something that is not HTTP/1.x."""


Origin = tuple[str, str, int]


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    _raw: http.client.HTTPResponse
    _release: Any

    def read1(self, amount: int) -> bytes:
        """Up to AMOUNT bytes of the body, as soon as some have arrived."""
        try:
            return self._raw.read1(amount)
        except (socket.timeout, TimeoutError) as error:
            raise TimedOut() from error
        except (OSError, http.client.HTTPException) as error:
            raise ConnectionFailed() from error

    def read(self, amount: int) -> bytes:
        """Up to AMOUNT bytes of the body (fewer only at its end)."""
        chunks, left = [], amount
        while left > 0 and (chunk := self.read1(left)):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self._release(self)

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


class Transport:
    def __init__(self, *, verify: bool | str, timeout: float, user_agent: str):
        self.verify, self.timeout, self.user_agent = verify, timeout, user_agent
        self._connections: dict[Origin, http.client.HTTPConnection] = {}
        self._context: ssl.SSLContext | None = None

    def _ssl_context(self) -> ssl.SSLContext:
        if self._context is None:
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

    def _connect(self, url: str) -> http.client.HTTPConnection:
        scheme, host, port = _origin(url)
        proxy = _proxy_for(url)
        if proxy:
            parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            headers = {}
            if parts.username:
                import base64

                pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
                headers["Proxy-Authorization"] = "Basic " + base64.b64encode(pair).decode()
            proxy_host, proxy_port = parts.hostname or "", parts.port or 8080
            if scheme == "https":
                connection = http.client.HTTPSConnection(proxy_host, proxy_port, timeout=self.timeout,
                                                         context=self._ssl_context())
                connection.set_tunnel(host, port, headers=headers)
                return connection
            connection = http.client.HTTPConnection(proxy_host, proxy_port, timeout=self.timeout)
            connection._yowasm_proxy_headers = headers  # noqa: SLF001 - sent with each request
            return connection
        if scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=self.timeout, context=self._ssl_context())
        return http.client.HTTPConnection(host, port, timeout=self.timeout)

    def _connection(self, url: str) -> http.client.HTTPConnection:
        origin = _origin(url)
        connection = self._connections.pop(origin, None)
        if connection is not None and connection.sock is not None:
            # A kept-alive connection the server has closed (or sent junk on) is readable.
            readable, _, _ = select.select([connection.sock], [], [], 0)
            if readable:
                connection.close()
                connection = None
        return connection or self._connect(url)

    def request(self, method: str, url: str, *, headers: Mapping[str, str], body: Any = None) -> Response:
        parts = urlsplit(url)
        connection = self._connection(url)
        proxy_headers = getattr(connection, "_yowasm_proxy_headers", None)
        target = url if proxy_headers is not None else (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"User-Agent": self.user_agent, "Accept-Encoding": "identity", **(proxy_headers or {}), **headers}
        if body is None and method in ("POST", "PUT", "PATCH"):
            headers.setdefault("Content-Length", "0")
        try:
            connection.request(method, target, body=body, headers=headers)
            raw = connection.getresponse()
        except ssl.SSLError as error:
            connection.close()
            raise TLSError() from error
        except (socket.timeout, TimeoutError) as error:
            connection.close()
            raise TimedOut() from error
        except (http.client.BadStatusLine, http.client.LineTooLong) as error:
            connection.close()
            if isinstance(error, http.client.RemoteDisconnected):
                raise ConnectionFailed() from error
            raise ProtocolError() from error
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            if "header" in str(error).lower():
                raise ProtocolError() from error
            raise ConnectionFailed() from error
        origin = _origin(url)

        def release(response: Response) -> None:
            if not raw.isclosed() and (method == "HEAD" or raw.length == 0):
                raw.read()  # nothing to read: this marks the answer complete
            if raw.isclosed() and not raw.will_close and origin not in self._connections:
                self._connections[origin] = connection  # fully read: the connection can be reused
            else:
                connection.close()

        return Response(raw.status, raw.headers, raw, release)

    def speaks_tls(self, url: str) -> bool:
        """Whether the server at URL's origin answers a TLS hello in TLS; False when it
        answers in plain HTTP. Only the hello is sent, so no certificates are loaded
        for it (that costs more than the probe); the real connection verifies."""
        if _proxy_for(url):
            return True
        _, host, port = _origin(url)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            with socket.create_connection((host, port), timeout=self.timeout) as raw:
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
