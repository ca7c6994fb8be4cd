#!/usr/bin/env python3
"""`yowasm run` of a built module, against a minimal wasmtime-py runner of the same
module (bench/minimal_run.py), for each language, in one interleaved run; both with
wasmtime's compiled-code cache warm. Also `yowasm run` of the project folder (which
first checks whether the module is current).

    python3 bench/run.py [--rounds 10] [--languages rust,c,tinygo,assemblyscript]

Goal: yowasm run MODULE <= 1.5x the minimal runner, for each language.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build import TOOLCHAIN, built_project, rounds_and_languages  # noqa: E402
from runner import PYTHON, YOWASM, ROOT, Case, Goal, measure, report  # noqa: E402


def main() -> None:
    rounds, languages = rounds_and_languages(__doc__.splitlines()[0])
    with tempfile.TemporaryDirectory(prefix="yowasm-bench-run-") as folder:
        cases = []
        for language in languages:
            project = built_project(Path(folder), language)
            module = str(project / "build" / f"{project.name}.wasm")
            cases += [
                Case(f"minimal runner ({language})", [PYTHON, str(ROOT / "bench" / "minimal_run.py"), module]),
                Case(f"yowasm run MODULE ({language})", [*YOWASM, "run", module]),
                Case(f"yowasm run PROJECT ({language})", [*YOWASM, "run", str(project)], env=TOOLCHAIN),
            ]
        results = measure(cases, rounds)
    goals = []
    for language in languages:
        goals += [Goal(f"yowasm run {what} / minimal runner, {language} <= 1.5", f"yowasm run {what} ({language})",
                       1.5, floor=f"minimal runner ({language})") for what in ("MODULE", "PROJECT")]
    sys.exit(0 if report(results, goals, title="yowasm run of a built module") else 1)


if __name__ == "__main__":
    main()
