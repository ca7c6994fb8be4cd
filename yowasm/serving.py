"""What `yowasm serve` serves: the routes of a project, a modules.toml or one module."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from yowasm.errors import ServeError, YowasmError
from yowasm.project import ANSWERS_FILE, Project, load_project
from yowasm.wagi import Route, load_modules_toml, single_module


def routes_for(target: Path) -> tuple[list[Route], Project | None]:
    if target.is_dir():
        if not (target / ANSWERS_FILE).is_file() and (target / "modules.toml").is_file():
            return load_modules_toml(target / "modules.toml"), None
        project = load_project(target)
        if not project.modules_toml.is_file():
            raise ServeError(
                f"{project.root} is a {project.answers.runtime.value} project with no modules.toml, so it has no "
                "WAGI handler to serve.",
                hint="Run it with `yowasm run`, or make a WAGI project: yowasm new NAME --runtime wagi",
                exit_code=2,
            )
        return load_modules_toml(project.modules_toml), project
    if target.suffix == ".toml":
        return load_modules_toml(target), None
    if target.suffix == ".wasm" or target.is_file():
        if not target.is_file():
            raise ServeError(f"No module at {target}.", exit_code=2)
        return single_module(target), None
    raise ServeError(f"Nothing to serve at {target}.",
                     hint="Give a project folder, a modules.toml or a .wasm module.", exit_code=2)


def oci_fetcher(*, plain_http: bool, insecure: bool, ca_file: Path | None) -> Callable[[str], Path]:
    """Pull `oci:` modules (once per digest) into yowasm's cache folder."""

    def fetch(text: str) -> Path:
        import hashlib
        import os

        from yowasm.publishing import connection_for
        from yowasm.reference import Reference
        from yowasm.transfer import pull

        reference = Reference.parse(text)
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "yowasm" / "oci"
        target = cache / (hashlib.sha256(str(reference).encode()).hexdigest()[:32] + ".wasm")
        connection = connection_for(reference, plain_http=plain_http, insecure=insecure, ca_file=ca_file)
        return pull(reference, target, connection).path

    return fetch


def watch(project: Project, reload: Callable[[], None], *, log: Callable[[str], None],
          stopped: Callable[[float], bool], interval: float = 0.5) -> threading.Thread:
    """Rebuild and RELOAD when the project's sources change, until STOPPED(seconds)
    says so. A failed build is logged once and the last good module keeps serving
    until the sources change again."""
    from yowasm.build import build_project

    def loop() -> None:
        seen = project.newest_source_time()
        while not stopped(interval):
            newest = project.newest_source_time()
            if newest == seen or not project.module_is_stale():
                continue
            seen = newest
            try:
                built = build_project(project, output_to_stderr=True)
                reload()
                log(f"Rebuilt {built.module.name} ({built.size:,} bytes) and reloaded")
            except YowasmError as error:
                log(f"Rebuild failed, still serving the last good module: {error.message}")

    thread = threading.Thread(target=loop, daemon=True, name="watch")
    thread.start()
    return thread
