"""yowasm.yaml_cache: parsed YAML kept across runs. A warm cache gives the same
results as a cold one and spares importing PyYAML; a cache file that is not the
user's own, writable by others, too large or broken is ignored; a changed file is
parsed anew; hostile files are refused however warm the cache is."""

from __future__ import annotations

import marshal
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import compile_test_module
from tests.projects import ADVERSARIAL, render
from yowasm import yaml_cache
from yowasm.errors import InputFileError
from yowasm.project import ANSWERS_FILE, read_data_file

#: A fresh process that loads a project and prints what yowasm made of it, and whether
#: it imported PyYAML to do so.
LOAD_PROJECT = """
import sys
from yowasm.model import rules
from yowasm.project import load_project
project = load_project(sys.argv[1])
print(project.answers, project.facts, project.generated_files, sorted(rules()))
print("yaml imported:", "yaml" in sys.modules)
"""
#: `yowasm run` as the command runs it, saying at exit whether PyYAML was imported.
RUN_REPORTING_YAML = """
import atexit, sys
atexit.register(lambda: print("yaml imported:", "yaml" in sys.modules, file=sys.stderr))
sys.argv = ["yowasm", *sys.argv[1:]]
from yowasm.__main__ import main
main()
"""


def in_fresh_process(script: str, *args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "XDG_CACHE_HOME": str(cache)})


def cache_file(cache: Path) -> Path:
    (found,) = (cache / "yowasm").glob("yaml-*.marshal")
    return found


@pytest.fixture
def project(tmp_path) -> Path:
    return render(tmp_path / "hello-wasm", language="c")


def test_run_of_a_project_with_a_warm_cache_is_the_same_and_does_not_import_yaml(tmp_path, project):
    module = project / "build" / "hello-wasm.wasm"
    module.parent.mkdir()
    shutil.copy(compile_test_module("probe", tmp_path), module)  # newer than every source: nothing to build
    cache = tmp_path / "cache"
    cold = in_fresh_process(RUN_REPORTING_YAML, "run", str(project), "exit=3", cache=cache)
    warm = in_fresh_process(RUN_REPORTING_YAML, "run", str(project), "exit=3", cache=cache)
    assert cold.returncode == warm.returncode == 3, cold.stderr
    assert cold.stdout == warm.stdout and "argv[1]=exit=3" in warm.stdout
    assert cold.stderr.endswith("yaml imported: True\n")
    assert warm.stderr == cold.stderr.replace("yaml imported: True", "yaml imported: False")


def test_a_changed_answers_file_is_read_anew(tmp_path, project):
    cache = tmp_path / "cache"
    cold = in_fresh_process(LOAD_PROJECT, str(project), cache=cache)
    warm = in_fresh_process(LOAD_PROJECT, str(project), cache=cache)
    assert cold.stdout.replace("yaml imported: True", "yaml imported: False") == warm.stdout, cold.stderr
    answers = project / ANSWERS_FILE
    answers.write_text(answers.read_text().replace("name: hello-wasm", "name: renamed"))
    changed = in_fresh_process(LOAD_PROJECT, str(project), cache=cache)
    assert "name='renamed'" in changed.stdout and "yaml imported: True" in changed.stdout


def forge(cache: Path, project: Path) -> None:
    """Replace the cached value of PROJECT's answers file with other answers."""
    stored = marshal.loads(cache_file(cache).read_bytes())
    text = (project / ANSWERS_FILE).read_text()
    key = ("readers.yaml", text)
    assert key in stored["entries"]
    forged = {**marshal.loads(stored["entries"][key]), "name": "forged"}
    stored["entries"][key] = marshal.dumps(forged)
    cache_file(cache).write_bytes(marshal.dumps(stored))


def group_writable(path: Path) -> None:
    path.chmod(0o664)


def foreign(path: Path) -> None:
    if os.getuid() != 0:
        pytest.skip("only root can give a file to another user")
    os.chown(path, 65534, 65534)


def oversized(path: Path) -> None:
    with path.open("ab") as file:  # marshal reads the first object: what follows changes nothing
        file.write(b"\0" * yaml_cache.CACHE_BYTES)


def truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


def foreign_value(path: Path) -> None:
    """A value that is not plain data where the answers should be."""
    stored = marshal.loads(path.read_bytes())
    for key in stored["entries"]:
        if key[0] == "readers.yaml":
            stored["entries"][key] = marshal.dumps({"name": ("a", "tuple"), "code": compile("1", "x", "eval")})
    path.write_bytes(marshal.dumps(stored))


def test_a_trusted_cache_file_is_believed(tmp_path, project):
    """The control for the test below: a forged entry in a cache file that passes every
    check is what yowasm reads (so the checks are what keeps the others out)."""
    cache = tmp_path / "cache"
    in_fresh_process(LOAD_PROJECT, str(project), cache=cache)
    forge(cache, project)
    assert "name='forged'" in in_fresh_process(LOAD_PROJECT, str(project), cache=cache).stdout


@pytest.mark.parametrize("spoil", [group_writable, foreign, oversized, truncated, foreign_value])
def test_an_untrusted_or_broken_cache_file_is_ignored(tmp_path, project, spoil):
    cache = tmp_path / "cache"
    expected = in_fresh_process(LOAD_PROJECT, str(project), cache=cache).stdout
    forge(cache, project)
    spoil(cache_file(cache))
    loaded = in_fresh_process(LOAD_PROJECT, str(project), cache=cache)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout == expected  # parsed from the file again (yaml imported)
    if spoil is not foreign:  # a file of another user's is left alone, no matter where
        again = in_fresh_process(LOAD_PROJECT, str(project), cache=cache)
        assert again.stdout == expected.replace("yaml imported: True", "yaml imported: False")


@pytest.mark.parametrize("case", ADVERSARIAL)
def test_hostile_files_are_refused_however_warm_the_cache(tmp_path, yaml_cache_in_tmp, case):
    friendly = tmp_path / "friendly.yml"
    friendly.write_text("name: hello\n")
    assert read_data_file(friendly) == {"name": "hello"}
    content, message = ADVERSARIAL[case]
    path = tmp_path / "answers.yml"
    path.write_bytes(content)
    for _ in range(2):  # the second time with everything the first could have stored
        with pytest.raises(InputFileError) as refused:
            read_data_file(path)
        assert message in refused.value.message
        yaml_cache._entries.cache_clear()  # as a fresh process reads the cache file
    assert read_data_file(friendly) == {"name": "hello"}


def test_values_that_are_not_plain_data_are_parsed_every_time(tmp_path, yaml_cache_in_tmp):
    path = tmp_path / "answers.yml"
    path.write_text("name: hello\n_when: 2024-01-02\n_blob: !!binary aGVsbG8=\n")
    first = read_data_file(path)
    yaml_cache._entries.cache_clear()
    assert read_data_file(path) == first and str(first["_when"]) == "2024-01-02" and first["_blob"] == b"hello"
    assert yaml_cache.lookup("readers.yaml", path.read_text()) is yaml_cache.MISS


def test_a_value_read_from_the_cache_is_the_callers_own(tmp_path, yaml_cache_in_tmp):
    path = tmp_path / "answers.yml"
    path.write_text("name: hello\n_yowasm_files: {README.md: abc}\n")
    read_data_file(path)["name"] = "changed by a caller"
    yaml_cache._entries.cache_clear()
    first = read_data_file(path)
    first["_yowasm_files"]["README.md"] = "changed"
    assert read_data_file(path) == {"name": "hello", "_yowasm_files": {"README.md": "abc"}}


def test_the_cache_file_keeps_the_newest_entries_within_its_bounds(tmp_path, yaml_cache_in_tmp):
    for number in range(yaml_cache.CACHE_ENTRIES + 10):
        yaml_cache.store("readers.yaml", f"name: app{number}\n", {"name": f"app{number}"})
    big = "x" * (yaml_cache.MAX_TEXT - 10)
    for number in range(20):  # together far more than the file may hold
        yaml_cache.store("readers.yaml", f"{number}{big}", {"text": f"{number}{big}"})
    assert cache_file(yaml_cache_in_tmp).stat().st_size <= yaml_cache.CACHE_BYTES
    yaml_cache._entries.cache_clear()
    assert yaml_cache.lookup("readers.yaml", f"19{big}") == {"text": f"19{big}"}
    assert yaml_cache.lookup("readers.yaml", "name: app0\n") is yaml_cache.MISS
    assert len(yaml_cache._entries()) <= yaml_cache.CACHE_ENTRIES
