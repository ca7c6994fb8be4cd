#!/usr/bin/env python3
"""Publishing speed, one run: `yowasm publish` of a 50 MB module against `skopeo copy`
of the same artifact from an OCI directory to the same kind of registry (Debian's
docker-registry on 127.0.0.1), then a re-publish of the unchanged module.

    python3 bench/publish.py [--runs 3]

Goals: yowasm within 1.3x of skopeo's wall time; the re-publish sends zero blob bytes.
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

from tests.registry import running_registry  # noqa: E402

SIZE = 50 * 1024 * 1024
# Bytecode caching on, as on a user's machine (some sandboxes turn it off, which makes
# every run recompile yowasm's sources).
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def timed(command: list[str], **kwargs) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, **kwargs)
    return time.perf_counter() - start


def one_run(scratch: Path, module: Path, layout: Path) -> tuple[float, float, float, int]:
    """Seconds for yowasm's first push, its re-push and skopeo's push, each to an empty
    registry (so that neither it nor skopeo's blob cache knows the blobs), and how many
    upload requests the re-push made."""
    env = {**ENV, "DOCKER_CONFIG": str(scratch / "docker"), "HOME": str(scratch / "home")}
    with running_registry(scratch / "for-yowasm") as registry:
        yowasm = [sys.executable, "-m", "yowasm", "publish", str(module), "--plain-http",
                  registry.ref("bench/yowasm", "v1")]
        first = timed(yowasm, env=env)
        uploads = len(registry.upload_requests())
        again = timed(yowasm, env=env)
        republish_uploads = len(registry.upload_requests()) - uploads
        if not layout.exists():  # the same artifact as an OCI layout, for skopeo
            subprocess.run(["skopeo", "--insecure-policy", "copy", "--src-tls-verify=false",
                            f"docker://{registry.ref('bench/yowasm', 'v1')}", f"oci:{layout}:v1"],
                           check=True, capture_output=True, env=env)
    with running_registry(scratch / "for-skopeo") as registry:
        skopeo = timed(["skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false",
                        f"oci:{layout}:v1", f"docker://{registry.ref('bench/skopeo', 'v1')}"], env=env)
    return first, again, skopeo, republish_uploads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    results = []
    with tempfile.TemporaryDirectory() as folder:
        module = Path(folder) / "big.wasm"
        module.write_bytes(b"\0asm\x01\0\0\0" + os.urandom(SIZE - 8))
        for run in range(runs):
            with tempfile.TemporaryDirectory(dir=folder) as scratch:
                results.append(one_run(Path(scratch), module, Path(folder) / "layout"))
    first, again, skopeo = (statistics.median(column) for column in list(zip(*results))[:3])
    republish_uploads = max(result[3] for result in results)
    print(f"{'case (median of ' + str(runs) + ')':<34}{'wall':>9}")
    print(f"{'skopeo copy oci: -> registry':<34}{skopeo:>8.2f}s")
    print(f"{'yowasm publish (50 MB)':<34}{first:>8.2f}s")
    print(f"{'yowasm publish again (unchanged)':<34}{again:>8.2f}s")
    ratio = first / skopeo
    print(f"\nyowasm / skopeo = {ratio:.2f} ({'ok' if ratio <= 1.3 else 'over the 1.3 goal'})")
    print(f"re-publish blob upload requests: {republish_uploads} "
          f"({'zero bytes sent' if republish_uploads == 0 else 'NOT zero'})")


if __name__ == "__main__":
    main()
