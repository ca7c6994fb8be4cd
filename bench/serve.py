#!/usr/bin/env python3
"""Gateway speed: `yowasm serve` under wrk against its floors, in interleaved rounds.

Each round starts fresh servers for the C and Rust hello WAGI handlers and loads each
with wrk at 1, 8 and 32 keep-alive connections, then measures, in the same round:

- the HTTP floor: the same server answering /healthz (same uvicorn, protocol, app and
  routing, no wasm);
- the wasm floor: the gateway's own handler path (Gateway.handle: environment,
  instantiate, run, parse) in this process on one thread, no HTTP;
- for reference, the floor as issue 11 measured it: instantiate + run with a Python
  stdout callback, two environment variables.

Figures are min/median/max over the rounds; a non-2xx answer or a socket error counts
as an error. Peak RSS (and PSS, which counts shared pages once) is summed over the
server and all its processes while it is under load.

    python3 bench/serve.py [--rounds 3] [--seconds 4] [--workers N]

Goals (2-core machine): C hello at 8 connections >= 0.9x the wasm floor in req/s,
p99 <= 10 ms at 8 and <= 40 ms at 32 connections, peak RSS <= 100 MB in all.
Other work on the machine moves every figure: run it a few times.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.projects import render, toolchain_env  # noqa: E402
from tests.registry import free_port  # noqa: E402

CONNECTIONS = (1, 8, 32)
GOAL_RATIO, GOAL_P99 = 0.9, {8: 10.0, 32: 40.0}
GOAL_RSS = 100 * 1024 * 1024


def wrk(port: int, path: str, connections: int, seconds: float, pid: int) -> dict:
    cpu_before = cpu_seconds(pid)
    result = subprocess.run(["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{round(seconds)}s",
                             "--latency", f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True)
    out = result.stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    cpu = (cpu_seconds(pid) - cpu_before) / max(requests, 1) * 1e6
    return {"rate": rate, "p99": p99_ms, "errors": errors, "cpu": cpu}


def tree(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of PID and its descendants: a figure other load on the
    machine moves far less than requests per second."""
    ticks = 0
    for current in tree(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rpartition(")")[2].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def memory(pid: int) -> tuple[int, int]:
    """RSS and PSS in bytes of PID and its descendants."""
    rss = pss = 0
    for current in tree(pid):
        try:
            for line in Path(f"/proc/{current}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1]) * 1024
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
        except (FileNotFoundError, ProcessLookupError):
            continue
    return rss, pss


class PeakMemory:
    def __init__(self, pid: int):
        self.pid, self.peak = pid, (0, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            rss, pss = memory(self.pid)
            self.peak = (max(self.peak[0], rss), max(self.peak[1], pss))

    def stop(self) -> tuple[int, int]:
        self._stop.set()
        self._thread.join()
        return self.peak


def start_server(project: Path, workers: int | None) -> tuple[subprocess.Popen, int]:
    port = free_port()
    args = [sys.executable, "-m", "yowasm", "serve", str(project), "--listen", f"127.0.0.1:{port}"]
    if workers:
        args += ["--workers", str(workers)]
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=toolchain_env())
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            urllib.request.urlopen(f"http://127.0.0.1:{port}/hello", timeout=1).read()
            return server, port
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("yowasm serve did not start")
            time.sleep(0.1)


def wasm_floor(module: Path, seconds: float) -> tuple[float, float]:
    """Requests per second of the gateway's own handler path, one thread, no HTTP."""
    from yowasm.gateway import Gateway, Request, Settings
    from yowasm.wagi import single_module

    gateway = Gateway(single_module(module), Settings(slots=1), log_error=lambda line: None)
    request = Request("GET", "/hello", (("host", "127.0.0.1:3000"), ("user-agent", "wrk")), b"",
                      ("127.0.0.1", 3000), ("127.0.0.1", 40000))
    try:
        return _rate(lambda: gateway.handle(request), seconds)
    finally:
        gateway.close()


def callback_floor(module: Path, seconds: float) -> tuple[float, float]:
    """Issue 11's floor: instantiate + run with a Python stdout callback."""
    import wasmtime

    from yowasm.wasm import engine, load_module

    linker = wasmtime.Linker(engine())
    linker.define_wasi()
    instance_pre = linker.instantiate_pre(load_module(module))

    def once() -> None:
        config = wasmtime.WasiConfig()
        config.env = [["REQUEST_METHOD", "GET"], ["PATH_INFO", "/hello"]]
        output = bytearray()
        config.stdout_custom = output.extend
        store = wasmtime.Store(engine())
        store.set_wasi(config)
        instance_pre.instantiate(store).exports(store)["_start"](store)

    return _rate(once, seconds)


def _rate(call, seconds: float) -> tuple[float, float]:
    """Calls per second, and CPU microseconds per call."""
    for _ in range(50):
        call()
    count, started, cpu = 0, time.perf_counter(), time.process_time()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(50):
            call()
        count += 50
    return count / elapsed, (time.process_time() - cpu) / count * 1e6


def spread(values: list[float], digits: int = 0) -> str:
    return "/".join(f"{value:.{digits}f}" for value in (min(values), statistics.median(values), max(values)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=4, help="seconds of load per figure")
    parser.add_argument("--workers", type=int, default=None, help="yowasm serve --workers (default: its own)")
    options = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: sudo apt-get install wrk")
    figures: dict[tuple, list] = {}

    def add(key: tuple, value) -> None:
        figures.setdefault(key, []).append(value)

    with tempfile.TemporaryDirectory() as folder:
        projects = {}
        for language in ("c", "rust"):
            project = render(Path(folder) / f"{language}-hello", name="hello", language=language, runtime="wagi")
            subprocess.run(["make", "build"], cwd=project, env=toolchain_env(), check=True, capture_output=True)
            projects[language] = project
        for round_number in range(options.rounds):
            print(f"round {round_number + 1}/{options.rounds}", file=sys.stderr)
            for language, project in projects.items():
                server, port = start_server(project, options.workers)
                peak = PeakMemory(server.pid)
                try:
                    wrk(port, "/hello", 8, 1, server.pid)  # warm
                    for connections in CONNECTIONS:
                        add((language, connections), wrk(port, "/hello", connections, options.seconds, server.pid))
                        if language == "c":
                            add(("http floor", connections),
                                wrk(port, "/healthz", connections, options.seconds, server.pid))
                finally:
                    add((language, "memory"), peak.stop())
                    server.terminate()
                    server.wait()
                add((language, "wasm floor"), wasm_floor(project / "build/hello.wasm", options.seconds))
                add((language, "callback floor"), callback_floor(project / "build/hello.wasm", options.seconds))

    print(f"\n{'what':<12}{'conns':>6}{'req/s min/med/max':>22}{'p99 ms min/med/max':>22}"
          f"{'CPU us/req':>12}{'errors':>8}")
    for name in ("c", "rust", "http floor"):
        for connections in CONNECTIONS:
            runs = figures[(name, connections)]
            print(f"{name:<12}{connections:>6}{spread([r['rate'] for r in runs]):>22}"
                  f"{spread([r['p99'] for r in runs], 1):>22}{statistics.median(r['cpu'] for r in runs):>12.0f}"
                  f"{sum(r['errors'] for r in runs):>8}")
    for language in ("c", "rust"):
        for kind, note in (("wasm floor", "one thread, in-process, the gateway's handler path"),
                           ("callback floor", "issue 11's: stdout callback, 2 variables")):
            runs = figures[(language, kind)]
            print(f"{language + ' ' + kind:<18}{spread([r[0] for r in runs]):>22}{'':>22}"
                  f"{statistics.median(r[1] for r in runs):>12.0f}  ({note})")
        rss = [peak[0] / 2**20 for peak in figures[(language, "memory")]]
        pss = [peak[1] / 2**20 for peak in figures[(language, "memory")]]
        print(f"{language + ' peak MB':<18}{'RSS ' + spread(rss):>22}{'PSS ' + spread(pss):>22}")

    c8 = statistics.median(r["rate"] for r in figures[("c", 8)])
    floor = statistics.median(r[0] for r in figures[("c", "wasm floor")])
    callback = statistics.median(r[0] for r in figures[("c", "callback floor")])
    print()
    verdicts = [(f"C at 8 connections: {c8:.0f} req/s = {c8 / floor:.2f}x the wasm floor "
                 f"({c8 / callback:.2f}x issue 11's callback floor); goal >= {GOAL_RATIO}x", c8 >= GOAL_RATIO * floor)]
    for connections, goal in GOAL_P99.items():
        p99 = statistics.median(r["p99"] for r in figures[("c", connections)])
        verdicts.append((f"C p99 at {connections} connections: {p99:.1f} ms; goal <= {goal:.0f} ms", p99 <= goal))
    rss = max(peak[0] for peak in figures[("c", "memory")])
    pss = max(peak[1] for peak in figures[("c", "memory")])
    verdicts.append((f"C peak memory under load: RSS {rss / 2**20:.0f} MB (PSS {pss / 2**20:.0f} MB); "
                     f"goal RSS <= {GOAL_RSS / 2**20:.0f} MB", rss <= GOAL_RSS))
    errors = sum(r["errors"] for key, runs in figures.items() if key[1] in CONNECTIONS for r in runs)
    verdicts.append((f"errors (non-2xx, socket): {errors}", errors == 0))
    load = os.getloadavg()[0]
    print(f"load average now {load:.1f} on {os.cpu_count()} cores" + ("  (busy machine: figures are low and noisy)"
                                                                    if load > os.cpu_count() else ""))
    for text, holds in verdicts:
        print(f"{'holds' if holds else 'MISSED':>6}  {text}")


if __name__ == "__main__":
    main()
