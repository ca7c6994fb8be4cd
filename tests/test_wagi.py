"""modules.toml routes: wildcard matching, PATH_INFO and SCRIPT_NAME, `_routes` lines,
env files."""

from __future__ import annotations


import pytest

from yowasm.errors import ServeError
from yowasm.wagi import Route, find_route, load_modules_toml, parse_env_file, sub_routes


def test_wildcard_and_exact_routes():
    root, api, exact = Route("/...", "a"), Route("/api/...", "b"), Route("/api/exact", "c")
    routes = [root, api, exact]
    assert find_route(routes, "/") is root
    assert find_route(routes, "/anything/here") is root
    assert find_route(routes, "/api") is api and find_route(routes, "/api/x") is api
    assert find_route(routes, "/apix") is root  # a prefix of a path component is no match
    assert find_route(routes, "/api/exact") is exact
    assert find_route([exact], "/api/exact/more") is None
    assert (api.script_name, api.path_info("/api/x/y"), root.script_name, root.path_info("/z")) == ("/api", "/x/y", "", "/z")


def test_routes_export_lines_extend_the_module_route():
    extra = sub_routes(Route("/app/...", "m.wasm"), "/one one\nnot a route\n/two/... two\n")
    assert [(route.route, route.entrypoint) for route in extra] == [("/app/one", "one"), ("/app/two/...", "two")]


def test_modules_toml_resolves_paths_and_keeps_settings(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "modules.toml").write_text(
        '[[module]]\nroute = "/..."\nmodule = "build/x.wasm"\n'
        '[[module]]\nroute = "/files/..."\nmodule = "file:///abs/y.wasm"\nentrypoint = "serve"\n'
        'volumes = { "/data" = "data" }\nallowed_hosts = ["https://api.example.com"]\nargv = "${SCRIPT_NAME} x"\n'
        '[[module]]\nroute = "/remote"\nmodule = "oci:ghcr.io/octocat/hello:v1"\n'
    )
    first, second, third = load_modules_toml(tmp_path / "modules.toml")
    assert first.module == str(tmp_path / "build/x.wasm")
    assert second.module == "/abs/y.wasm" and second.entrypoint == "serve"
    assert second.volumes == (("/data", tmp_path / "data"),)
    assert second.allowed_hosts == ("https://api.example.com",) and second.argv == "${SCRIPT_NAME} x"
    assert third.is_oci


def test_unknown_keys_are_refused(tmp_path):
    (tmp_path / "modules.toml").write_text('[[module]]\nroute = "/"\nmodule = "x.wasm"\nenvironment = {}\n')
    with pytest.raises(ServeError, match="not a WAGI module setting"):
        load_modules_toml(tmp_path / "modules.toml")


def test_env_file(tmp_path):
    env = tmp_path / ".env"
    env.write_text('# comment\nA=1\nexport B="two words"\n\n')
    assert parse_env_file(env) == [("A", "1"), ("B", "two words")]
    env.write_text("oops\n")
    with pytest.raises(ServeError, match="line 1"):
        parse_env_file(env)


def test_a_refused_value_is_quoted_bounded_and_with_its_controls_spelled_out(tmp_path):
    """A modules.toml is outside text: a refusal quotes a recognisable start of the bad
    value, not a whole table, and no terminal control in it acts."""
    long_route = "\x1b]52;c;Y2xpcGJvYXJk\x07" + "x" * 5000
    (tmp_path / "modules.toml").write_text(f'[[module]]\nroute = "{long_route}"\nmodule = "x.wasm"\n'.replace(
        "\x1b", "\\u001b").replace("\x07", "\\u0007"))
    with pytest.raises(ServeError) as refused:
        load_modules_toml(tmp_path / "modules.toml")
    message = refused.value.message
    assert message.startswith("Invalid route '\\x1b]52;c;Y2xpcGJvYXJk\\x07xxx") and "must start with '/'" in message
    assert len(message) < 400 and "\x1b" not in message and "\x07" not in message
