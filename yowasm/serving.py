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
        if not (target / ANSWERS_FILE).is_file() and (target / SPIN_TOML).is_file():
            return load_spin_toml(target / SPIN_TOML), None
        project = load_project(target)
        if (project.root / SPIN_TOML).is_file() and not project.modules_toml.is_file():
            return load_spin_toml(project.root / SPIN_TOML), project
        if not project.modules_toml.is_file():
            raise ServeError(
                f"{project.root} is a {project.answers.runtime.value} project with no modules.toml, so it has no "
                "WAGI handler to serve.",
                hint="Run it with `yowasm run`, or make a WAGI project: yowasm new NAME --runtime wagi",
                exit_code=2,
            )
        return load_modules_toml(project.modules_toml), project
    if target.name == SPIN_TOML:
        return load_spin_toml(target), None
    if target.suffix == ".toml":
        return load_modules_toml(target), None
    if target.suffix == ".wasm" or target.is_file():
        if not target.is_file():
            raise ServeError(f"No module at {target}.", exit_code=2)
        return single_module(target), None
    raise ServeError(f"Nothing to serve at {target}.",
                     hint="Give a project folder, a modules.toml or a .wasm module.", exit_code=2)


SPIN_TOML = "spin.toml"


def load_spin_toml(path: Path) -> list[Route]:
    """The WAGI routes of a Spin manifest (version 2): each `[[trigger.http]]` with
    `executor = { type = "wagi" }` and the local `source` of its component. Spin's own
    executor runs components, which yowasm does not serve."""
    from yowasm.readers import read_toml
    from yowasm.wagi import _invalid, _route

    manifest = read_toml(path, "Spin manifest", example='spin_manifest_version = 2')
    if manifest.get("spin_manifest_version") != 2:
        raise _invalid(str(path), "spin_manifest_version", manifest.get("spin_manifest_version"),
                       "yowasm reads Spin manifest version 2", "spin_manifest_version = 2")
    trigger_tables, components = manifest.get("trigger"), manifest.get("component", {})
    triggers = trigger_tables.get("http") if isinstance(trigger_tables, dict) else None
    if not isinstance(triggers, list) or not triggers or not isinstance(components, dict):
        raise _invalid(str(path), "trigger.http", triggers, "needs one or more [[trigger.http]] tables",
                       '[[trigger.http]] route = "/..." component = "hello"')
    routes = []
    for index, trigger in enumerate(triggers, 1):
        where = f"{path} [[trigger.http]] #{index}"
        if not isinstance(trigger, dict) or isinstance(trigger.get("route"), dict):
            continue  # a private endpoint: reachable only from other components
        executor = trigger.get("executor") if isinstance(trigger.get("executor"), dict) else {}
        if executor.get("type") != "wagi":
            raise _invalid(where, "executor", executor.get("type", "spin"),
                           "yowasm serves WAGI handlers only", 'executor = { type = "wagi" }')
        component = components.get(trigger.get("component")) if isinstance(trigger.get("component"), str) else None
        if not isinstance(component, dict) or not isinstance(component.get("source"), str):
            raise _invalid(where, "component", trigger.get("component"),
                           "must name a [component.ID] table with a local source", '"hello"')
        entry = {"route": trigger.get("route"), "module": component["source"],
                 "allowed_hosts": component.get("allowed_outbound_hosts", [])}
        entry.update({key: executor[key] for key in ("entrypoint", "argv") if key in executor})
        routes.append(_route(entry, path.parent, where))
    return routes


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
