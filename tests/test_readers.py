"""yowasm.readers and the readers built on it (data file, answers file, modules.toml,
env file): adversarial fixtures, and property-based tests over any bytes and over
generated YAML and TOML: a reader returns a value of the promised shape or refuses
with one InputFileError (exit 2), never anything else, and what it returns is never
larger than a small multiple of what it read."""

from __future__ import annotations

import json
import os
import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yowasm.errors import InputFileError, YowasmError
from yowasm.project import read_data_file
from tests.conftest import isolated_yaml_cache
from tests.projects import ADVERSARIAL, ALIAS_BOMB
from yowasm.readers import MAX_FILE_BYTES, read_text, read_toml, read_yaml_mapping
from yowasm.wagi import load_modules_toml, parse_env_file

EXAMPLE = "{name: hello}"


@pytest.fixture(scope="module", autouse=True)
def _own_yaml_cache(tmp_path_factory):
    yield from isolated_yaml_cache(tmp_path_factory.mktemp("yaml-cache"))


@pytest.mark.parametrize("case", ADVERSARIAL)
def test_adversarial_data_files_are_refused_with_the_file_and_the_rule(tmp_path, case):
    content, message = ADVERSARIAL[case]
    path = tmp_path / "answers.yml"
    path.write_bytes(content)
    with pytest.raises(InputFileError) as refused:
        read_data_file(path)
    assert str(path) in refused.value.message and message in refused.value.message
    assert refused.value.exit_code == 2


def test_files_that_are_not_regular_files_are_bounded_or_refused(tmp_path):
    with pytest.raises(InputFileError, match="is larger than 256 KiB"):
        read_text(Path("/dev/zero"), "data file")  # endless: only the limit is read
    with pytest.raises(InputFileError, match=r"Cannot read the data file .*: Is a directory"):
        read_data_file(tmp_path)
    with pytest.raises(InputFileError, match="Cannot read the data file .*: No such file or directory"):
        read_data_file(tmp_path / "missing.yml")


def test_friendly_files_read_as_written(tmp_path):
    path = tmp_path / "answers.yml"
    path.write_bytes("\ufeffname: hello\nauthor: Zoë\nnamespace: ~\n_yowasm_files: {README.md: abc}\n".encode())
    assert read_data_file(path) == {"name": "hello", "author": "Zoë", "namespace": None,
                                    "_yowasm_files": {"README.md": "abc"}}
    path.write_text('{"name": "hello", "language": "c"}')  # JSON is YAML
    assert read_data_file(path) == {"name": "hello", "language": "c"}
    path.write_text("")
    assert read_data_file(path) == {}


def test_modules_toml_and_env_file_readers_refuse_what_is_not_text(tmp_path):
    modules = tmp_path / "modules.toml"
    modules.write_bytes(b'[[module]]\nroute = "/"\nmodule = "\xff.wasm"\n')
    with pytest.raises(InputFileError, match="modules file .* is not UTF-8 text"):
        load_modules_toml(modules)
    modules.write_bytes(b"\x00" * 10)
    with pytest.raises(InputFileError, match="is binary"):
        load_modules_toml(modules)
    modules.write_bytes(b"x = " + b"[" * 5000 + b"]" * 5000)
    with pytest.raises(InputFileError, match="nested too deeply|not valid TOML"):
        load_modules_toml(modules)
    env = tmp_path / ".env"
    env.write_bytes(b"A=\xff\n")
    with pytest.raises(InputFileError, match=r"env file .* is not UTF-8 text \(byte 0xff at offset 2\)"):
        parse_env_file(env)
    env.write_bytes(b"A=" + b"1" * MAX_FILE_BYTES)
    with pytest.raises(InputFileError, match="larger than 256 KiB"):
        parse_env_file(env)


def _bounded(result: object, source: bytes) -> bool:
    """What a reader returns, counted as it would be written out, is at most a small
    multiple of what it read (an expanded alias bomb is millions of times larger: the
    count stops as soon as it passes the bound, so a failure is quick)."""
    budget = 8 * len(source) + 64
    stack = [result]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack += [*value.keys(), *value.values()]
        elif isinstance(value, list):
            stack += value
        budget -= 2 + (len(value) if isinstance(value, (str, bytes)) else 0)
        if budget < 0:
            return False
    return True


def test_the_bound_catches_what_plain_pyyaml_builds_from_an_alias_bomb():
    assert not _bounded(yaml.safe_load(ALIAS_BOMB), ALIAS_BOMB.encode())
    assert _bounded({"name": "hello"}, b"name: hello\n")


yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                         st.text(max_size=20))
yaml_values = st.recursive(yaml_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=4), max_leaves=20)


@st.composite
def alias_documents(draw) -> str:
    """Documents with anchors and aliases, nested to any depth and width."""
    depth, width = draw(st.integers(1, 8)), draw(st.integers(1, 12))
    lines = [f"l0: &l0 {json.dumps(draw(st.text(max_size=5)))}"]
    for level in range(1, depth + 1):
        lines.append(f"l{level}: &l{level} [" + ",".join([f"*l{level - 1}"] * width) + "]")
    lines.append(f"{draw(st.sampled_from(['name', 'author', 'x']))}: *l{depth}")
    return "\n".join(lines) + "\n"


documents = st.one_of(
    st.binary(max_size=300),
    st.text(alphabet=string.printable + "ë\u202e\x1b&*!|>{}[]?:-#", max_size=300).map(str.encode),
    yaml_values.map(lambda value: yaml.safe_dump(value, allow_unicode=True).encode()),
    alias_documents().map(str.encode),
    st.lists(st.sampled_from(["\\0", "\\ud800", "\\udfff", "\\x00", "\\U0010ffff", "\\N", "\\e", "x", "ë"]),
             max_size=4).map(lambda escapes: f'name: "{"".join(escapes)}"\n'.encode()),
)

def read_or_refuse(reader, path: Path):
    """What READER makes of PATH, or None when it refuses the way every reader must:
    one error naming the file, exit 2."""
    try:
        return reader(path)
    except YowasmError as error:
        assert error.exit_code == 2 and str(path) in error.message, error.message
        return None


PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY
@given(content=documents)
def test_property_data_and_answers_readers_return_text_answers_or_refuse(tmp_path, content):
    path = tmp_path / "data.yml"
    path.write_bytes(content)
    data = read_or_refuse(read_data_file, path)
    if data is None:
        return
    assert isinstance(data, dict) and all(isinstance(key, str) for key in data)
    assert all(value is None or isinstance(value, str) for key, value in data.items() if not key.startswith("_"))
    assert _bounded(data, content)


@PROPERTY
@given(content=documents)
def test_property_yaml_reader_never_expands_aliases(tmp_path, content):
    path = tmp_path / "data.yml"
    path.write_bytes(content)
    data = read_or_refuse(lambda file: read_yaml_mapping(file, "data file", example=EXAMPLE), path)
    assert data is None or _bounded(data, content)


toml_texts = st.one_of(
    st.binary(max_size=300),
    st.text(alphabet=string.printable + "ë\x00\x1b", max_size=300).map(str.encode),
    st.lists(st.tuples(st.sampled_from(["route", "module", "entrypoint", "volumes", "allowed_hosts", "argv",
                                        "http_max_concurrency"]) | st.text(string.ascii_letters, min_size=1, max_size=6),
                       st.sampled_from(['"/..."', '"x.wasm"', "1", "-1", "[1, [2]]", "{a = 1}", '{"/d" = "."}',
                                        '"\\u0000"', "true", '["a"]', '"oci:"', '"bindle:x"'])),
             max_size=6).map(lambda pairs: ("[[module]]\n" + "".join(f"{key} = {value}\n" for key, value in pairs)).encode()),
)


@PROPERTY
@given(content=toml_texts)
def test_property_toml_reader_returns_a_table_or_refuses(tmp_path, content):
    path = tmp_path / "modules.toml"
    path.write_bytes(content)
    data = read_or_refuse(lambda file: read_toml(file, "modules.toml", example="[[module]]"), path)
    assert data is None or isinstance(data, dict) and _bounded(data, content)


@PROPERTY
@given(content=toml_texts)
def test_property_modules_toml_gives_routes_or_one_clear_error(tmp_path, content):
    path = tmp_path / "modules.toml"
    path.write_bytes(content)
    routes = read_or_refuse(load_modules_toml, path)
    assert routes is None or routes and all(route.route.startswith("/") for route in routes)


@PROPERTY
@given(content=st.one_of(st.binary(max_size=300),
                         st.lists(st.text(alphabet=string.printable + "ë=\"", max_size=30), max_size=8)
                         .map(lambda lines: "\n".join(lines).encode())))
def test_property_env_file_gives_pairs_or_one_clear_error(tmp_path, content):
    path = tmp_path / ".env"
    path.write_bytes(content)
    pairs = read_or_refuse(parse_env_file, path)
    assert pairs is None or all(isinstance(key, str) and key and "\0" not in key + value for key, value in pairs)


def test_readers_never_follow_past_the_limit_on_a_fifo(tmp_path):
    """A named pipe with more than the limit behind it: the reader stops at the limit."""
    fifo = tmp_path / "data.yml"
    os.mkfifo(fifo)
    import threading

    def writer():
        with open(fifo, "wb") as pipe:
            try:
                pipe.write(b"name: " + b"x" * (4 * MAX_FILE_BYTES))
            except BrokenPipeError:
                pass

    thread = threading.Thread(target=writer)
    thread.start()
    with pytest.raises(InputFileError, match="larger than 256 KiB"):
        read_data_file(fifo)
    thread.join(timeout=30)


@PROPERTY
@given(content=documents)
def test_property_the_libyaml_path_reads_what_the_pure_python_loader_reads(tmp_path, content):
    """Plain documents are parsed by libyaml's parser. What a reader returns is what
    PyYAML's pure-Python loader alone makes of the file, and it refuses the same files
    with the same message, except that libyaml reads a few documents that PyYAML's
    scanner finds invalid (a tab after a value, e.g. `0\t`): valid YAML, and still
    checked like any other."""
    from yowasm import readers

    path = tmp_path / "data.yml"
    path.write_bytes(content)

    def outcome() -> object:
        try:
            return read_yaml_mapping(path, "data file", example=EXAMPLE)
        except InputFileError as error:
            return error.message

    fast = outcome()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(readers, "_plain_document", lambda text, loader: False)
        pure = outcome()
    if fast != pure:  # only where PyYAML's scanner refuses what libyaml reads
        assert isinstance(pure, str) and "is not valid YAML or JSON" in pure, (fast, pure)
        yaml.load(content.decode("utf-8-sig"), Loader=yaml.CSafeLoader)
