#!/usr/bin/env python3
"""Start-up cost a user feels on every command, in one interleaved run: `yowasm
--version`, `yowasm --help` and `yowasm COMMAND --help` against `python -c pass`
(interpreter start-up, the floor), plus which heavy libraries each one imports.

    python3 bench/startup.py [--rounds 20]

Goals: --version <= 2x python -c pass; --help and COMMAND --help <= 5x.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from runner import ENV, PYTHON, YOWASM, Case, Goal, measure, report  # noqa: E402

COMMANDS = ("new", "update", "build", "run", "doctor", "publish", "pull", "login", "serve")
HEAVY = ("copier", "questionary", "prompt_toolkit", "pydantic", "rich", "requests", "wasmtime", "typer")
FLOOR = "python -c pass"


def imported(arguments: list[str]) -> list[str]:
    result = subprocess.run([PYTHON, "-X", "importtime", "-m", "yowasm", *arguments],
                            capture_output=True, text=True, env=ENV)
    names = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()
             if line.startswith("import time:")}
    return sorted(names & set(HEAVY))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    rounds = parser.parse_args().rounds
    invocations = [["--version"], ["--help"], *[[command, "--help"] for command in COMMANDS]]
    cases = [Case(FLOOR, [PYTHON, "-c", "pass"])]
    cases += [Case("yowasm " + " ".join(arguments), [*YOWASM, *arguments]) for arguments in invocations]
    results = measure(cases, rounds)
    goals = [Goal("yowasm --version / python -c pass <= 2", "yowasm --version", 2.0, floor=FLOOR)]
    goals += [Goal(f"{case.name} / python -c pass <= 5", case.name, 5.0, floor=FLOOR) for case in cases[2:]]
    held = report(results, goals, title="yowasm start-up")
    print("\nheavy libraries imported:")
    for arguments in invocations:
        print(f"  yowasm {' '.join(arguments)}: {', '.join(imported(arguments)) or 'none'}")
    sys.exit(0 if held else 1)


if __name__ == "__main__":
    main()
