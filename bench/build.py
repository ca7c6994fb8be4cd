#!/usr/bin/env python3
"""`yowasm build` of a project with nothing to rebuild, against the language's own
build command run the same way, as a user types both (`yowasm build`, `make build`,
`npm run build`: each executed directly, no shell), for each language, in one
interleaved run. Projects are rendered and built once first.

    python3 bench/build.py [--rounds 10] [--languages rust,c,tinygo,assemblyscript]

Goal: yowasm build <= 1.3x the language's own build command, for each language. (Where
that command takes less than a Python interpreter needs to start, as make does for an
up-to-date C or TinyGo module, no Python command can meet it: `python -c pass`, and the
bare interpreter without site, `python -S -c pass`, are measured alongside to show it.)
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from runner import ENV, PYTHON, YOWASM, ROOT, Case, Goal, measure, report  # noqa: E402

sys.path.insert(0, str(ROOT))
from tests.projects import render, toolchain_env  # noqa: E402
from yowasm.languages import language_facts  # noqa: E402
from yowasm.model import Language  # noqa: E402

LANGUAGES = ("rust", "c", "tinygo", "assemblyscript")
# Only what toolchain_env sets itself: ENV's own PYTHONPATH and bytecode writing stand
# (copying the caller's would run the tree the caller names, compiling every module
# the other cases do not import on every run, when PYTHONDONTWRITEBYTECODE is set).
TOOLCHAIN = {key: value for key, value in toolchain_env().items() if os.environ.get(key) != value}


def built_project(folder: Path, language: str) -> Path:
    """A fresh console project of LANGUAGE, built once (so the next build has nothing to do)."""
    project = render(folder / f"bench-{language}", name=f"bench-{language}", language=language, registry="none")
    subprocess.run([*YOWASM, "build"], cwd=project, env={**ENV, **TOOLCHAIN},
                   check=True, capture_output=True)
    return project


def rounds_and_languages(description: str) -> tuple[int, list[str]]:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--languages", default=",".join(LANGUAGES))
    options = parser.parse_args()
    return options.rounds, options.languages.split(",")


def main() -> None:
    rounds, languages = rounds_and_languages(__doc__.splitlines()[0])
    with tempfile.TemporaryDirectory(prefix="yowasm-bench-build-") as folder:
        cases = [Case("python -c pass", [PYTHON, "-c", "pass"]),  # what any Python command costs at least
                 # The bare interpreter, without site (and the .pth files it runs): below any real program.
                 Case("python -S -c pass", [PYTHON, "-S", "-c", "pass"])]
        for language in languages:
            project = built_project(Path(folder), language)
            command = language_facts(Language(language)).build
            cases += [
                Case(f"{command} ({language})", shlex.split(command), env=TOOLCHAIN, cwd=project),
                Case(f"yowasm build ({language})", [*YOWASM, "build"], env=TOOLCHAIN, cwd=project),
            ]
        results = measure(cases, rounds)
    goals = [Goal(f"yowasm build / {language_facts(Language(language)).build}, {language} <= 1.3",
                  f"yowasm build ({language})", 1.3, floor=f"{language_facts(Language(language)).build} ({language})")
             for language in languages]
    held = report(results, goals, title="yowasm build, nothing to rebuild")
    print("\nthe interpreter alone, against each build command:")
    for language in languages:
        command = language_facts(Language(language)).build
        for floor in ("python -c pass", "python -S -c pass"):
            print(f"  {floor} / {command}, {language}: "
                  f"{results.ratio(floor, f'{command} ({language})').format(digits=2, unit='x')}")
    sys.exit(0 if held else 1)


if __name__ == "__main__":
    main()
