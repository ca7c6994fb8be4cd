#!/usr/bin/env python3
"""Time to a running hello module per language, and module sizes, in one run.

For each language: `yowasm new` + `yowasm build` + `yowasm run` of a fresh console
project (toolchain caches warm: one untimed build first), then the release module's
size against the budget, and the Rust module against a default (unoptimised-profile)
release build of the same program, as a ratio.

    python3 bench/hello.py

Needs the toolchains .ci/run installs (on this machine Rust is Debian's, selected with
RUSTUP_TOOLCHAIN=/usr, which this script sets).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGETS = {"rust": 100_000, "c": 16_000, "assemblyscript": 16_000, "tinygo": 3_000_000}
ENV = {**os.environ, "RUSTUP_TOOLCHAIN": os.environ.get("RUSTUP_TOOLCHAIN", "/usr")}


def yowasm(*args: str, cwd: Path) -> str:
    result = subprocess.run([sys.executable, "-m", "yowasm", *args], cwd=cwd, env=ENV,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"yowasm {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def hello(language: str, scratch: Path, run: int) -> tuple[float, Path]:
    name = f"hello-{run}"
    start = time.perf_counter()
    yowasm("new", name, "--defaults", "--author", "Bench", "--language", language, "--registry", "none", cwd=scratch)
    yowasm("build", name, cwd=scratch)
    output = yowasm("run", name, cwd=scratch)
    elapsed = time.perf_counter() - start
    assert f"Hello from {name}!" in output, output
    return elapsed, scratch / name / "build" / f"{name}.wasm"


def cache_effect(module: Path) -> tuple[float, float]:
    """Compiling the module with no cache, in-process, against a whole `yowasm run` of
    it once wasmtime's cache holds it (the second and later runs)."""
    import wasmtime

    start = time.perf_counter()
    wasmtime.Module.from_file(wasmtime.Engine(), str(module))
    compile_seconds = time.perf_counter() - start
    yowasm("run", str(module), cwd=module.parent)  # fills the cache
    start = time.perf_counter()
    yowasm("run", str(module), cwd=module.parent)
    return compile_seconds, time.perf_counter() - start


def default_profile_rust_size(project: Path) -> int:
    cargo = project / "Cargo.toml"
    cargo.write_text(re.sub(r"\n# Small modules.*", "\n", cargo.read_text(), flags=re.S))
    subprocess.run(["make", "build"], cwd=project, env=ENV, check=True, capture_output=True)
    return (project / "build" / f"{project.name}.wasm").stat().st_size


def main() -> None:
    rows = []
    rust_ratio = compile_seconds = cached_run_seconds = None
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        for language, budget in BUDGETS.items():
            for folder_name in (f"warm-{language}", language):
                (scratch / folder_name).mkdir()
            hello(language, scratch / f"warm-{language}", 0)  # fills the toolchain caches
            seconds, module = hello(language, scratch / language, 1)
            size = module.stat().st_size
            rows.append((language, seconds, size, budget))
            if language == "rust":
                rust_ratio = size / default_profile_rust_size(module.parent.parent)
            if language == "tinygo":
                compile_seconds, cached_run_seconds = cache_effect(module)
    print(f"{'language':<16}{'new+build+run':>14}{'module':>12}{'budget':>12}  within")
    for language, seconds, size, budget in rows:
        print(f"{language:<16}{seconds:>13.2f}s{size:>11,}B{budget:>11,}B  {'yes' if size <= budget else 'NO'}")
    print(f"\nRust size-optimised release / default release profile = {rust_ratio:.3f}")
    print(f"TinyGo (standard Go) module: compiling it uncached takes {compile_seconds:.2f}s; a whole "
          f"`yowasm run` with wasmtime's cache takes {cached_run_seconds:.2f}s")


if __name__ == "__main__":
    main()
