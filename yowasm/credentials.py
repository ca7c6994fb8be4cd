"""Registry credentials where other tools keep them: the Docker config file, its
credential helpers, and the YOWASM_REGISTRY_USERNAME / YOWASM_REGISTRY_PASSWORD
environment variables (which win). Secrets never appear in a repr or a message."""

from __future__ import annotations

import base64
import binascii
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from yowasm.errors import AuthError, FileSystemError, UsageError

USERNAME_VARIABLE = "YOWASM_REGISTRY_USERNAME"
PASSWORD_VARIABLE = "YOWASM_REGISTRY_PASSWORD"
#: Docker keeps Docker Hub credentials under this legacy key.
DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)


def docker_config_path() -> Path:
    folder = os.environ.get("DOCKER_CONFIG")
    return (Path(folder) if folder else Path.home() / ".docker") / "config.json"


def _read_config(path: Path) -> dict:
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise UsageError(f"Cannot read the Docker config file {path}: {error}.") from None
    return data if isinstance(data, dict) else {}


def _keys(registry: str) -> tuple[str, ...]:
    return DOCKER_HUB_KEYS if registry in DOCKER_HUB_KEYS else (registry, f"https://{registry}")


def lookup(registry: str) -> Credentials | None:
    """The credentials for REGISTRY (a host[:port]), or None to go anonymous."""
    username, password = os.environ.get(USERNAME_VARIABLE), os.environ.get(PASSWORD_VARIABLE)
    if username and password:
        return Credentials(username, password)
    config = _read_config(docker_config_path())
    helper = _helper_for(config, registry)
    if helper:
        return _helper_get(helper, registry)
    auths = config.get("auths") or {}
    for key in _keys(registry):
        entry = auths.get(key)
        if isinstance(entry, dict) and entry.get("auth"):
            try:
                user, _, secret = base64.b64decode(entry["auth"]).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise UsageError(
                    f"The credentials for {registry} in {docker_config_path()} are not valid base64."
                ) from None
            return Credentials(user, secret)
    return None


def store(registry: str, credentials: Credentials) -> Path:
    """Save credentials where `lookup` (and docker, oras, skopeo) find them."""
    path = docker_config_path()
    config = _read_config(path)
    helper = _helper_for(config, registry)
    if helper:
        _helper_store(helper, registry, credentials)
        return path
    token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode()
    key = DOCKER_HUB_KEYS[0] if registry in DOCKER_HUB_KEYS else registry
    config.setdefault("auths", {})[key] = {"auth": token}
    try:
        _write_private(path, json.dumps(config, indent=2) + "\n")
    except OSError as error:
        raise FileSystemError(f"Cannot write the Docker config file {path}: {error.strerror}.",
                              hint="Set DOCKER_CONFIG to a folder you can write to.") from None
    return path


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor, temporary = tempfile.mkstemp(prefix=".config-", dir=path.parent)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
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
        raise AuthError(f"{program} {action} failed: {completed.stdout.strip() or completed.stderr.strip()}")
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
    return Credentials(reply.get("Username", ""), reply.get("Secret", ""))


def _helper_store(helper: str, registry: str, credentials: Credentials) -> None:
    payload = json.dumps({"ServerURL": registry, "Username": credentials.username, "Secret": credentials.password})
    _run_helper(helper, "store", payload)
