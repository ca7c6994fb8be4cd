#!/usr/bin/env python3
"""What a change to `yowasm new` saves, measured on the whole command: `yowasm new DIR
--defaults` (with git, and with --no-git) from several copies of yowasm (a folder
holding `yowasm/` and `templates/`, e.g. made with `git archive REV yowasm templates`),
in one interleaved run. Each copy is compared with the one before it: the median over
rounds of the paired difference, wall and CPU.

    python3 bench/new_compare.py [--rounds 10] NAME=FOLDER NAME=FOLDER ...
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from runner import PYTHON, Case, measure, report  # noqa: E402

FLAGS = ["--defaults", "--name", "bench", "--author", "Bench Mark", "--registry", "none"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("copies", nargs="+", metavar="NAME=FOLDER")
    options = parser.parse_args()
    copies = dict(copy.split("=", 1) for copy in options.copies)
    for name, folder in copies.items():
        if not (Path(folder) / "yowasm" / "__main__.py").is_file():
            raise SystemExit(f"{name}: {folder} holds no yowasm/__main__.py")
    variants = {"": [], " --no-git": ["--no-git"]}
    with tempfile.TemporaryDirectory(prefix="yowasm-compare-") as caches:
        # A compile cache per copy: its entries name the copy's template files.
        cases = [Case(f"{name}{label}", lambda scratch, extra=extra: [
                      PYTHON, "-m", "yowasm", "new", str(scratch / "p"), *FLAGS, *extra],
                      env={"PYTHONPATH": folder, "XDG_CACHE_HOME": str(Path(caches) / name)})
                 for name, folder in copies.items() for label, extra in variants.items()]
        results = measure(cases, options.rounds)
    report(results, [], title="yowasm new --defaults, from each copy")
    print("\nwhat each copy saves against the one before it (median of paired differences, ms):")
    names = list(copies)
    for before, after in zip(names, names[1:]):
        for label in variants:
            pairs = list(zip(results.samples[after + label], results.samples[before + label]))
            wall = statistics.median(a.wall - b.wall for a, b in pairs) * 1000
            cpu = statistics.median(a.cpu - b.cpu for a, b in pairs) * 1000
            print(f"  {after + label:<36} vs {before + label:<30} {wall:+7.1f} wall {cpu:+7.1f} cpu")


if __name__ == "__main__":
    main()
