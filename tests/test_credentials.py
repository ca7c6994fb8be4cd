"""Credentials from the Docker config file, its credential helpers and the
environment, in that order of precedence (environment first)."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest

from yowasm.credentials import Credentials, docker_config_path, lookup, store


@pytest.fixture(autouse=True)
def docker_config(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    monkeypatch.delenv("YOWASM_REGISTRY_USERNAME", raising=False)
    monkeypatch.delenv("YOWASM_REGISTRY_PASSWORD", raising=False)
    return tmp_path / "docker" / "config.json"


def test_store_then_lookup_in_a_private_file_that_docker_reads(docker_config):
    docker_config.parent.mkdir()
    docker_config.write_text(json.dumps({"auths": {"other.io": {"auth": "eDp5"}}, "psFormat": "table"}))
    store("ghcr.io", Credentials("octocat", "p@ss:word"))
    assert stat.S_IMODE(docker_config.stat().st_mode) == 0o600
    config = json.loads(docker_config.read_text())
    assert config["psFormat"] == "table" and "other.io" in config["auths"]  # nothing else lost
    assert base64.b64decode(config["auths"]["ghcr.io"]["auth"]).decode() == "octocat:p@ss:word"
    assert lookup("ghcr.io") == Credentials("octocat", "p@ss:word")
    assert lookup("quay.io") is None


def test_docker_hub_uses_dockers_legacy_key(docker_config):
    store("docker.io", Credentials("octocat", "token"))
    assert "https://index.docker.io/v1/" in json.loads(docker_config.read_text())["auths"]
    assert lookup("docker.io") == Credentials("octocat", "token")


def test_environment_wins(monkeypatch):
    store("ghcr.io", Credentials("file-user", "file-pass"))
    monkeypatch.setenv("YOWASM_REGISTRY_USERNAME", "env-user")
    monkeypatch.setenv("YOWASM_REGISTRY_PASSWORD", "env-pass")
    assert lookup("ghcr.io") == Credentials("env-user", "env-pass")


def test_credential_helper_protocol(tmp_path, docker_config, monkeypatch):
    """A credential helper written for the test, speaking the docker-credential
    protocol (get/store on stdin and stdout) over a JSON file."""
    helper_dir = tmp_path / "bin"
    helper_dir.mkdir()
    vault = tmp_path / "vault.json"
    helper = helper_dir / "docker-credential-testvault"
    helper.write_text(f"""#!/usr/bin/env python3
import json, sys
from pathlib import Path
vault = Path({str(vault)!r})
data = json.loads(vault.read_text()) if vault.exists() else {{}}
request = sys.stdin.read()
if sys.argv[1] == "store":
    entry = json.loads(request)
    data[entry["ServerURL"]] = entry
    vault.write_text(json.dumps(data))
elif sys.argv[1] == "get":
    if request.strip() not in data:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps(data[request.strip()]))
""")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helper_dir}:{os.environ['PATH']}")
    docker_config.parent.mkdir()
    docker_config.write_text(json.dumps({"credHelpers": {"ghcr.io": "testvault"}}))
    assert lookup("ghcr.io") is None
    store("ghcr.io", Credentials("octocat", "helper-secret"))
    assert "helper-secret" not in docker_config.read_text()
    assert lookup("ghcr.io") == Credentials("octocat", "helper-secret")


def test_missing_helper_is_a_clear_error(docker_config):
    from yowasm.errors import AuthError

    docker_config.parent.mkdir()
    docker_config.write_text(json.dumps({"credsStore": "nosuchstore"}))
    with pytest.raises(AuthError, match="docker-credential-nosuchstore is not installed"):
        lookup("ghcr.io")


def test_default_location(monkeypatch, tmp_path):
    monkeypatch.delenv("DOCKER_CONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert docker_config_path() == tmp_path / ".docker" / "config.json"
