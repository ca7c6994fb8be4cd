"""Bounded readers for the files yowasm is told to read: data files, answers files,
modules.toml, env files.

Each of them may come from someone else. A reader takes at most MAX_FILE_BYTES,
wants UTF-8 text without NUL bytes, refuses YAML aliases (a few hundred bytes of
nested aliases expand to gigabytes: the "billion laughs"), refuses NUL characters and
lone surrogates written as escapes, wants a mapping with string keys at the top, and
turns every failure into one InputFileError (exit 2) naming the file, the key where
there is one, and the rule. Nothing is read past the limit.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from yowasm import yaml_cache
from yowasm.errors import InputFileError

#: Larger than any answers file, data file, modules.toml or env file a person writes
#: (a project's answers file is about 2 KiB), small enough to parse in well under a second.
MAX_FILE_BYTES = 256 * 1024


def read_text(path: Path, what: str, *, limit: int = MAX_FILE_BYTES) -> str:
    """PATH's text: at most LIMIT bytes of UTF-8 (a leading BOM is dropped), no NUL."""
    try:
        with open(path, "rb") as file:
            data = file.read(limit + 1)
    except OSError as error:
        raise InputFileError(f"Cannot read the {what} {path}: {error.strerror or error}.") from None
    if len(data) > limit:
        raise InputFileError(f"The {what} {path} is larger than {limit // 1024} KiB.",
                             hint=f"A {what} is a small text file; check that this is the right file.")
    if b"\0" in data:
        raise InputFileError(f"The {what} {path} is binary (it holds NUL bytes), not text.",
                             hint=f"A {what} is UTF-8 text; check that this is the right file.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputFileError(
            f"The {what} {path} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}).",
            hint="Save it as UTF-8.") from None
    return text.removeprefix("\ufeff")


def read_yaml_mapping(path: Path, what: str, *, example: str) -> dict[str, Any]:
    """PATH's YAML (or JSON) document: a mapping with string keys (empty: {}); parsed
    once per content (yowasm.yaml_cache), checked every time."""
    text = read_text(path, what)
    data = yaml_cache.lookup(_CACHE_KIND, text)
    parsed = data is yaml_cache.MISS
    if parsed:
        data = _parse_yaml(text, path, what, example)
    _refuse_unwritable(data, path, what)
    mapping = _mapping(data, path, what, example)
    if parsed:
        yaml_cache.store(_CACHE_KIND, text, data)
    return mapping


#: How read_yaml_mapping's values are known in the cache.
_CACHE_KIND = "readers.yaml"


def _parse_yaml(text: str, path: Path, what: str, example: str) -> Any:
    import yaml

    try:
        data = _load_yaml(text)
    except _AliasRefused as error:
        raise InputFileError(f"The {what} {path} uses a YAML alias ({error}): yowasm does not expand them.",
                             hint=f"Write each value out in full. Example: {example}") from None
    except yaml.YAMLError as error:
        raise InputFileError(f"The {what} {path} is not valid YAML or JSON: {_one_line(error)}.",
                             hint=f"Example: {example}") from None
    except RecursionError:
        raise InputFileError(f"The {what} {path} is nested too deeply.", hint=f"Example: {example}") from None
    except ValueError as error:  # e.g. an integer of more digits than Python converts
        raise InputFileError(f"The {what} {path} holds a value yowasm cannot read: {_one_line(error)}.",
                             hint=f"Example: {example}") from None
    return data


def read_toml(path: Path, what: str, *, example: str) -> dict[str, Any]:
    """PATH's TOML document (always a table, with string keys)."""
    import tomllib

    text = read_text(path, what)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InputFileError(f"The {what} {path} is not valid TOML: {error}.", hint=f"Example: {example}") from None
    except RecursionError:
        raise InputFileError(f"The {what} {path} is nested too deeply.", hint=f"Example: {example}") from None
    _refuse_unwritable(data, path, what)
    return data


def _refuse_unwritable(data: object, path: Path, what: str) -> None:
    """A NUL character or a lone surrogate (both can be written as escapes) in any key
    or value: no path, name or setting may hold one, and a surrogate cannot even be
    printed."""
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack += [*value.keys(), *value.values()]
        elif isinstance(value, list):
            stack += value
        elif isinstance(value, str) and _UNWRITABLE.search(value):
            kind = "a NUL character" if "\0" in value else "a lone surrogate (not a Unicode character)"
            raise InputFileError(f"The {what} {path} has {kind} in {_short(value)}.",
                                 hint="No key or value may hold one.")


_UNWRITABLE = re.compile("[\x00\ud800-\udfff]")


def _mapping(data: object, path: Path, what: str, example: str) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputFileError(f"The {what} {path} must hold a mapping of keys to values, not {kind_of(data)}.",
                             hint=f"Example: {example}")
    for key in data:
        if not isinstance(key, str):
            raise InputFileError(f"The {what} {path} has the key {_short(key)} ({kind_of(key)}): keys must be text.",
                                 hint=f"Example: {example}")
    return data


def kind_of(value: object) -> str:
    """How a YAML or TOML value's type reads in a message."""
    return {type(None): "null", list: "a list", dict: "a mapping", str: "text", bool: "true or false",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _short(value: object) -> str:
    try:
        shown = repr(value)
    except ValueError:  # an integer too long to print
        shown = type(value).__name__
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())


#: The deepest nesting the C parser is trusted with (its composer recurses in C, not in
#: Python, so Python's recursion limit does not guard it); no file yowasm reads comes close.
_C_DEPTH_LIMIT = 32


def _load_yaml(text: str) -> Any:
    """TEXT's document, parsed by libyaml's parser (several times faster than PyYAML's
    own) when it is a plain document: no alias, no explicit tag and no deep nesting,
    checked first on its parser events. Every other document, and any the C path fails on, goes through
    the pure-Python NoAliasLoader, whose verdict and message stand as they always have."""
    import yaml

    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            if _plain_document(text, fast):
                return yaml.load(text, Loader=fast)  # noqa: S506 (a SafeLoader)
        except (yaml.YAMLError, ValueError, RecursionError):
            pass
    return yaml.load(text, Loader=_loader())  # noqa: S506 (a SafeLoader)


def _plain_document(text: str, loader: type) -> bool:
    """Whether TEXT's parser events hold no alias, no explicit tag (`!!binary`, `!x`:
    where the two loaders' constructors part) and nest at most _C_DEPTH_LIMIT deep;
    stops at the first event that is not so."""
    import yaml

    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "tag", None) is not None:
            return False
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > _C_DEPTH_LIMIT:
                return False
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
    return True


@cache
def _loader() -> type:
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        """PyYAML's SafeLoader refusing aliases: what it builds is never larger than the
        text it read."""

        def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise _AliasRefused(f"*{event.anchor} on line {event.start_mark.line + 1}")
            return super().compose_node(parent, index)

    return NoAliasLoader


class _AliasRefused(Exception):
    pass
