"""`yowasm serve` reads a Spin project's spin.toml: the WAGI contract holds through
Spin's manifest as through modules.toml, and manifests it cannot serve are refused
with the rule. The Spin CLI itself is not installable here (only PyPI, Debian and npm
are reachable), so `yowasm serve` stands in for `spin up`; spin.toml is checked
against Spin's published schema in tests/test_templates.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import run_yowasm
from tests.projects import render
from tests.test_cli_serve import behave, parse_dump, request, serving  # noqa: F401  (behave is a fixture)
from yowasm.errors import InputFileError, ServeError
from yowasm.serving import load_spin_toml


def spin_toml(folder: Path, module: Path, route: str = "/api/...", executor: str = '{ type = "wagi" }') -> Path:
    manifest = folder / "spin.toml"
    manifest.write_text(
        'spin_manifest_version = 2\n[application]\nname = "t"\n'
        f'[[trigger.http]]\nroute = "{route}"\ncomponent = "handler"\nexecutor = {executor}\n'
        f'[[trigger.http]]\nroute = {{ private = true }}\ncomponent = "handler"\n'
        f'[component.handler]\nsource = "{module}"\nallowed_outbound_hosts = ["https://api.example.com"]\n'
    )
    return manifest


def test_spin_toml_routes_are_its_wagi_triggers(tmp_path):
    (tmp_path / "build").mkdir()
    manifest = spin_toml(tmp_path, Path("build/handler.wasm"))
    (route,) = load_spin_toml(manifest)  # the private endpoint is not served
    assert (route.route, route.module, route.entrypoint) == ("/api/...", str(tmp_path / "build/handler.wasm"), "_start")
    assert route.allowed_hosts == ("https://api.example.com",)


def test_the_wagi_contract_holds_through_spin_toml(behave, tmp_path):
    manifest = spin_toml(tmp_path, behave)
    with serving(manifest, "--env", "GREETING=hi") as (port, _):
        status, headers, body = request(port, "POST", "/api/orders/42?verbose=1", body=b"the body",
                                        headers={"Content-Type": "text/plain", "X-Trace-Id": "abc"})
        assert (status, headers["X-Handler"]) == (200, "behave")
        env, args, payload = parse_dump(body)
        assert payload == b"the body" and args == ["/api", "verbose=1"]
        assert {key: env[key] for key in ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "X_MATCHED_ROUTE",
                                          "HTTP_X_TRACE_ID", "GREETING")} == {
            "REQUEST_METHOD": "POST", "SCRIPT_NAME": "/api", "PATH_INFO": "/orders/42",
            "X_MATCHED_ROUTE": "/api/...", "HTTP_X_TRACE_ID": "abc", "GREETING": "hi"}
        assert request(port, "GET", "/api/status")[0] == 404
        status, headers, _ = request(port, "GET", "/api/location")
        assert (status, headers["Location"]) == (302, "/elsewhere")
        assert request(port, "GET", "/api/trap")[:3:2] == (500, b"")
        assert request(port, "GET", "/elsewhere")[0] == 404


@pytest.mark.parametrize(
    "version, executor, message",
    [
        (2, '{ type = "spin" }', "yowasm serves WAGI handlers only"),
        (1, '{ type = "wagi" }', "Spin manifest version 2"),
    ],
)
def test_a_spin_toml_yowasm_cannot_serve_is_refused_with_the_rule(tmp_path, version, executor, message):
    manifest = spin_toml(tmp_path, Path("handler.wasm"), executor=executor)
    manifest.write_text(manifest.read_text().replace("spin_manifest_version = 2", f"spin_manifest_version = {version}"))
    result = run_yowasm("serve", str(manifest), cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_a_component_without_a_local_source_is_refused(tmp_path):
    (tmp_path / "spin.toml").write_text(
        'spin_manifest_version = 2\n[application]\nname = "t"\n'
        '[[trigger.http]]\nroute = "/..."\ncomponent = "missing"\nexecutor = { type = "wagi" }\n')
    result = run_yowasm("serve", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2 and "[component.ID] table with a local source" in result.stderr


@pytest.mark.toolchain
def test_spin_toml_build_command_builds_the_module_it_serves(tmp_path):
    """What `spin build` does, without Spin: each build command of spin.toml, run by
    the shell in the project, must produce the component's source."""
    import tomllib

    from tests.conftest import CLANG_INSTALL, require_tool
    from tests.projects import toolchain_env

    require_tool("clang-14", CLANG_INSTALL)
    project = render(tmp_path / "hello-wasm", language="c", runtime="spin")
    manifest = tomllib.loads((project / "spin.toml").read_text())
    component = manifest["component"]["hello-wasm"]
    commands = component["build"]["command"]
    for command in [commands] if isinstance(commands, str) else commands:
        subprocess.run(["sh", "-c", command], cwd=project, env=toolchain_env(), check=True, capture_output=True)
    assert (project / component["source"]).is_file()
    (route,) = load_spin_toml(project / "spin.toml")
    assert route.module == str(project / component["source"])


def test_yowasm_publish_sends_a_spin_project_to_spin_registry_push(tmp_path):
    project = render(tmp_path / "hello-wasm", language="c", runtime="spin")
    (project / "build").mkdir()
    (project / "build/hello-wasm.wasm").write_bytes(b"\0asm\1\0\0\0")
    result = run_yowasm("publish", cwd=project)
    assert result.returncode == 2 and "spin registry push" in result.stderr


_TOML_SCALARS = st.one_of(st.text(max_size=20), st.integers(), st.booleans())
_TOML_VALUES = st.recursive(_TOML_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)), max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(
    version=st.one_of(st.just(2), _TOML_SCALARS),
    trigger_key=st.sampled_from(["http", "redis"]),
    triggers=st.one_of(_TOML_VALUES, st.lists(st.dictionaries(
        st.sampled_from(["route", "component", "executor", "id"]),
        st.one_of(_TOML_VALUES, st.just({"type": "wagi"}), st.just("handler"), st.just("/...")), max_size=4), max_size=3)),
    components=st.one_of(_TOML_VALUES, st.dictionaries(st.sampled_from(["handler", "other"]), st.dictionaries(
        st.sampled_from(["source", "allowed_outbound_hosts"]), _TOML_VALUES, max_size=2), max_size=2)),
)
def test_any_spin_toml_gives_routes_or_a_clear_error(tmp_path_factory, version, trigger_key, triggers, components):
    """A hostile manifest (any shapes and types) yields routes or a ServeError, never another exception."""
    manifest = tmp_path_factory.mktemp("spin") / "spin.toml"
    manifest.write_text(tomli_w.dumps({"spin_manifest_version": version, "trigger": {trigger_key: triggers} if trigger_key == "http" else triggers,
                                       "component": components}))
    try:
        routes = load_spin_toml(manifest)
    except (ServeError, InputFileError) as error:
        assert error.message.startswith(("Invalid ", "The Spin manifest"))
    else:
        assert all(route.route.startswith("/") for route in routes)


@pytest.mark.parametrize("content", [b"\x00\x01binary", b"spin_manifest_version = 2\n" + b"#" * (300 * 1024), b"\xff\xfe not utf-8"])
def test_a_binary_huge_or_non_utf8_spin_toml_is_refused_naming_the_file(tmp_path, content):
    manifest = tmp_path / "spin.toml"
    manifest.write_bytes(content)
    with pytest.raises(InputFileError, match="spin.toml"):
        load_spin_toml(manifest)
