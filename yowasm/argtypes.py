"""The command line's values, parsed and checked where they come in (as httpie's
cli/argtypes): each parser takes the text of one option and returns a domain value or
raises UsageError naming the option, the rule and an example.

Only yowasm.errors at import: `yowasm run` parses its options before anything heavy
loads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from yowasm.errors import UsageError


@dataclass(frozen=True)
class Preopen:
    """A host folder a module may use, and its path inside the module."""

    host: Path
    guest: str


def parse_pairs(values: Iterable[str], option: str, example: str) -> list[tuple[str, str]]:
    """The KEY=VALUE values of a repeatable option such as --env, --annotation or --data."""
    pairs = []
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key or "\0" in value:
            raise UsageError(f"Invalid {option} {value!r}: must be KEY=VALUE with a non-empty KEY.",
                             hint=f"Example of a valid {option}: {example}")
        pairs.append((key, text))
    return pairs


def parse_annotations(values: Iterable[str]) -> dict[str, str]:
    """`publish --annotation KEY=VALUE`, repeatable: the manifest's annotations."""
    return dict(parse_pairs(values, "--annotation", "org.opencontainers.image.source=https://github.com/octocat/hello"))


def parse_login_host(text: str) -> tuple[str, str | None]:
    """`login` and `logout` take HOST[:PORT], also written http(s)://HOST[:PORT]:
    (the registry, the scheme written or None)."""
    from yowasm.reference import canonical_registry, split_scheme, validate_host

    scheme, rest = split_scheme(text.strip())
    return canonical_registry(validate_host(rest.removesuffix("/v2").rstrip("/"))), scheme


def parse_env(values: Iterable[str]) -> tuple[tuple[str, str], ...]:
    return tuple(parse_pairs(values, "--env", "GREETING=hello"))


def parse_dir(value: str) -> Preopen:
    """HOST[:GUEST] (wasmtime's HOST::GUEST also accepted); GUEST defaults to HOST."""
    host, sep, guest = value.partition("::") if "::" in value else value.partition(":")
    path = Path(host).expanduser()
    if not path.is_dir():
        raise UsageError(
            f"Invalid --dir {value!r}: {host!r} is not a folder.",
            hint="Example of a valid --dir: ./data:/data (host folder, then its path in the module)",
        )
    return Preopen(path, guest if sep and guest else host)


def parse_listen(value: str) -> tuple[str, int]:
    """HOST:PORT, for `serve --listen` (an IPv6 host in brackets: [::1]:8080)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise UsageError(f"Invalid --listen {value!r}: must be HOST:PORT with a port from 1 to 65535.",
                         hint="Example of a valid --listen: 127.0.0.1:3000")
    return host.strip("[]"), int(port)


#: What each unit of a size multiplies by.
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2, "mib": 1024**2,
          "g": 1000**3, "gb": 1000**3, "gib": 1024**3}


def parse_size(value: str, option: str) -> int:
    """A size in bytes, with an optional unit: 1048576, 1MiB, 512KiB, 2GB."""
    text = value.strip().lower()
    number = text.rstrip("kmgib")
    unit = text[len(number):]
    if not (number.isascii() and number.isdigit()) or unit not in _UNITS or int(number) == 0:
        raise UsageError(f"Invalid {option} {value!r}: must be a positive number of bytes, optionally with "
                         "a unit (KiB, MiB, GiB, KB, MB, GB).", hint=f"Example of a valid {option}: 16MiB")
    return int(number) * _UNITS[unit]
