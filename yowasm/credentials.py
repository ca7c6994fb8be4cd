"""Registry credentials where other tools keep them: the Docker config file, its
credential helpers, and the YOWASM_REGISTRY_USERNAME / YOWASM_REGISTRY_PASSWORD
environment variables (which win). Secrets never appear in a repr or a message."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from yowasm.errors import AuthError, FileSystemError, UsageError
from yowasm.reference import DOCKER_HUB, DOCKER_HUB_ALIASES, canonical_registry
from yowasm.text import literal

USERNAME_VARIABLE = "YOWASM_REGISTRY_USERNAME"
PASSWORD_VARIABLE = "YOWASM_REGISTRY_PASSWORD"
#: Docker config files are a few kilobytes; anything past this is not one.
CONFIG_LIMIT = 1024 * 1024
#: How long `login` waits for another login holding the config file's lock.
LOCK_TIMEOUT = 30
_HELPER_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"
_EXAMPLE = '{"auths": {"ghcr.io": {"auth": "BASE64 OF USER:TOKEN"}}}'


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)


def docker_config_path() -> Path:
    folder = os.environ.get("DOCKER_CONFIG")
    return (Path(folder) if folder else Path.home() / ".docker") / "config.json"


def _refuse(path: Path, rule: str) -> UsageError:
    return UsageError(f"Cannot use the Docker config file {literal(path)}: {rule}.",
                      hint=f"It was left as it is. Fix or move it (or set DOCKER_CONFIG to another folder); "
                      f"a valid file looks like {_EXAMPLE}")


def _read_config(path: Path) -> dict:
    """The config as a checked mapping; {} when there is none. Refused, never
    guessed at: a file that is too big, not UTF-8 JSON, or of another shape."""
    try:
        # O_NONBLOCK: a FIFO put in its place must not hang yowasm.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise FileSystemError(f"Cannot read the Docker config file {literal(path)}: {error.strerror}.") from None
    with os.fdopen(descriptor, "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise _refuse(path, "it is not a regular file")
        if status.st_size > CONFIG_LIMIT:
            raise _refuse(path, f"it is {status.st_size:,} bytes, over the {CONFIG_LIMIT:,} a config file may have")
        try:
            data = file.read(CONFIG_LIMIT + 1)
        except OSError as error:
            raise FileSystemError(f"Cannot read the Docker config file {literal(path)}: {error.strerror}.") from None
    if len(data) > CONFIG_LIMIT:
        raise _refuse(path, f"it is over the {CONFIG_LIMIT:,} bytes a config file may have")
    if not data.strip():
        return {}
    try:
        config = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise _refuse(path, "it is not UTF-8 text") from None
    except (ValueError, RecursionError) as error:
        raise _refuse(path, f"it is not valid JSON ({literal(str(error)[:120])})") from None
    _check_shape(config, path)
    return config


def _check_shape(config: object, path: Path) -> None:
    if not isinstance(config, dict):
        raise _refuse(path, f"its top level is a JSON {_json_type(config)}, not an object")
    auths = config.get("auths", {})
    if not isinstance(auths, dict):
        raise _refuse(path, f'"auths" is {_json_type(auths)}, not an object of registries')
    for host, entry in auths.items():
        if not isinstance(entry, dict):
            raise _refuse(path, f'"auths" / {literal(host)!r} is {_json_type(entry)}, not an object')
        for key in ("auth", "username", "password", "identitytoken"):
            if key in entry and not isinstance(entry[key], str):
                raise _refuse(path, f'"auths" / {literal(host)!r} / "{key}" is {_json_type(entry[key])}, not a string')
    helpers = config.get("credHelpers", {})
    if not isinstance(helpers, dict) or not all(isinstance(name, str) for name in helpers.values()):
        raise _refuse(path, '"credHelpers" is not an object of registries to helper names')
    for name in [*helpers.values(), config.get("credsStore", "")]:
        # The name becomes a program name: docker-credential-NAME, looked up on PATH only.
        if not isinstance(name, str) or (name and not re.fullmatch(_HELPER_NAME, name)):
            raise _refuse(path, f"the credential helper name {literal(str(name))!r} is not letters, digits, '.', '_' or '-'")


def _json_type(value: object) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "true/false", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _keys(registry: str) -> tuple[str, ...]:
    registry = canonical_registry(registry)
    return DOCKER_HUB_ALIASES if registry == DOCKER_HUB else (registry, f"https://{registry}", f"http://{registry}")


def lookup(registry: str) -> Credentials | None:
    """The credentials for REGISTRY (a host[:port]), or None to go anonymous."""
    username, password = os.environ.get(USERNAME_VARIABLE), os.environ.get(PASSWORD_VARIABLE)
    if username and password:
        return Credentials(username, password)
    path = docker_config_path()
    config = _read_config(path)
    helper = _helper_for(config, registry)
    if helper:
        return _helper_get(helper, registry)
    auths = config.get("auths", {})
    for key in _keys(registry):
        entry = auths.get(key)
        if not entry:
            continue
        if entry.get("auth"):
            import base64

            try:
                user, _, secret = base64.b64decode(entry["auth"], validate=True).decode("utf-8").partition(":")
            except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
                raise _refuse(path, f"the credentials for {registry} are not base64 of USER:PASSWORD") from None
            return Credentials(user, secret)
        if entry.get("username") and entry.get("password"):
            return Credentials(entry["username"], entry["password"])
    return None


@contextmanager
def _locked(target: Path) -> Iterator[None]:
    """An exclusive lock on TARGET.lock, beside the file it guards, so that logins
    running at once each add their entry (read, change, replace under the lock)."""
    import fcntl

    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(target.with_name(target.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise FileSystemError(f"Cannot write the Docker config file {literal(target)}: {error.strerror}.",
                              hint="Set DOCKER_CONFIG to a folder you can write to.") from None
    try:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise FileSystemError(f"Another program has held the lock on {literal(target)} for "
                                          f"{LOCK_TIMEOUT} s.", hint="Try again when it has finished.") from None
                time.sleep(0.01)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def _edit(change: Callable[[dict], bool]) -> Path:
    """Apply CHANGE to the config under its lock; write it back (through a symlink,
    to its target) when CHANGE says it changed something. A termination signal
    meanwhile leaves the file as it was and no temporary file behind."""
    from yowasm.interrupts import interrupt_on_signals

    path = docker_config_path()
    target = Path(os.path.realpath(path))
    with interrupt_on_signals(), _locked(target):
        config = _read_config(target)
        if change(config):
            try:
                _write_private(target, json.dumps(config, indent=2) + "\n")
            except OSError as error:
                raise FileSystemError(f"Cannot write the Docker config file {literal(path)}: {error.strerror}.",
                                      hint="Set DOCKER_CONFIG to a folder you can write to.") from None
    return path


def store(registry: str, credentials: Credentials) -> Path:
    """Save credentials where `lookup` (and docker, oras, skopeo) find them."""

    def add(config: dict) -> bool:
        helper = _helper_for(config, registry)
        if helper:
            _helper_store(helper, registry, credentials)
            return False
        import base64

        token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
        config.setdefault("auths", {})[_keys(registry)[0]] = {"auth": token}
        return True

    return _edit(add)


def erase(registry: str) -> tuple[Path, bool]:
    """Forget the credentials for REGISTRY; whether there were any."""
    removed = False

    def remove(config: dict) -> bool:
        nonlocal removed
        helper = _helper_for(config, registry)
        if helper:
            removed = _helper_erase(helper, registry)
        auths = config.get("auths", {})
        keys = [key for key in _keys(registry) if key in auths]
        for key in keys:
            del auths[key]
        removed = removed or bool(keys)
        return bool(keys)

    if not docker_config_path().exists():
        return docker_config_path(), False
    return _edit(remove), removed


def _write_private(path: Path, text: str) -> None:
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor, temporary = tempfile.mkstemp(prefix=".config-", dir=path.parent)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _helper_for(config: dict, registry: str) -> str | None:
    helpers = config.get("credHelpers") or {}
    for key in _keys(registry):
        if helpers.get(key):
            return helpers[key]
    return config.get("credsStore") or None


def _run_helper(helper: str, action: str, payload: str) -> str:
    program = f"docker-credential-{helper}"
    try:
        completed = subprocess.run([program, action], input=payload, capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise AuthError(
            f"The Docker config names the credential helper {helper!r}, but {program} is not installed.",
            hint=f"Install {program}, or remove credsStore/credHelpers from {docker_config_path()}.",
        ) from None
    if completed.returncode != 0:
        # The helper's own message; helpers print no secrets on failure.
        said = literal((completed.stdout.strip() or completed.stderr.strip())[:300], single_line=True)
        raise AuthError(f"{program} {action} failed: {said}")
    return completed.stdout


def _helper_get(helper: str, registry: str) -> Credentials | None:
    try:
        reply = json.loads(_run_helper(helper, "get", registry))
    except AuthError as error:
        if "credentials not found" in error.message.lower():
            return None
        raise
    except ValueError:
        raise AuthError(f"docker-credential-{helper} get returned something that is not JSON.") from None
    if not isinstance(reply, dict) or not all(isinstance(reply.get(key), str) for key in ("Username", "Secret")):
        raise AuthError(f'docker-credential-{helper} get returned JSON without the strings "Username" and "Secret".')
    return Credentials(reply["Username"], reply["Secret"])


def _helper_store(helper: str, registry: str, credentials: Credentials) -> None:
    payload = json.dumps({"ServerURL": registry, "Username": credentials.username, "Secret": credentials.password})
    _run_helper(helper, "store", payload)


def _helper_erase(helper: str, registry: str) -> bool:
    try:
        _run_helper(helper, "erase", registry)
    except AuthError as error:
        if "not found" in error.message.lower():
            return False
        raise
    return True
