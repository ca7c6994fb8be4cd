#!/usr/bin/env python3
"""Scaffolding speed and memory, in one interleaved run: `yowasm new DIR --defaults`
against the copier CLI (`copier copy --defaults`) on the same template and answers, for
three templates, with two floors measured alongside: `python -c pass` (interpreter
start-up) and a plain-jinja2 render of the same files (bench/plain_render.py). Also
the time to the first prompt of an interactive `yowasm new`, through a pseudo-terminal.

    python3 bench/new.py [--rounds 10]

Goals: yowasm new <= 0.5x copier copy for each template; first prompt <= 0.27 s;
peak RSS of yowasm new <= 60 MB. `yowasm new` also makes a git repository with a first
commit, which copier does not: `--no-git` is measured too, the same work as copier's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from runner import PYTHON, YOWASM, ROOT, Case, Goal, measure, report  # noqa: E402

TEMPLATES = ROOT / "templates"
VARIANTS = {  # name: the flags `yowasm new` takes
    "rust/wasmtime/none": dict(language="rust", runtime="wasmtime", registry="none"),
    "c/wagi/ghcr": dict(language="c", runtime="wagi", registry="ghcr", namespace="octocat"),
    "tinygo/krustlet/dockerhub": dict(language="tinygo", runtime="krustlet", registry="dockerhub",
                                      namespace="octocat"),
}
COMMON = dict(name="bench", author="Bench Mark")


def template_data(flags: dict[str, str]) -> dict[str, str]:
    """The answers yowasm passes to copier for these flags (its questionnaire's defaults)."""
    sys.path.insert(0, str(ROOT))
    from yowasm.questionnaire import resolve_answers

    return resolve_answers({**COMMON, **flags}, use_defaults=True).to_data()


def cases() -> list[Case]:
    result = [Case("python -c pass", [PYTHON, "-c", "pass"])]
    for variant, flags in VARIANTS.items():
        data = template_data(flags)
        options = [f"--{key.replace('_', '-')}={value}" for key, value in {**COMMON, **flags}.items()]
        pairs = [part for key, value in data.items() for part in ("--data", f"{key}={value}")]
        result += [
            Case(f"copier copy {variant}", lambda scratch, pairs=pairs: [
                PYTHON, "-m", "copier", "copy", "--quiet", "--defaults", *pairs, str(TEMPLATES), str(scratch / "p")]),
            Case(f"yowasm new {variant}", lambda scratch, options=options: [
                *YOWASM, "new", str(scratch / "p"), "--defaults", *options]),
            Case(f"yowasm new --no-git {variant}", lambda scratch, options=options: [
                *YOWASM, "new", str(scratch / "p"), "--defaults", "--no-git", *options]),
            Case(f"plain jinja2 {variant}", lambda scratch, data=data: [
                PYTHON, str(ROOT / "bench" / "plain_render.py"), str(TEMPLATES), str(scratch / "p"), json.dumps(data)]),
        ]
    result.append(Case("yowasm new: first prompt", [*YOWASM, "new"], until=b"Module name"))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--only", default="", help="only the templates whose name contains this")
    options = parser.parse_args()
    rounds = options.rounds
    for variant in [name for name in VARIANTS if options.only not in name]:
        del VARIANTS[variant]
    results = measure(cases(), rounds)
    goals = [Goal(f"yowasm new{flag} / copier copy, {variant} <= 0.5", f"yowasm new{flag} {variant}", 0.5,
                  floor=f"copier copy {variant}") for variant in VARIANTS for flag in ("", " --no-git")]
    goals += [Goal("time to first prompt <= 0.27 s", "yowasm new: first prompt", 0.27)]
    goals += [Goal(f"peak RSS of yowasm new, {variant} <= 60 MB", f"yowasm new {variant}", 60, figure="rss")
              for variant in VARIANTS]
    held = report(results, goals, title="yowasm new")
    print("\nfloors, for where the time goes:")
    for variant in VARIANTS:
        print(f"  plain jinja2 / copier copy, {variant}: "
              f"{results.ratio(f'plain jinja2 {variant}', f'copier copy {variant}').format(digits=2, unit='x')}")
    print(f"  python -c pass / copier copy: "
          f"{results.ratio('python -c pass', 'copier copy rust/wasmtime/none').format(digits=2, unit='x')}")
    sys.exit(0 if held else 1)


if __name__ == "__main__":
    main()
