"""WAGI configuration: the routes of a modules.toml (or of one module), validated.

Contract: ../shared/notes/wagi.md. `route` with a trailing `/...` matches everything
below it; `module` is a path (relative to modules.toml), a `file://` URL or an
`oci:` reference; `entrypoint`, `volumes`, `allowed_hosts` and `argv` as WAGI reads
them. Errors name the field, the rule and a valid example.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from yowasm.errors import ServeError
from yowasm.readers import read_text, read_toml
from yowasm.text import literal, quoted

WILDCARD = "/..."
DEFAULT_ARGV = "${SCRIPT_NAME} ${ARGS}"
_ROUTE_RE = re.compile(r"/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*")


@dataclass(frozen=True)
class Route:
    """One route: the path it answers and the module (and function) that answers."""

    route: str
    module: str
    entrypoint: str = "_start"
    volumes: tuple[tuple[str, Path], ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    argv: str = DEFAULT_ARGV
    http_max_concurrency: int | None = None
    #: The module's source as written in modules.toml, for messages.
    source: str = field(default="", compare=False)

    @cached_property  # asked several times for each request
    def is_wildcard(self) -> bool:
        return self.route.endswith(WILDCARD)

    @cached_property
    def script_name(self) -> str:
        """The route without its `/...` wildcard (CGI SCRIPT_NAME)."""
        return self.route[: -len(WILDCARD)] if self.is_wildcard else self.route

    def matches(self, path: str) -> bool:
        if not self.is_wildcard:
            return path == self.route
        prefix = self.script_name
        return path == prefix or path.startswith(prefix + "/") or prefix == ""

    def path_info(self, path: str) -> str:
        return path[len(self.script_name):] if self.is_wildcard else ""

    @property
    def is_oci(self) -> bool:
        return self.module.startswith("oci:")


def _invalid(where: str, field_name: str, value: Any, rule: str, example: str) -> ServeError:
    return ServeError(
        f"Invalid {field_name} {quoted(value)} in {literal(where, single_line=True)}: {rule}.",
        hint=f"Example of a valid {field_name}: {example}",
        exit_code=2,
    )


def load_modules_toml(path: Path) -> list[Route]:
    data = read_toml(path, "WAGI modules file", example='[[module]] route = "/..." module = "build/hello.wasm"')
    modules = data.get("module")
    if not isinstance(modules, list) or not modules:
        raise _invalid(str(path), "module table", modules, "modules.toml needs one or more [[module]] tables",
                       '[[module]] route = "/..." module = "build/hello.wasm"')
    return [_route(entry, path.parent, f"{path} [[module]] #{index}") for index, entry in enumerate(modules, 1)]


def _route(entry: Any, base: Path, where: str) -> Route:
    if not isinstance(entry, dict):
        raise _invalid(where, "module table", entry, "must be a table", 'route = "/..."')
    unknown = set(entry) - {"route", "module", "entrypoint", "volumes", "allowed_hosts", "argv",
                            "http_max_concurrency", "bindle_server"}
    if unknown:
        raise _invalid(where, "key", sorted(unknown)[0], "is not a WAGI module setting", "entrypoint")
    route = entry.get("route")
    if not isinstance(route, str) or not _ROUTE_RE.fullmatch(route) or "/.../" in route:
        raise _invalid(where, "route", route, "must start with '/' and may end with '/...' to match everything below",
                       "/api/...")
    module = entry.get("module")
    if not isinstance(module, str) or not module:
        raise _invalid(where, "module", module, "must be a path, a file:// URL or an oci: reference",
                       "build/hello.wasm")
    if module.startswith("bindle:"):
        raise _invalid(where, "module", module, "bindle: references are deprecated and not supported",
                       "oci:ghcr.io/octocat/hello:v1")
    resolved = module if module.startswith("oci:") else str(_local_path(module, base))
    entrypoint = entry.get("entrypoint", "_start")
    if not isinstance(entrypoint, str) or not entrypoint:
        raise _invalid(where, "entrypoint", entrypoint, "must name an exported function", "_start")
    volumes = entry.get("volumes", {})
    if not isinstance(volumes, dict):
        raise _invalid(where, "volumes", volumes, "must be a table of guest path = host path", '{ "/data" = "data" }')
    preopens = []
    for guest, host in volumes.items():
        host_path = (base / str(host)).resolve()
        if not host_path.is_dir():
            raise _invalid(where, "volume", f"{guest} = {host}", f"{host_path} is not a folder", '"/data" = "data"')
        preopens.append((str(guest), host_path))
    hosts = entry.get("allowed_hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(host, str) for host in hosts):
        raise _invalid(where, "allowed_hosts", hosts, "must be a list of URLs", '["https://api.example.com"]')
    argv = entry.get("argv", DEFAULT_ARGV)
    if not isinstance(argv, str):
        raise _invalid(where, "argv", argv, "must be a string", DEFAULT_ARGV)
    concurrency = entry.get("http_max_concurrency")
    if concurrency is not None and (not isinstance(concurrency, int) or concurrency < 1):
        raise _invalid(where, "http_max_concurrency", concurrency, "must be a positive integer", "8")
    return Route(route, resolved, entrypoint, tuple(preopens), tuple(hosts), argv, concurrency, source=module)


def _local_path(module: str, base: Path) -> Path:
    if module.startswith("file://"):
        module = module[len("file://"):]
    return (base / module).resolve()


def single_module(path: Path) -> list[Route]:
    """A lone module answers every path."""
    return [Route(WILDCARD, str(path.resolve()), source=str(path))]


def sub_routes(route: Route, listing: str) -> list[Route]:
    """The routes a module's `_routes` export lists: lines `/path function`, each
    appended to the module's route and answered by that function."""
    routes = []
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) != 2 or not parts[0].startswith("/"):
            continue
        path, function = parts
        routes.append(Route(route.script_name + path, route.module, function, route.volumes,
                            route.allowed_hosts, route.argv, route.http_max_concurrency, route.source))
    return routes


def find_route(routes: list[Route], path: str) -> Route | None:
    """An exact route wins; otherwise the wildcard route with the longest prefix."""
    exact = [route for route in routes if not route.is_wildcard and route.matches(path)]
    if exact:
        return exact[0]
    wildcards = [route for route in routes if route.is_wildcard and route.matches(path)]
    return max(wildcards, key=lambda route: len(route.script_name), default=None)


def parse_env_file(path: Path) -> list[tuple[str, str]]:
    pairs = []
    lines = read_text(path, "env file").splitlines()
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not key.strip():
            raise _invalid(f"{path} line {number}", "variable", line, "must be KEY=VALUE", "GREETING=hello")
        pairs.append((key.strip(), value.strip().strip('"')))
    return pairs
