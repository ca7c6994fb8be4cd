#!/usr/bin/env python3
"""Scaffolding speed: `yowasm new DIR --defaults` against the bare copier CLI on the
same template and answers, and against `python -c pass` (interpreter start-up), in
one run. Also checks that `--version` and `--help` import none of the heavy libraries.

    python3 bench/new.py [--runs 10]

Goal: yowasm new no slower than copier copy (ratio <= 1.0).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from yowasm.languages import templates_dir  # noqa: E402

ANSWERS = {"name": "bench", "author": "Bench Mark", "language": "rust", "runtime": "wagi",
           "registry": "ghcr", "namespace": "octocat"}
HEAVY = ("copier", "questionary", "requests", "wasmtime")
# Bytecode caching on, as on a user's machine (some sandboxes turn it off, which makes
# every run recompile yowasm's sources but not the installed libraries').
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def median_seconds(command_for, runs: int) -> float:
    times = []
    with tempfile.TemporaryDirectory() as scratch:
        for run in range(runs):
            command = command_for(Path(scratch) / f"run{run}")
            start = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def heavy_imports(*args: str) -> list[str]:
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "yowasm", *args],
                            capture_output=True, text=True, check=True)
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()[1:]}
    return sorted(imported & set(HEAVY))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    flags = [f"--{key.replace('_', '-')}={value}" for key, value in ANSWERS.items()]
    data = [part for key, value in ANSWERS.items() for part in ("--data", f"{key}={value}")]
    cases = {
        "python -c pass": lambda dest: [sys.executable, "-c", "pass"],
        "copier copy --defaults": lambda dest: [sys.executable, "-m", "copier", "copy", "--quiet", "--defaults",
                                                *data, str(templates_dir()), str(dest)],
        "yowasm new --defaults": lambda dest: [sys.executable, "-m", "yowasm", "new", str(dest), "--defaults", *flags],
    }
    for case in cases.values():  # warm the file cache and bytecode
        median_seconds(case, 1)
    medians = {name: median_seconds(case, runs) for name, case in cases.items()}
    baseline = medians["copier copy --defaults"]
    print(f"{'case':<26}{'median':>10}{'vs copier':>12}")
    for name, seconds in medians.items():
        print(f"{name:<26}{seconds * 1000:>8.0f}ms{seconds / baseline:>11.2f}x")
    verdict = "ok" if medians["yowasm new --defaults"] <= baseline * 1.0 else "SLOWER than copier"
    print(f"\nyowasm new / copier copy = {medians['yowasm new --defaults'] / baseline:.2f} ({verdict})")
    for args in (["--version"], ["--help"]):
        heavy = heavy_imports(*args)
        print(f"yowasm {args[0]} imports heavy libraries: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
