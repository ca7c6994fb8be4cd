"""Credentials from the Docker config file, its credential helpers and the
environment, in that order of precedence (environment first)."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import run_yowasm, yowasm_process
from yowasm.credentials import CONFIG_LIMIT, Credentials, docker_config_path, erase, lookup, store
from yowasm.errors import AuthError, UsageError


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


# --- the Docker config file as an edge: locked, written through, refused when odd ----

def test_twenty_concurrent_logins_keep_every_entry(tmp_path, docker_config):
    """Real processes, started together: each adds its entry, none is lost."""
    docker_config.parent.mkdir()
    docker_config.write_text(json.dumps({"auths": {"kept.example.com": {"auth": "eDp5"}}}))
    logins = [yowasm_process("login", f"registry{n}.example.com", "-u", f"user{n}", "--password-stdin", "--no-verify",
                             cwd=tmp_path, env={"DOCKER_CONFIG": str(docker_config.parent)}, stdin=subprocess.PIPE)
              for n in range(20)]
    for login in logins:
        login.stdin.write("secret\n")
        login.stdin.close()
    for login in logins:
        assert login.wait(timeout=120) == 0, login.stderr.read()
    auths = json.loads(docker_config.read_text())["auths"]
    assert set(auths) == {"kept.example.com", *(f"registry{n}.example.com" for n in range(20))}
    assert [path.name for path in docker_config.parent.iterdir() if path.name.startswith(".config-")] == []


def test_a_symlinked_config_is_written_through_to_its_target(tmp_path, docker_config):
    target = tmp_path / "dotfiles" / "docker.json"
    target.parent.mkdir()
    target.write_text(json.dumps({"auths": {}, "psFormat": "table"}))
    docker_config.parent.mkdir()
    docker_config.symlink_to(target)
    store("ghcr.io", Credentials("octocat", "token"))
    assert docker_config.is_symlink() and docker_config.resolve() == target
    assert "ghcr.io" in json.loads(target.read_text())["auths"]
    assert lookup("ghcr.io") == Credentials("octocat", "token")
    path, removed = erase("ghcr.io")
    assert removed and docker_config.is_symlink() and json.loads(target.read_text())["auths"] == {}


ODD_CONFIGS = [
    (b'{"auths": null}', '"auths" is null'),
    (b'{"auths": ["ghcr.io"]}', '"auths" is list'),
    (b'["auths"]', "top level is a JSON list"),
    (b'"just text"', "top level is a JSON string"),
    (b'{"auths": {"ghcr.io": "token"}}', "not an object"),
    (b'{"auths": {"ghcr.io": {"auth": 42}}}', '"auth" is number'),
    (b'{"credsStore": "../../tmp/evil"}', "credential helper name"),
    (b'{"credHelpers": {"ghcr.io": 1}}', '"credHelpers"'),
    (b"\xff\xfe{\x00}\x00", "not UTF-8"),
    (b"{not json", "not valid JSON"),
    (b"[" * 100000 + b"]" * 100000, "not valid JSON"),
    (b" " * (CONFIG_LIMIT + 1), "over the"),
]


@pytest.mark.parametrize("content, rule", ODD_CONFIGS, ids=[rule for _, rule in ODD_CONFIGS])
def test_an_odd_config_is_refused_and_left_untouched(docker_config, content, rule):
    docker_config.parent.mkdir()
    docker_config.write_bytes(content)
    for action in (lambda: store("ghcr.io", Credentials("octocat", "token")), lambda: lookup("ghcr.io"),
                   lambda: erase("ghcr.io")):
        with pytest.raises(UsageError) as refused:
            action()
        assert rule in refused.value.message and str(docker_config) in refused.value.message
    assert docker_config.read_bytes() == content


def test_login_refuses_an_odd_config_with_a_clear_message(tmp_path, docker_config):
    docker_config.parent.mkdir()
    docker_config.write_text('{"auths": null}')
    result = run_yowasm("login", "ghcr.io", "-u", "octocat", "--password-stdin", "--no-verify", cwd=tmp_path,
                        input="secret\n", env={"DOCKER_CONFIG": str(docker_config.parent)}, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"Cannot use the Docker config file {docker_config}" in result.stderr and "left as it is" in result.stderr
    assert docker_config.read_text() == '{"auths": null}'


def test_a_fifo_in_place_of_the_config_does_not_hang(docker_config):
    docker_config.parent.mkdir()
    os.mkfifo(docker_config)
    with pytest.raises(UsageError, match="not a regular file"):
        lookup("ghcr.io")


def test_logout_forgets_one_registry(docker_config):
    store("ghcr.io", Credentials("octocat", "token"))
    store("docker.io", Credentials("octocat", "hub"))
    assert erase("index.docker.io")[1] is True
    assert lookup("docker.io") is None and lookup("ghcr.io") == Credentials("octocat", "token")
    assert erase("docker.io")[1] is False


def test_logout_command(tmp_path, docker_config):
    store("ghcr.io", Credentials("octocat", "token"))
    env = {"DOCKER_CONFIG": str(docker_config.parent)}
    first = run_yowasm("logout", "ghcr.io", cwd=tmp_path, env=env)
    assert first.returncode == 0 and "Logged out of ghcr.io" in first.stdout
    again = run_yowasm("logout", "ghcr.io", cwd=tmp_path, env=env)
    assert again.returncode == 0 and "Not logged in to ghcr.io" in again.stdout
    assert json.loads(docker_config.read_text())["auths"] == {}


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                        st.sampled_from(["auths", "auth", "ghcr.io", "credsStore", "credHelpers", "username",
                                         "password", "x"]), inner, max_size=4), max_leaves=15)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(JSON.map(lambda value: json.dumps(value).encode()), st.binary(max_size=64)))
def test_any_config_file_is_read_or_refused_never_damaged(docker_config, content):
    docker_config.parent.mkdir(exist_ok=True)
    docker_config.write_bytes(content)
    try:
        lookup("ghcr.io")
    except (UsageError, AuthError):  # refused, or names a credential helper that is not installed
        pass
    try:
        store("ghcr.io", Credentials("octocat", "token"))
    except (UsageError, AuthError):
        assert docker_config.read_bytes() == content
    else:
        config = json.loads(docker_config.read_text())
        assert isinstance(config, dict)
        assert lookup("ghcr.io") == Credentials("octocat", "token") or config.get("credsStore") or config.get("credHelpers")
