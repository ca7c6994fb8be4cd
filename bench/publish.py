#!/usr/bin/env python3
"""Publishing speed, one run: `yowasm publish` of a 50 MB module against `skopeo copy`
of the same artifact from an OCI directory to the same registry (Debian's
docker-registry on 127.0.0.1), then a re-publish of the unchanged module.

    python3 bench/publish.py

Goals: yowasm within 1.3x of skopeo's wall time; the re-publish sends zero blob bytes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.registry import running_registry  # noqa: E402

SIZE = 50 * 1024 * 1024


def timed(command: list[str], **kwargs) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, **kwargs)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        module = scratch / "big.wasm"
        module.write_bytes(b"\0asm\x01\0\0\0" + os.urandom(SIZE - 8))
        env = {**os.environ, "DOCKER_CONFIG": str(scratch / "docker")}
        with running_registry(scratch / "registry") as registry:
            yowasm = [sys.executable, "-m", "yowasm", "publish", str(module), "--plain-http"]
            first = timed([*yowasm, registry.ref("bench/yowasm", "v1")], env=env)
            uploads = len(registry.upload_requests())
            again = timed([*yowasm, registry.ref("bench/yowasm", "v1")], env=env)
            republish_uploads = len(registry.upload_requests()) - uploads

            # The same artifact as an OCI layout, for skopeo.
            layout = scratch / "layout"
            subprocess.run(["skopeo", "--insecure-policy", "copy", "--src-tls-verify=false",
                            f"docker://{registry.ref('bench/yowasm', 'v1')}", f"oci:{layout}:v1"],
                           check=True, capture_output=True)
        # A fresh registry of the same kind, so that neither it nor skopeo's blob cache
        # already knows the blobs (yowasm's first push had an empty registry too).
        with running_registry(scratch / "registry-for-skopeo") as registry:
            skopeo = timed(["skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false",
                            f"oci:{layout}:v1", f"docker://{registry.ref('bench/skopeo', 'v1')}"],
                           env={**env, "HOME": str(scratch / "home")})
    print(f"{'case':<34}{'wall':>9}")
    print(f"{'skopeo copy oci: -> registry':<34}{skopeo:>8.2f}s")
    print(f"{'yowasm publish (50 MB)':<34}{first:>8.2f}s")
    print(f"{'yowasm publish again (unchanged)':<34}{again:>8.2f}s")
    ratio = first / skopeo
    print(f"\nyowasm / skopeo = {ratio:.2f} ({'ok' if ratio <= 1.3 else 'over the 1.3 goal'})")
    print(f"re-publish blob upload requests: {republish_uploads} ({'zero bytes sent' if republish_uploads == 0 else 'NOT zero'})")


if __name__ == "__main__":
    main()
