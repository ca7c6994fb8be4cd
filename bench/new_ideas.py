#!/usr/bin/env python3
"""What each of yowasm.render's shortcuts saves: the same render (rust/wasmtime/none,
no command line) with all of them, with one left out at a time, and with none (plain
copier.run_copy), in one interleaved run; and what exiting without interpreter
finalization saves.

    python3 bench/new_ideas.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from runner import PYTHON, ROOT, Case, measure, report  # noqa: E402

ALL = "all shortcuts"
VARIANTS = (ALL, "without the prompt-stack stand-ins", "without the asyncio/dunamai/urllib stand-ins",
            "without the uname -p shortcut", "without the git shortcuts", "without the compile cache",
            "without libyaml", "without pydantic's plugin switch", "without the collector pause",
            "plain copier.run_copy", f"{ALL}, os._exit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    rounds = parser.parse_args().rounds
    script = str(ROOT / "bench" / "render_variant.py")
    cases = [Case(variant, lambda scratch, variant=variant: [PYTHON, script, variant, str(scratch / "p")])
             for variant in VARIANTS]
    results = measure(cases, rounds)
    report(results, [], title="yowasm new's render, one shortcut left out at a time")
    print("\nwhat each saves (median over rounds of the paired difference, wall and CPU ms):")
    for variant in VARIANTS[1:]:
        pairs = list(zip(results.samples[variant], results.samples[ALL]))
        wall = statistics.median(a.wall - b.wall for a, b in pairs) * 1000
        cpu = statistics.median(a.cpu - b.cpu for a, b in pairs) * 1000
        print(f"  {variant:<48} {wall:+7.0f} wall {cpu:+7.0f} cpu")


if __name__ == "__main__":
    main()
