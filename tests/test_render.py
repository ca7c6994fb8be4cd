"""yowasm.render: the faster copier render writes exactly what plain `copier.run_copy`
writes (contents, modes, links), for fresh processes as `yowasm new` runs it; the
prompt stack it leaves out still loads when used; its compiled-template cache is only
trusted when it is the user's own, and a broken one changes nothing.

yowasm.render_ahead: what its head-start process renders is the same; when that
process is gone (killed for real), this one renders the same project instead; a refused
answer is refused in copier's words either way; an unused head start leaves no process."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.projects import answers
from yowasm.packaged import templates_dir

VARIANTS = {
    "rust-wasmtime-none": dict(language="rust", runtime="wasmtime", registry="none", namespace=None),
    "c-wagi-ghcr": dict(language="c", runtime="wagi", registry="ghcr"),
    "tinygo-krustlet-dockerhub": dict(language="tinygo", runtime="krustlet", registry="dockerhub"),
    "assemblyscript-krustlet-wagi-acr": dict(language="assemblyscript", runtime="krustlet", krustlet_node="wagi",
                                             registry="acr", namespace=None, acr_name="myregistry"),
}

PLAIN = """
import copier, json, sys
copier.run_copy(sys.argv[1], sys.argv[2], data=json.loads(sys.argv[3]), defaults=True, overwrite=True,
                quiet=True, unsafe=False)
"""
FAST = """
import json, sys
from pathlib import Path
from yowasm.render import render_template
render_template(Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3]))
print(json.dumps(sorted(name for name in ("questionary", "prompt_toolkit", "pygments") if name in sys.modules)))
"""


def render_in_fresh_process(script: str, target: Path, data: dict, cache: Path, templates: Path | None = None) -> str:
    result = subprocess.run([sys.executable, "-c", script, str(templates or templates_dir()), str(target), json.dumps(data)],
                            capture_output=True, text=True, env={**os.environ, "XDG_CACHE_HOME": str(cache)})
    assert result.returncode == 0, result.stderr
    return result.stdout


def tree(root: Path) -> dict[str, tuple]:
    """Every path under ROOT with what a user would notice: contents, mode, link target."""
    found = {}
    for path in sorted(root.rglob("*")):
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            found[path.relative_to(root).as_posix()] = ("link", os.readlink(path))
        elif stat.S_ISDIR(mode):
            found[path.relative_to(root).as_posix()] = ("dir", stat.S_IMODE(mode))
        else:
            found[path.relative_to(root).as_posix()] = ("file", stat.S_IMODE(mode), path.read_bytes())
    return found


@pytest.mark.parametrize("variant", VARIANTS)
def test_writes_what_plain_copier_writes(tmp_path, variant):
    data = answers(**VARIANTS[variant]).to_data()
    cache = tmp_path / "cache"
    render_in_fresh_process(PLAIN, tmp_path / "plain", data, cache)
    loaded = render_in_fresh_process(FAST, tmp_path / "fast", data, cache)  # compiles, fills the cache
    render_in_fresh_process(FAST, tmp_path / "cached", data, cache)  # from the cache
    assert tree(tmp_path / "fast") == tree(tmp_path / "plain")
    assert tree(tmp_path / "cached") == tree(tmp_path / "plain")
    assert json.loads(loaded) == []  # nothing was asked, so no prompt library was loaded
    assert any((cache / "yowasm").glob("jinja-*.marshal"))


def test_each_template_folder_has_a_cache_file_of_its_own(tmp_path):
    """Compiled code names its source file, so another checkout's templates (or another
    venv's) get a cache file of their own: no file grows with every copy of yowasm, and
    with it the time of every `new`."""
    data = answers().to_data()
    cache, copy = tmp_path / "cache", tmp_path / "copy"
    shutil.copytree(templates_dir(), copy)
    render_in_fresh_process(FAST, tmp_path / "first", data, cache)
    (first,) = (cache / "yowasm").glob("jinja-*.marshal")
    size = first.stat().st_size
    render_in_fresh_process(FAST, tmp_path / "second", data, cache, templates=copy)
    assert len(list((cache / "yowasm").glob("jinja-*.marshal"))) == 2
    assert first.stat().st_size == size
    assert tree(tmp_path / "second") == tree(tmp_path / "first")


def test_the_cache_file_of_a_template_folder_that_is_gone_is_removed(tmp_path):
    data = answers().to_data()
    cache, copy = tmp_path / "cache", tmp_path / "copy"
    shutil.copytree(templates_dir(), copy)
    render_in_fresh_process(FAST, tmp_path / "first", data, cache, templates=copy)
    (copied,) = (cache / "yowasm").glob("jinja-*.marshal")
    shutil.rmtree(copy)
    render_in_fresh_process(FAST, tmp_path / "second", data, cache)
    assert not copied.exists()
    assert len(list((cache / "yowasm").glob("jinja-*.marshal"))) == 1


def test_a_refused_answer_is_refused_as_copier_refuses_it(tmp_path):
    """The stand-in for questionary's Choice still lets copier check answers against choices."""
    data = {**answers().to_data(), "language": "cobol"}
    result = subprocess.run([sys.executable, "-c", FAST, str(templates_dir()), str(tmp_path / "p"), json.dumps(data)],
                            capture_output=True, text=True, env={**os.environ, "XDG_CACHE_HOME": str(tmp_path)})
    assert result.returncode != 0 and "cobol" in result.stderr
    assert not (tmp_path / "p").exists()


def test_the_prompt_stack_loads_when_copier_uses_it(tmp_path):
    script = FAST + """
import copier._main, copier._user_data, questionary
question = copier._main.confirm("Overwrite?", default=True)
assert isinstance(question, questionary.Question), question
choice = copier._user_data.Choice("rust")
assert isinstance(choice, questionary.Choice) and choice.value == "rust", choice
print("real")
"""
    output = render_in_fresh_process(script, tmp_path / "p", answers().to_data(), tmp_path / "cache")
    assert output.splitlines()[-1] == "real"


def cache_file(cache: Path) -> Path:
    (found,) = (cache / "yowasm").glob("jinja-*.marshal")
    return found


@pytest.mark.parametrize("spoil", ["garbage", "empty", "writable by others"])
def test_a_spoiled_cache_is_ignored_and_replaced(tmp_path, spoil):
    data = answers(language="c").to_data()
    cache = tmp_path / "cache"
    render_in_fresh_process(PLAIN, tmp_path / "plain", data, cache)
    render_in_fresh_process(FAST, tmp_path / "first", data, cache)
    spoiled = cache_file(cache)
    if spoil == "garbage":
        spoiled.write_bytes(b"\xe3not marshal data" * 100)
    elif spoil == "empty":
        spoiled.write_bytes(b"")
    else:
        spoiled.chmod(0o666)
    render_in_fresh_process(FAST, tmp_path / "again", data, cache)
    assert tree(tmp_path / "again") == tree(tmp_path / "plain")
    replaced = cache_file(cache)
    assert stat.S_IMODE(replaced.stat().st_mode) == 0o600
    assert replaced.stat().st_size > 1000


def test_an_unwritable_cache_folder_is_no_error(tmp_path):
    data = answers().to_data()
    cache = tmp_path / "cache"
    cache.write_text("a file where the cache folder would be")
    render_in_fresh_process(PLAIN, tmp_path / "plain", data, tmp_path / "other")
    render_in_fresh_process(FAST, tmp_path / "fast", data, cache)
    assert tree(tmp_path / "fast") == tree(tmp_path / "plain")


#: Renders through the head start; argv[4] "killed" kills the head-start process first
#: (found as this process's child, as `ps` would show it). Prints where copier was imported.
AHEAD = """
import json, os, signal, sys
from pathlib import Path
from yowasm import render_ahead

with render_ahead.head_start():
    if sys.argv[4] == "killed":
        children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()
        for pid in children:
            os.kill(int(pid), signal.SIGKILL)
    render_ahead.render(Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3]))
print(json.dumps({"copier imported here": "copier" in sys.modules}))
"""


def render_ahead(target: Path, data: dict, cache: Path, *, kill: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", AHEAD, str(templates_dir()), str(target), json.dumps(data),
                           "killed" if kill else "kept"],
                          capture_output=True, text=True, env={**os.environ, "XDG_CACHE_HOME": str(cache)},
                          timeout=120)


@pytest.mark.parametrize("variant", ["rust-wasmtime-none", "c-wagi-ghcr", "tinygo-krustlet-dockerhub"])
def test_the_head_start_renders_what_plain_copier_renders(tmp_path, variant):
    data = answers(**VARIANTS[variant]).to_data()
    render_in_fresh_process(PLAIN, tmp_path / "plain", data, tmp_path / "cache")
    result = render_ahead(tmp_path / "ahead", data, tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"copier imported here": False}  # the other process rendered
    assert tree(tmp_path / "ahead") == tree(tmp_path / "plain")


def test_with_the_head_start_process_killed_this_one_renders_the_same_project(tmp_path):
    data = answers(language="c").to_data()
    render_in_fresh_process(PLAIN, tmp_path / "plain", data, tmp_path / "cache")
    result = render_ahead(tmp_path / "ahead", data, tmp_path / "cache", kill=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"copier imported here": True}
    assert tree(tmp_path / "ahead") == tree(tmp_path / "plain")


def test_a_refused_answer_is_refused_in_copier_words_and_nothing_is_left(tmp_path):
    data = {**answers().to_data(), "language": "cobol"}
    result = render_ahead(tmp_path / "p", data, tmp_path / "cache")
    assert result.returncode != 0 and "cobol" in result.stderr
    assert not (tmp_path / "p").exists()


def test_an_unused_head_start_leaves_no_process(tmp_path):
    script = """
import os
from pathlib import Path
from yowasm import render_ahead

children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
with render_ahead.head_start():
    print(len(children.read_text().split()))
print(len(children.read_text().split()))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "0"]

