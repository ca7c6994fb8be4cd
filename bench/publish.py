#!/usr/bin/env python3
"""Publishing speed and memory, in one interleaved run, at 50 MB and 1 MB: `yowasm
publish` of a module against `skopeo copy` of the same artifact from an OCI layout
(the peer), and against one raw monolithic blob upload with curl (POST, then one PUT
of the whole blob: the floor, what the registry itself needs). Every run pushes to a
fresh registry (Debian's docker-registry on 127.0.0.1), so nothing is there yet. Then
a re-publish of the unchanged module to a registry that has it, which must upload
nothing.

    python3 bench/publish.py [--rounds 8]

Goals: yowasm <= 1.3x skopeo at 50 MB and <= 2x at 1 MB; peak RSS <= 64 MB; the
re-publish sends no blob.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from runner import ENV, PYTHON, YOWASM, ROOT, Case, Goal, measure, report  # noqa: E402

sys.path.insert(0, str(ROOT))
from tests.registry import running_registry  # noqa: E402

SIZES = {"50 MB": 50 * 1024 * 1024, "1 MB": 1024 * 1024}
RAW_PUT = """
location=$(curl -sSf -i -X POST "http://$HOST/v2/bench/raw/blobs/uploads/" | tr -d '\\r' | sed -n 's/^[Ll]ocation: //p')
curl -sSf -T "$MODULE" -H "Content-Type: application/octet-stream" "$location&digest=$DIGEST" -o /dev/null
"""


#: Blob upload requests each re-publish made, by module size.
REPUBLISH_UPLOADS: dict[str, list[int]] = {}


def publish(module: Path, registry, repository: str) -> list[str]:
    return [*YOWASM, "publish", str(module), "--plain-http", registry.ref(repository, "v1")]


@contextmanager
def fresh_registry(scratch: Path, *, holding: Path | None = None, env: dict | None = None):
    """A registry of its own for one run, holding nothing, or already the module."""
    with running_registry(scratch / "registry") as registry:
        if holding is not None:
            subprocess.run(publish(holding, registry, "bench/yowasm"), env=env, check=True, capture_output=True)
        yield registry, len(registry.upload_requests())


def cases_for(label: str, module: Path, layout: Path, env: dict[str, str]) -> list[Case]:
    digest = "sha256:" + hashlib.sha256(module.read_bytes()).hexdigest()
    uploads = REPUBLISH_UPLOADS.setdefault(label, [])

    def count_uploads(prepared) -> None:
        registry, before = prepared
        uploads.append(len(registry.upload_requests()) - before)

    return [
        Case(f"raw PUT {label}", lambda scratch, prepared: ["sh", "-c", f"HOST={prepared[0].host}\n{RAW_PUT}"],
             around=fresh_registry, env={"MODULE": str(module), "DIGEST": digest}),
        Case(f"skopeo copy {label}", lambda scratch, prepared: [
            "skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false", f"oci:{layout}:v1",
            f"docker://{prepared[0].ref('bench/skopeo', 'v1')}"], around=fresh_registry, env=env),
        Case(f"yowasm publish {label}", lambda scratch, prepared: publish(module, prepared[0], "bench/yowasm"),
             around=fresh_registry, env=env),
        Case(f"yowasm publish again {label}", lambda scratch, prepared: publish(module, prepared[0], "bench/yowasm"),
             around=lambda scratch: fresh_registry(scratch, holding=module, env={**ENV, **env}),
             after=count_uploads, env=env),
    ]


def oci_layout(module: Path, folder: Path, env: dict[str, str]) -> Path:
    """The artifact yowasm publishes, as an OCI layout on disk, for skopeo to copy."""
    layout = folder / f"layout-{module.stem}"
    with running_registry(folder / f"for-layout-{module.stem}") as registry:
        subprocess.run(publish(module, registry, "bench/yowasm"), env={**ENV, **env}, check=True, capture_output=True)
        subprocess.run(["skopeo", "--insecure-policy", "copy", "--src-tls-verify=false",
                        f"docker://{registry.ref('bench/yowasm', 'v1')}", f"oci:{layout}:v1"],
                       check=True, capture_output=True)
    return layout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory(prefix="yowasm-bench-publish-") as folder:
        env = {"DOCKER_CONFIG": str(Path(folder) / "docker"), "HOME": str(Path(folder) / "home")}
        cases = []
        for label, size in SIZES.items():
            module = Path(folder) / f"module-{size}.wasm"
            module.write_bytes(b"\0asm\x01\0\0\0" + os.urandom(size - 8))
            cases += cases_for(label, module, oci_layout(module, Path(folder), env), env)
        results = measure(cases, rounds)
    goals = [Goal("yowasm publish / skopeo copy, 50 MB <= 1.3", "yowasm publish 50 MB", 1.3, floor="skopeo copy 50 MB"),
             Goal("yowasm publish / skopeo copy, 1 MB <= 2", "yowasm publish 1 MB", 2.0, floor="skopeo copy 1 MB")]
    goals += [Goal(f"peak RSS of yowasm publish, {label} <= 64 MB", f"yowasm publish {label}", 64, figure="rss")
              for label in SIZES]
    held = report(results, goals, title="yowasm publish")
    print("\nfloors, for where the time goes:")
    for label in SIZES:
        for case in ("yowasm publish", "skopeo copy"):
            print(f"  {case} / raw PUT, {label}: "
                  f"{results.ratio(f'{case} {label}', f'raw PUT {label}').format(digits=2, unit='x')}")
    for label, counts in REPUBLISH_UPLOADS.items():
        uploads = counts[1:]  # the warm-up round's, left out with its timings
        print(f"re-publish blob upload requests, {label}: max {max(uploads)} "
              f"({'nothing sent' if max(uploads) == 0 else 'NOT zero'})")
        held &= max(uploads) == 0
    sys.exit(0 if held else 1)


if __name__ == "__main__":
    main()
