"""yowasm.argtypes: each command-line value parser, with the rule and an example in
every refusal."""

from __future__ import annotations

import pytest

from yowasm.argtypes import (Preopen, parse_annotations, parse_dir, parse_env, parse_listen, parse_login_host,
                             parse_size)
from yowasm.errors import UsageError


def test_env_pairs_keep_everything_after_the_first_equals():
    assert parse_env(["A=1", "URL=http://x/?q=a=b", "EMPTY="]) == (
        ("A", "1"), ("URL", "http://x/?q=a=b"), ("EMPTY", ""))


@pytest.mark.parametrize("value", ["NOEQUALS", "=value", ""])
def test_bad_env_names_the_option_and_shows_an_example(value):
    with pytest.raises(UsageError) as raised:
        parse_env([value])
    assert raised.value.message == f"Invalid --env {value!r}: must be KEY=VALUE with a non-empty KEY."
    assert raised.value.hint == "Example of a valid --env: GREETING=hello"
    assert raised.value.exit_code == 2


def test_dir_guest_path_defaults_to_the_host_path(tmp_path):
    assert parse_dir(str(tmp_path)) == Preopen(tmp_path, str(tmp_path))
    assert parse_dir(f"{tmp_path}:/data") == Preopen(tmp_path, "/data")
    assert parse_dir(f"{tmp_path}::/data") == Preopen(tmp_path, "/data")  # wasmtime's spelling


def test_dir_must_be_an_existing_folder(tmp_path):
    (tmp_path / "file").write_text("")
    for host in (tmp_path / "missing", tmp_path / "file"):
        with pytest.raises(UsageError) as raised:
            parse_dir(f"{host}:/data")
        assert f"{str(host)!r} is not a folder" in raised.value.message
        assert "./data:/data" in raised.value.hint


@pytest.mark.parametrize("text, size", [("1048576", 1048576), ("16MiB", 16 * 1024**2), ("512kib", 512 * 1024),
                                        ("2GB", 2 * 1000**3), ("64M", 64 * 1000**2)])
def test_sizes(text, size):
    assert parse_size(text, "--max-memory") == size


@pytest.mark.parametrize("text", ["", "0", "-1", "1.5MiB", "16 TiB", "²MiB", "MiB"])
def test_bad_sizes_name_the_option_and_give_an_example(text):
    with pytest.raises(UsageError, match="--max-response") as raised:
        parse_size(text, "--max-response")
    assert raised.value.exit_code == 2 and "16MiB" in raised.value.hint


def test_listen():
    assert parse_listen("127.0.0.1:3000") == ("127.0.0.1", 3000)
    assert parse_listen("[::1]:8080") == ("::1", 8080)
    with pytest.raises(UsageError, match="HOST:PORT"):
        parse_listen("3000")


def test_annotations_are_pairs_named_after_their_option():
    assert parse_annotations(["org.opencontainers.image.source=https://x/?a=b", "empty="]) == {
        "org.opencontainers.image.source": "https://x/?a=b", "empty": ""}
    with pytest.raises(UsageError) as raised:
        parse_annotations(["no-value"])
    assert "--annotation 'no-value'" in raised.value.message and "image.source=" in raised.value.hint


@pytest.mark.parametrize("text, parsed", [
    ("ghcr.io", ("ghcr.io", None)), ("https://ghcr.io/v2/", ("ghcr.io", "https")),
    (" http://127.0.0.1:5000 ", ("127.0.0.1:5000", "http")), ("localhost:5000", ("localhost:5000", None)),
])
def test_a_login_host_may_be_written_as_a_url(text, parsed):
    assert parse_login_host(text) == parsed


def test_a_login_host_that_is_no_host_is_refused_with_an_example():
    with pytest.raises(UsageError) as raised:
        parse_login_host("bad host!")
    assert "Invalid registry 'bad host!'" in raised.value.message and raised.value.exit_code == 2
    assert "registry.example.com:5000" in raised.value.hint
