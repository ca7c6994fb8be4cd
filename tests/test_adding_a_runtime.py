"""Adding a runtime is one new runtime file, its template files and its tests.

In a copy of yowasm and its templates, one new file templates/runtimes/wasmedge.yml
and the one template file it adds make `wasmedge` a runtime everywhere: yowasm's
model and questionnaire (`yowasm new --help`, `--runtime wasmedge`, the interactive
list) and plain copier (with --defaults and at its prompt), with no other file
touched."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.conftest import ENTER, Terminal, run_yowasm, unwrapped

CHECKOUT = Path(__file__).resolve().parent.parent

WASMEDGE = """\
title: WasmEdge
description: "a WASI command run by WasmEdge; pulls cncf"
module: console
registry: optional
layouts: [cncf]
files: [wasmedge.toml]
next_steps:
  - {label: wasmedge, command: "wasmedge build/{name}.wasm"}
summary: run by WasmEdge
readme: |
  ## Run it with WasmEdge

  `wasmedge.toml` names {{ name }}; run it with `wasmedge build/{{ name }}.wasm`.
"""

#: The template file the runtime adds, shared by every language as the other runtime
#: files are (templates/_shared, linked from each language folder).
TEMPLATE_NAME = "{% if 'wasmedge.toml' in runtime_file_names %}wasmedge.toml{% endif %}.jinja"
TEMPLATE = '[module]\nname = "{{ name }}"\n'


def copy_with_wasmedge(root: Path) -> Path:
    """yowasm and its templates, copied, with the new runtime's files added."""
    shutil.copytree(CHECKOUT / "yowasm", root / "yowasm", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(CHECKOUT / "templates", root / "templates", symlinks=True)
    templates = root / "templates"
    (templates / "runtimes/wasmedge.yml").write_text(WASMEDGE)
    (templates / "_shared" / TEMPLATE_NAME).write_text(TEMPLATE)
    for language_file in templates.glob("*/language.yml"):
        (language_file.parent / TEMPLATE_NAME).symlink_to(Path("..") / "_shared" / TEMPLATE_NAME)
    return root


def test_one_runtime_file_and_its_template_make_a_runtime_for_yowasm_and_plain_copier(tmp_path):
    copy = copy_with_wasmedge(tmp_path / "checkout")
    env = {"PYTHONPATH": str(copy)}

    offered = subprocess.run(
        [sys.executable, "-c", "import json; from yowasm.model import Runtime; "
         "from yowasm.questionnaire import QUESTIONS, choice_descriptions; "
         "print(json.dumps([Runtime.WASMEDGE.value, [q.choices for q in QUESTIONS if q.key == 'runtime'][0], "
         "choice_descriptions('runtime')['wasmedge']]))"],
        cwd=tmp_path, env={**os.environ, **env}, capture_output=True, text=True, check=True)
    assert json.loads(offered.stdout) == [
        "wasmedge", ["krustlet", "runwasi", "spin", "wagi", "wasmedge", "wasmtime"],
        "a WASI command run by WasmEdge; pulls cncf"]

    help_text = run_yowasm("new", "--help", cwd=tmp_path, env=env).stdout
    assert "krustlet | runwasi | spin | wagi | wasmedge | wasmtime" in unwrapped(help_text)
    refused = run_yowasm("new", "x", "--runtime", "wasmedg", "--defaults", cwd=tmp_path, env=env)
    assert refused.returncode == 2 and "spin, wagi, wasmedge, wasmtime" in unwrapped(refused.stderr + refused.stdout)

    created = run_yowasm("new", "by-yowasm", "--name", "hello", "--author", "Ann Lee", "--runtime", "wasmedge",
                         "--registry", "ghcr", "--namespace", "octocat", "--defaults", "--no-git",
                         cwd=tmp_path, env=env)
    assert created.returncode == 0, created.stderr
    assert "wasmedge build/hello.wasm" in created.stdout  # the runtime file's next step
    project = tmp_path / "by-yowasm"
    assert (project / "wasmedge.toml").read_text() == '[module]\nname = "hello"\n'
    readme = (project / "README.md").read_text()
    assert "## Run it with WasmEdge" in readme and "run by WasmEdge" in readme
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert (answers["runtime"], answers["artifact_format"]) == ("wasmedge", "cncf")  # the file's only layout

    # Plain copier, non-interactive: the same answers, the same project.
    copier = [sys.executable, "-m", "copier", "copy", "--defaults", "--quiet", str(copy / "templates")]
    data = [f"--data={key}={value}" for key, value in answers.items() if not key.startswith("_")]
    by_copier = subprocess.run(copier + data + [str(tmp_path / "by-copier")], cwd=tmp_path, capture_output=True,
                               text=True, stdin=subprocess.DEVNULL, timeout=300)
    assert by_copier.returncode == 0, by_copier.stderr
    comparison = filecmp.dircmp(project, tmp_path / "by-copier", ignore=[".copier-answers.yml"])
    assert not (comparison.diff_files or comparison.left_only or comparison.right_only)

    # ...and at its prompt: the runtime list holds the new runtime.
    term = Terminal(tmp_path, [sys.executable, "-m", "copier", "copy", str(copy / "templates"), "by-hand"])
    for prompt, keys in (("Module name", "hello"), ("description", ""), ("Author", "Ann Lee"), ("Language", "")):
        term.answer(prompt, keys + ENTER)
    screen = term.wait_for("Target runtime")
    listed = [line.strip(" »") for line in screen.split("Target runtime", 1)[1].splitlines()[2:]]
    assert listed[:6] == ["krustlet", "runwasi", "spin", "wagi", "wasmedge", "wasmtime"], screen
    term.child.close()



def test_plain_copier_lists_the_runtime_files_of_a_template_in_a_folder_named_like_a_glob(tmp_path):
    """copier.yml lists templates/runtimes with a glob under the template's own path;
    a path holding glob characters ([, *, ?) must name itself, not a pattern."""
    templates = tmp_path / "team [wasm]*?" / "templates"
    shutil.copytree(CHECKOUT / "templates", templates, symlinks=True)
    command = [sys.executable, "-m", "copier", "copy", "--defaults", "--quiet", "--data", "name=hello",
               "--data", "author=Ann Lee", "--data", "runtime=spin", str(templates), str(tmp_path / "out")]
    subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
                   check=True)
    assert yaml.safe_load((tmp_path / "out/.copier-answers.yml").read_text())["runtime"] == "spin"
