#!/usr/bin/env python3
"""Gateway speed, one run: requests per second and p50/p99 latency of `yowasm serve`
on the C and Rust hello handlers at 1, 8 and 32 concurrent keep-alive clients
(ApacheBench, `ab` from apache2-utils), against the floor: instantiating and running
the same module alone, in-process, with nothing else.

    python3 bench/serve.py [--requests 4000]

Goal: at 8 clients, at least 1,000 requests/s for the C hello handler on this 2-core
machine, with p99 under 20 ms.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.projects import render, toolchain_env  # noqa: E402
from tests.registry import free_port  # noqa: E402

CLIENTS = (1, 8, 32)


def floor(module: Path, runs: int = 2000) -> float:
    """Requests per second of instantiate + run alone, one thread, in-process."""
    import wasmtime

    from yowasm.wasm import engine, load_module

    linker = wasmtime.Linker(engine())
    linker.define_wasi()
    instance_pre = linker.instantiate_pre(load_module(module))
    start = time.perf_counter()
    for _ in range(runs):
        config = wasmtime.WasiConfig()
        config.env = [["REQUEST_METHOD", "GET"], ["PATH_INFO", "/hello"]]
        output = bytearray()
        config.stdout_custom = output.extend
        store = wasmtime.Store(engine())
        store.set_wasi(config)
        instance_pre.instantiate(store).exports(store)["_start"](store)
    return runs / (time.perf_counter() - start)


def load(port: int, clients: int, requests: int) -> tuple[float, float, float]:
    result = subprocess.run(["ab", "-k", "-q", "-n", str(requests), "-c", str(clients),
                             f"http://127.0.0.1:{port}/hello"], capture_output=True, text=True, check=True)
    rate = float(re.search(r"Requests per second:\s+([\d.]+)", result.stdout).group(1))
    p50 = float(re.search(r"^\s+50%\s+(\d+)", result.stdout, re.M).group(1))
    p99 = float(re.search(r"^\s+99%\s+(\d+)", result.stdout, re.M).group(1))
    failed = int(re.search(r"Failed requests:\s+(\d+)", result.stdout).group(1))
    if failed:
        raise SystemExit(f"{failed} requests failed:\n{result.stdout}")
    return rate, p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    requests = parser.parse_args().requests
    if not shutil.which("ab"):
        raise SystemExit("ab is not installed: sudo apt-get install apache2-utils")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for language in ("c", "rust"):
            project = render(Path(folder) / f"{language}-hello", name="hello", language=language, runtime="wagi")
            subprocess.run(["make", "build"], cwd=project, env=toolchain_env(), check=True, capture_output=True)
            module = project / "build/hello.wasm"
            port = free_port()
            server = subprocess.Popen([sys.executable, "-m", "yowasm", "serve", str(project), "--listen",
                                       f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      env=toolchain_env())
            try:
                time.sleep(1.5)
                load(port, 8, 200)  # warm
                for clients in CLIENTS:
                    rows.append((language, clients, *load(port, clients, requests)))
            finally:
                server.terminate()
                server.wait()
            rows.append((language, "floor", floor(module), None, None))
    print(f"{'handler':<8}{'clients':>8}{'req/s':>10}{'p50 ms':>8}{'p99 ms':>8}")
    for language, clients, rate, p50, p99 in rows:
        latency = f"{p50:>8.0f}{p99:>8.0f}" if p50 is not None else f"{'':>8}{'':>8}"
        print(f"{language:<8}{clients!s:>8}{rate:>10.0f}{latency}")
    c8 = next(row for row in rows if row[0] == "c" and row[1] == 8)
    c_floor = next(row for row in rows if row[0] == "c" and row[1] == "floor")
    verdict = "ok" if c8[2] >= 1000 and c8[4] < 20 else "below the goal"
    print(f"\nC at 8 clients: {c8[2]:.0f} req/s, p99 {c8[4]:.0f} ms ({verdict}); "
          f"{c8[2] / c_floor[2]:.2f} of the single-thread floor")


if __name__ == "__main__":
    main()
