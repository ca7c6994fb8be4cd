"""yowasm.render_ahead: the project a head-start process renders is byte for byte the
one plain copier renders; when that process is gone, this one renders it instead; a
refused answer is refused with copier's words either way; a head start left unused
leaves no process behind. Real forked processes, killed for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.projects import answers
from tests.test_render import PLAIN, VARIANTS, render_in_fresh_process, tree
from yowasm.languages import templates_dir

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

