"""What yowasm prints into a pipe or a log: never wrapped at 80 columns, so that no
URL, path or command is split across lines (each test reads real piped output)."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import path_without, require_tool, run_yowasm
from yowasm.packaged import templates_dir
from yowasm.model import Language


def long_folder(tmp_path: Path) -> Path:
    folder = tmp_path.joinpath(*["a-folder-with-a-rather-long-name"] * 6)
    folder.mkdir(parents=True)
    return folder


def lines(result) -> list[str]:
    return (result.stdout + result.stderr).splitlines()


def test_new_prints_the_tree_root_and_cd_command_whole(tmp_path):
    project = long_folder(tmp_path) / "hello"
    result = run_yowasm("new", str(project), "--defaults", "--author", "Jane Doe", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert str(project) in lines(result)  # the tree's root
    assert f"  enter    cd {project}" in lines(result)
    assert "  publish  yowasm publish  # → ghcr.io/jane-doe/hello:latest" in lines(result)


def test_doctor_prints_every_install_command_whole(tmp_path):
    result = run_yowasm("doctor", cwd=tmp_path, env={"PATH": path_without(tmp_path, *MISSING)})
    shown = lines(result)
    for language in Language:
        facts = yaml.safe_load((templates_dir() / language.value / "language.yml").read_text())
        for tool in facts["tools"]:
            if tool["name"] in MISSING:
                assert any(tool["install"] in line for line in shown), (tool["install"], result.stdout)
    assert any("https://wasmtime.dev/install.sh" in line for line in shown)


#: Every tool the languages name, so that doctor shows how to install each.
MISSING = ("cargo", "make", "clang", "clang-14", "clang-15", "clang-16", "clang-17", "clang-18", "clang-19",
           "clang-20", "cc", "node", "npm", "tinygo", "go", "wasmtime")


def test_build_prints_the_module_path_whole(tmp_path):
    require_tool("clang-14", "sudo apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32")
    project = long_folder(tmp_path) / "hello"
    assert run_yowasm("new", str(project), "--defaults", "--author", "a", "--language", "c", cwd=tmp_path).returncode == 0
    result = run_yowasm("build", str(project), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    shown = project.relative_to(tmp_path) / "build/hello.wasm"  # relative to the folder it is run in
    assert any(line.startswith(f"Built {shown} (") for line in lines(result)), result.stdout


def test_update_prints_a_changed_answer_whole(tmp_path):
    project = long_folder(tmp_path) / "hello"
    assert run_yowasm("new", str(project), "--defaults", "--author", "a", cwd=tmp_path).returncode == 0
    description = ", ".join(["A module whose description is longer than any terminal line"] * 3)
    result = run_yowasm("update", str(project), "--dry-run", "--data", f"description={description}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"  description: A WebAssembly module → {description}" in lines(result), result.stdout


def test_login_prints_where_it_stored_the_credentials_whole(tmp_path):
    config = long_folder(tmp_path) / "docker"
    result = run_yowasm("login", "registry.example.com:5000", "--username", "octocat", "--password-stdin",
                        "--no-verify", cwd=tmp_path, env={"DOCKER_CONFIG": str(config)}, input="secret\n")
    assert result.returncode == 0, result.stderr
    assert any(f"stored in {config}/config.json)" in line for line in lines(result)), result.stdout


def test_an_error_naming_a_long_path_stays_on_its_lines(tmp_path):
    missing = long_folder(tmp_path) / "no" / "such" / "hello"
    result = run_yowasm("new", str(missing), "--defaults", "--author", "a", cwd=tmp_path)
    assert result.returncode == 2
    assert f"Create it first: mkdir -p {missing.parent}" in lines(result), result.stderr
