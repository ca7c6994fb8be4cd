"""The one benchmark runner every bench script shares.

Cases run as fresh processes in interleaved rounds: every round runs each case once,
in a newly shuffled order, so that load from other processes on the machine falls on
all cases alike. For each run it records wall time, CPU time (user + system, from
os.wait4) and peak RSS. Ratios are taken between cases of the same round and then
summarised, so a goal is judged on paired runs rather than on two separate averages.

Peak RSS comes from GNU time (`%M`, itself os.wait4's ru_maxrss of its child): a
process forked straight from this one would count this runner's own memory, which it
shares until it executes the command.

    from runner import Case, Goal, measure, report
"""

from __future__ import annotations

import os
import pty
import random
import re
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

ROOT = Path(__file__).resolve().parent.parent
# Bytecode caching on, as on a user's machine (some sandboxes turn it off, which makes
# every run recompile the sources).
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
#: With this set, yowasm runs from this tree, on PYTHONPATH, under the interpreter that
#: runs the benchmark (and that interpreter is every floor's), as the tests run it.
FROM_TREE = "YOWASM_BENCH_FROM_TREE"


def _installed() -> Path:
    """A virtual environment with this checkout installed as the README's set-up
    installs it (`pip install .` in a venv), removed at exit; its bin folder.

    It sees this interpreter's packages through a plain path entry, as its own
    installed copies: none of that interpreter's .pth start-up hooks run, as none run
    in a user's fresh venv (some machines add one that imports certifi into every
    Python process started: 30 ms)."""
    import atexit
    import shutil
    import sysconfig

    folder = Path(tempfile.mkdtemp(prefix="yowasm-bench-venv-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    paths = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (Path(site) / "_bench_base_packages.pth").write_text("".join(f"{path}\n" for path in paths))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-build-isolation", "--no-index", "--disable-pip-version-check", str(ROOT)],
                   check=True, env={**os.environ, "PIP_ROOT_USER_ACTION": "ignore"})
    return folder / "bin"


if os.environ.get(FROM_TREE):
    PYTHON = sys.executable
    YOWASM = [PYTHON, "-m", "yowasm"]
    ENV["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
else:
    _BIN = _installed()
    #: The interpreter of every Python floor (`python -c pass`, the minimal runner, copier).
    PYTHON = str(_BIN / "python")
    #: The command a user types.
    YOWASM = [str(_BIN / "yowasm")]

Command = Sequence[str] | Callable[[Path], Sequence[str]]
GNU_TIME = "/usr/bin/time"  # Debian's `time` package (.ci/run installs it)


@dataclass(frozen=True)
class Case:
    """One command to time. A callable command gets a fresh, empty scratch folder per
    run (for outputs such as a new project). With `around` (a context manager factory
    taking the scratch folder, e.g. a fresh server), each run happens inside it, untimed,
    and a callable command gets what it yields as a second argument. With `until`, the
    command runs in a pseudo-terminal and the time is taken when that text first
    appears in its output (the process is then stopped)."""

    name: str
    command: Command
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    until: bytes | None = None
    around: Callable[[Path], AbstractContextManager[Any]] | None = None
    after: Callable[[Any], None] | None = None  # untimed check of what `around` yielded

    def argv(self, scratch: Path, prepared: Any = None) -> list[str]:
        if not callable(self.command):
            return list(self.command)
        return list(self.command(scratch, prepared) if self.around else self.command(scratch))


@dataclass(frozen=True)
class Sample:
    wall: float  # seconds
    cpu: float  # seconds, user + system, of the process and the children it waited for
    rss: int | None  # peak resident set size, bytes (the command's largest process); None in a terminal


@dataclass(frozen=True)
class Spread:
    low: float
    median: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        values = sorted(values)
        return cls(values[0], statistics.median(values), values[-1], len(values))

    def format(self, scale: float = 1.0, digits: int = 0, unit: str = "") -> str:
        return (f"{self.low * scale:.{digits}f} / {self.median * scale:.{digits}f} / "
                f"{self.high * scale:.{digits}f}{unit}")


@dataclass(frozen=True)
class Goal:
    """NAME holds when the median over rounds of CASE / FLOOR is at most LIMIT (or, with
    no floor, CASE's median figure is at most LIMIT in the figure's own unit)."""

    text: str
    case: str
    limit: float
    floor: str | None = None
    figure: str = "wall"  # wall | cpu | rss (rss with no floor: limit in MB)


@dataclass
class Results:
    samples: dict[str, list[Sample]]

    def spread(self, case: str, figure: str = "wall") -> Spread | None:
        values = [getattr(sample, figure) for sample in self.samples[case]]
        return Spread.of(values) if None not in values else None

    def ratio(self, case: str, floor: str, figure: str = "wall") -> Spread:
        pairs = zip(self.samples[case], self.samples[floor])
        return Spread.of(getattr(a, figure) / getattr(b, figure) for a, b in pairs)


def run_once(case: Case, scratch: Path) -> Sample:
    with case.around(scratch) if case.around else nullcontext() as prepared:
        sample = _run(case, case.argv(scratch, prepared), scratch)
        if case.after:
            case.after(prepared)
    return sample


def _run(case: Case, argv: list[str], scratch: Path) -> Sample:
    env = {**ENV, **case.env}
    cwd = case.cwd or scratch
    if case.until is not None:
        return _run_in_terminal(argv, env, cwd, case.until)
    peak_file = scratch.parent / f"{scratch.name}.peak"
    start = time.perf_counter()
    process = subprocess.Popen([GNU_TIME, "-f", "%M", "-o", str(peak_file), *argv], env=env, cwd=cwd,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stderr.close()
    if process.returncode != 0:
        raise SystemExit(f"{case.name} failed ({process.returncode}): {' '.join(argv)}\n{stderr.decode(errors='replace')}")
    peak_kib = int(peak_file.read_text().split()[-1])
    return Sample(wall, usage.ru_utime + usage.ru_stime, peak_kib * 1024)


def _run_in_terminal(argv: list[str], env: dict[str, str], cwd: Path, until: bytes) -> Sample:
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: the terminal is its stdin, stdout and stderr
        try:
            os.chdir(cwd)
            os.execvpe(argv[0], argv, {**env, "TERM": "xterm", "COLUMNS": "100", "LINES": "40"})
        finally:
            os._exit(127)
    seen = b""
    wall = None
    try:
        while wall is None:
            ready, _, _ = select.select([fd], [], [], 10)
            if not ready:
                raise SystemExit(f"no {until!r} within 10 s from {' '.join(argv)}; saw {seen[-400:]!r}")
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                raise SystemExit(f"{' '.join(argv)} ended before {until!r}; saw {seen[-400:]!r}")
            seen += chunk
            if until in _plain(seen):
                wall = time.perf_counter() - start
    finally:
        os.killpg(pid, signal.SIGKILL)  # the child leads its own session and group
        _, _, usage = os.wait4(pid, 0)
        os.close(fd)
    return Sample(wall, usage.ru_utime + usage.ru_stime, None)


def _plain(output: bytes) -> bytes:
    """Terminal output without its escape sequences, for finding a prompt's text."""
    return re.sub(rb"\x1b\[[0-9;?]*[a-zA-Z]|\x1b[()][0-9A-Za-z]|\x1b[=>]", b"", output)


def measure(cases: Sequence[Case], rounds: int, *, warmup: int = 1, seed: int | None = None) -> Results:
    """Run every case ROUNDS times in shuffled interleaved rounds (after WARMUP untimed
    rounds that fill file and bytecode caches)."""
    if not os.access(GNU_TIME, os.X_OK):
        raise SystemExit(f"bench/ measures peak memory with GNU time, and {GNU_TIME} is missing: "
                         "sudo apt-get install time")
    shuffle = random.Random(seed).shuffle
    samples: dict[str, list[Sample]] = {case.name: [] for case in cases}
    with tempfile.TemporaryDirectory(prefix="yowasm-bench-") as folder:
        for round_number in range(warmup + rounds):
            order = list(cases)
            shuffle(order)
            for index, case in enumerate(order):
                scratch = Path(folder) / f"r{round_number}-{index}"
                scratch.mkdir()
                sample = run_once(case, scratch)
                if round_number >= warmup:
                    samples[case.name].append(sample)
            if round_number >= warmup:
                print(f"\rround {round_number + 1 - warmup}/{rounds}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return Results(samples)


def report(results: Results, goals: Sequence[Goal], *, title: str) -> bool:
    """Print every case's figures and every goal's ratio; True when all goals hold."""
    width = max(len(name) for name in results.samples) + 2
    n = len(next(iter(results.samples.values())))
    print(f"{title} (n = {n} interleaved rounds; min / median / max)")
    print(f"{'case':<{width}}{'wall ms':>22}{'cpu ms':>22}{'peak RSS MB':>20}")
    for name in results.samples:
        rss = results.spread(name, "rss")
        print(f"{name:<{width}}{results.spread(name).format(1000):>22}{results.spread(name, 'cpu').format(1000):>22}"
              f"{rss.format(1 / 2**20) if rss else '-':>20}")
    print()
    held = True
    for goal in goals:
        if goal.floor is None:
            spread = results.spread(goal.case, goal.figure)
            scale, unit = (1 / 2**20, " MB") if goal.figure == "rss" else (1.0, " s")
            median = spread.median * scale
            shown = spread.format(scale, 1 if goal.figure == "rss" else 3, unit)
        else:
            spread = results.ratio(goal.case, goal.floor, goal.figure)
            median = spread.median
            shown = spread.format(digits=2, unit="x")
        holds = median <= goal.limit
        held &= holds
        print(f"goal {goal.text}: {shown} -> {'holds' if holds else 'DOES NOT HOLD'} (median)")
    return held
