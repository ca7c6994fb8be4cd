"""Where yowasm's own data is (the copier templates and the files beside them) and how
it is read: a module of its own, so that the domain model can list the runtime files
without importing what reads languages."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

PACKAGE_DIR = Path(__file__).resolve().parent


def templates_dir() -> Path:
    """The copier template root: inside the package when installed, beside it in a checkout."""
    for candidate in (PACKAGE_DIR / "templates", PACKAGE_DIR.parent / "templates"):
        if (candidate / "copier.yml").is_file():
            return candidate
    raise FileNotFoundError("yowasm's templates are missing from this installation")


def runtime_names() -> list[str]:
    """The runtimes: the names of the runtime files, in name order (listed, not parsed)."""
    return sorted(path.name.removesuffix(".yml") for path in (templates_dir() / "runtimes").glob("*.yml"))


def runtime_file(name: str) -> Path:
    return templates_dir() / "runtimes" / f"{name}.yml"


def language_names() -> list[str]:
    """The languages: the template folders that hold a language.yml, in name order
    (listed, not parsed)."""
    return sorted(path.parent.name for path in templates_dir().glob("*/language.yml"))


def language_file(name: str) -> Path:
    return templates_dir() / name / "language.yml"


def default_runtime_name() -> str:
    """The runtime whose file says `default: true`, found without the domain model:
    `new --help` names it."""
    return _marked_default(runtime_names(), runtime_file)


def default_language_name() -> str:
    """The language whose language.yml says `default: true`."""
    return _marked_default(language_names(), language_file)


def _marked_default(names: list[str], file_of: Callable[[str], Path]) -> str:
    """The first of NAMES whose file says `default: true` (a test checks that exactly one does)."""
    return next(name for name in names if load_packaged_yaml(file_of(name)).get("default"))


def load_packaged_yaml(path: Path) -> Any:
    """A YAML file shipped with yowasm (its own data, so read without the bounds of
    yowasm.readers), parsed once per content (yowasm.yaml_cache) by PyYAML's libyaml
    binding where it has one: the same safe loader with the parser in C, several times
    faster than the pure-Python one."""
    from yowasm import yaml_cache

    text = path.read_text(encoding="utf-8")
    value = yaml_cache.lookup(_CACHE_KIND, text)
    if value is yaml_cache.MISS:
        import yaml

        value = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        yaml_cache.store(_CACHE_KIND, text, value)
    return value


#: How load_packaged_yaml's values are known in the cache (aliases allowed: yowasm's own).
_CACHE_KIND = "packaged.yaml"
