"""Render a template with copier, without the work `yowasm new` does not need.

`render_template` is `copier.run_copy(..., defaults=True, overwrite=True)` into a folder
that does not exist yet, and writes the same bytes. It leaves out only work whose
result is known in advance for that call (each is measured in bench/new.py and
described in the README's performance section):

- Copier imports its prompt stack (questionary, prompt_toolkit, pygments) although
  with every answer given it asks nothing. Unless yowasm already loaded them to ask
  its own questions, copier gets stand-ins that load the real thing if ever called.
  The same for asyncio (pathspec's deprecation markers import it), dunamai (git
  tag versions) and urllib.request (plumbum's file URLs).
- Importing plumbum (copier's process runner) spawns `uname -p` for a value it never
  reads; it is given the system name without that.
- Copier spawns git for a template folder that is no git repository (`rev-parse`,
  `init`, `bundle verify`), and for every file it writes into the new folder, to
  sync an executable bit into a git index that cannot list a file just created.
- Copier and the templates' from_yaml filter parse YAML (copier.yml, language.yml)
  with PyYAML's pure-Python parser; its C parser (libyaml) gives the same values.
- Jinja compiles the same sources again and again (file names, defaults, validators):
  compiled code is kept per source, in memory and in a cache file, as Python keeps
  bytecode in __pycache__ (in $XDG_CACHE_HOME/yowasm, default ~/.cache/yowasm).
- The cyclic garbage collector runs over the objects copier's import creates, none
  of which are garbage (yowasm.startup).

These rely on copier internals. When they are not where this module expects them
(another copier version), rendering falls back to plain `copier.run_copy`: slower,
never different. What belongs in copier itself is written up in the README.
"""

from __future__ import annotations

import hashlib
import importlib
import marshal
import os
import platform
import sys
import types
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from yowasm.cachefiles import cache_dir, read_cache_file, write_cache_file
from yowasm.startup import imports_uncollected

#: The most compiled templates a cache file keeps (yowasm's templates need ~70).
CACHE_ENTRIES = 500
#: The entry of a cache file that names its template folder.
LOCATION_KEY = "templates"
#: A cache file larger than this is ignored (and replaced).
CACHE_BYTES = 16 * 1024 * 1024
PYDANTIC_PLUGINS_SWITCH = "PYDANTIC_DISABLE_PLUGINS"


def render_template(templates: Path, target: Path, data: dict[str, Any]) -> None:
    """Render TEMPLATES into TARGET (which must not exist) with every answer in DATA."""
    fresh = not os.path.lexists(target)
    copier = import_copier()
    with _without_pydantic_plugins(), ExitStack() as shortcuts:
        for shortcut in _shortcuts(templates, fresh=fresh):
            shortcuts.enter_context(shortcut)
        copier.run_copy(str(templates), target, data=data, defaults=True, overwrite=True,
                        quiet=True, unsafe=False)


def import_copier():
    """The copier package, imported (the first time) without the work below."""
    with _without_pydantic_plugins(), imports_uncollected("copier"):
        return _import_copier()


def _import_copier():
    if "copier" in sys.modules:
        return sys.modules["copier"]
    try:
        with _stand_ins(_deferred_names()), _uname_without_processor():
            import copier
    except ImportError:  # copier took a name the stand-ins lack: import it plainly
        import copier
    return copier


@contextmanager
def _without_pydantic_plugins() -> Iterator[None]:
    """pydantic looks for its plugins (observers of validation, such as logfire) when
    it builds its first validator: it reads the entry points of every installed
    distribution. Copier's models need none; pydantic's own switch turns the search
    off while copier imports and renders, unless the user has set it."""
    if PYDANTIC_PLUGINS_SWITCH in os.environ:
        yield
        return
    os.environ[PYDANTIC_PLUGINS_SWITCH] = "__all__"
    try:
        yield
    finally:
        os.environ.pop(PYDANTIC_PLUGINS_SWITCH, None)


# -- Libraries copier imports but a render does not use ---------------------------

def _deferred_names() -> dict[str, dict[str, Any]]:
    """For each library a render never calls, the names copier (or a library it
    imports) takes from it at import: module -> {name: stand-in}."""
    names: dict[str, dict[str, Any]] = {}
    if not any(module in sys.modules for module in ("questionary", "prompt_toolkit", "pygments")):
        names["questionary"] = {name: _loaded_on_use("questionary", name) for name in ("confirm", "unsafe_prompt")}
        names["questionary.prompts.common"] = {"Choice": _Choice}
        names["prompt_toolkit.lexers"] = {"PygmentsLexer": _loaded_on_use("prompt_toolkit.lexers", "PygmentsLexer")}
        names["pygments.lexers.data"] = {name: _loaded_on_use("pygments.lexers.data", name)
                                         for name in ("JsonLexer", "YamlLexer")}
    if "asyncio" not in sys.modules:
        # pathspec marks functions deprecated with typing_extensions.deprecated, which
        # imports all of asyncio to ask whether a function is an old-style coroutine
        # (none of pathspec's is; asyncio's marker exists only once asyncio does).
        import inspect

        names["asyncio.coroutines"] = {"iscoroutinefunction": inspect.iscoroutinefunction, "_is_coroutine": object()}
    # Imported whole, used only for git-tagged templates (dunamai) and file URLs
    # (plumbum's Path.as_uri): nothing is taken from them at import.
    for module in ("dunamai", "urllib.request"):
        if module not in sys.modules:
            names[module] = {}
    return names


class _Choice:
    """questionary's Choice as far as copier uses it without prompting (its value and
    whether it is disabled, to check answers against the choices). When questionary
    is loaded, the real Choice is made instead, so a prompt gets what it expects."""

    def __new__(cls, title, value=None, disabled=None, checked=False, shortcut_key=True, description=None):
        common = sys.modules.get("questionary.prompts.common")
        if common is not None and not isinstance(common, _StandIn):
            return common.Choice(title, value, disabled, checked, shortcut_key, description)
        return super().__new__(cls)

    def __init__(self, title, value=None, disabled=None, checked=False, shortcut_key=True, description=None):
        self.title = title
        self.value = title if value is None else value
        self.disabled = disabled
        self.checked = bool(checked)
        self.shortcut_key = shortcut_key
        self.description = description


def _loaded_on_use(module: str, name: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(_real_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


class _StandIn(types.ModuleType):
    """A module in place of a library while copier imports: it holds the names copier
    takes; any other name loads the library itself."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_real_module(self.__name__), name)


def _real_module(name: str) -> types.ModuleType:
    """Import NAME itself, dropping the stand-ins of it and of its packages."""
    parts = name.split(".")
    for depth in range(len(parts), 0, -1):
        if isinstance(sys.modules.get(".".join(parts[:depth])), _StandIn):
            del sys.modules[".".join(parts[:depth])]
    return importlib.import_module(name)


@contextmanager
def _stand_ins(names: dict[str, dict[str, Any]]) -> Iterator[None]:
    stand_ins: dict[str, _StandIn] = {}
    for module, attributes in names.items():
        parts = module.split(".")
        for depth in range(1, len(parts) + 1):
            package = ".".join(parts[:depth])
            if package in sys.modules and package not in stand_ins:
                continue  # a real package (such as urllib) stays
            if package not in stand_ins:
                stand_ins[package] = _StandIn(package)
                stand_ins[package].__path__ = []  # a package, so that its submodules import
            if depth > 1 and ".".join(parts[:depth - 1]) in stand_ins:
                setattr(stand_ins[".".join(parts[:depth - 1])], parts[depth - 1], stand_ins[package])
        for name, value in attributes.items():
            setattr(stand_ins[module], name, value)
    sys.modules.update(stand_ins)
    try:
        yield
    finally:  # the real modules import normally from now on
        for module, stand_in in stand_ins.items():
            if sys.modules.get(module) is stand_in:
                del sys.modules[module]


@contextmanager
def _uname_without_processor() -> Iterator[None]:
    """plumbum reads `platform.uname()[0]` at import, which makes the processor field
    be computed, by running `uname -p`. Give it the same uname without that field."""
    real_uname = platform.uname
    real = real_uname()
    stand_in = platform.uname_result(real.system, real.node, real.release, real.version, real.machine)
    stand_in.__dict__["processor"] = ""  # the cached_property's slot: no subprocess
    platform.uname = lambda: stand_in
    try:
        yield
    finally:
        platform.uname = real_uname


# -- Work skipped for a new destination -------------------------------------------

def _shortcuts(templates: Path, *, fresh: bool) -> list:
    """The shortcuts for this copier, as context managers; the git ones only for a
    destination that does not exist yet."""
    try:
        from copier import _main, _template
        from jinja2 import Environment

        worker, get_repo, yaml = _main.Worker, _template.get_repo, _template.yaml
        worker._sync_git_index_executable_bit  # noqa: B018 (present, or fall back)
    except (ImportError, AttributeError):
        return []
    shortcuts = [_compiled_once(Environment, templates)]
    if fresh:
        shortcuts += [
            _replaced(worker, "_sync_git_index_executable_bit", lambda self, dst_relpath, src_mode: None),
            _replaced(_template, "get_repo", lambda url: None if _plain_folder(url) else get_repo(url)),
        ]
    if getattr(yaml, "__with_libyaml__", False):
        # copier.yml, and language.yml through the templates' from_yaml filter (the
        # module of copier's default Jinja extension, which copier loads by name).
        shortcuts.append(_replaced(_template, "yaml", _YamlInC(yaml)))
        try:
            filters = importlib.import_module("jinja2_ansible_filters.core_filters")
        except ImportError:
            filters = None
        if getattr(filters, "yaml", None) is yaml:
            shortcuts.append(_replaced(filters, "yaml", _YamlInC(yaml)))
    return shortcuts


class _YamlInC(types.ModuleType):
    """The yaml module as seen by one module, whose safe loading is PyYAML's libyaml
    binding (CSafeLoader: the same resolver and constructors, the parser in C)."""

    def __init__(self, yaml):
        super().__init__(yaml.__name__)
        self._yaml = yaml
        self.SafeLoader = yaml.CSafeLoader

    def safe_load(self, stream):
        return self._yaml.load(stream, Loader=self._yaml.CSafeLoader)

    def __getattr__(self, name):
        return getattr(self._yaml, name)


@contextmanager
def _replaced(owner: Any, name: str, replacement: Any) -> Iterator[None]:
    original = getattr(owner, name)
    setattr(owner, name, replacement)
    try:
        yield
    finally:
        setattr(owner, name, original)


def _plain_folder(url: str) -> bool:
    """A local folder that is no git repository root (and so no git bundle either):
    what copier's get_repo answers None for after asking git three times."""
    path = Path(url)
    return (path.is_absolute() and path.is_dir() and not (path / ".git").exists()
            and not any(key in os.environ for key in ("GIT_DIR", "GIT_WORK_TREE")))


# -- Compiled templates, once ------------------------------------------------------

@contextmanager
def _compiled_once(environment_class, templates: Path) -> Iterator[None]:
    """Jinja's compile, memoised, with a cache file per template folder: compiled code
    names its source file, so another folder's (another checkout, another venv) would
    only make every file larger and slower to load."""
    import jinja2

    original = environment_class.compile
    location = hashlib.sha256(os.fsencode(os.path.abspath(templates))).hexdigest()[:16]
    cache_file = cache_dir() / f"jinja-{sys.implementation.cache_tag}-{jinja2.__version__}-{location}.marshal"
    stored = _read_cache(cache_file)
    used: dict[str, types.CodeType] = {}
    # Per environment (held, so that no other can take its id), recomputed if it grows.
    fingerprints: dict[int, tuple[Any, tuple[int, int, int], tuple]] = {}

    def fingerprint(environment) -> tuple:
        sizes = (len(environment.filters), len(environment.tests), len(environment.extensions))
        known = fingerprints.get(id(environment))
        if known is None or known[1] != sizes:
            known = fingerprints[id(environment)] = (environment, sizes, _fingerprint(environment))
        return known[2]

    def compile(self, source, name=None, filename=None, raw=False, defer_init=False):
        if raw or not isinstance(source, str):
            return original(self, source, name, filename, raw, defer_init)
        key = hashlib.sha256(repr((fingerprint(self), source, name, filename, defer_init)).encode()).hexdigest()
        code = used.get(key) or stored.get(key)
        if code is None:
            code = original(self, source, name, filename, raw, defer_init)
        used[key] = code
        return code

    environment_class.compile = compile
    try:
        yield
    finally:
        environment_class.compile = original
    if not used.keys() <= stored.keys():
        kept = {**stored, **used} if len(stored) + len(used) <= CACHE_ENTRIES else used
        _write_cache(cache_file, {**kept, LOCATION_KEY: os.path.abspath(templates)})
        _remove_vanished(cache_file)


def _remove_vanished(kept: Path) -> None:
    """Remove the other cache files whose template folder is gone (a deleted checkout,
    a temporary copy), or that do not say which it was."""
    for other in kept.parent.glob("jinja-*.marshal"):
        if other == kept:
            continue
        data = read_cache_file(other, CACHE_BYTES)
        try:
            location = marshal.loads(data).get(LOCATION_KEY) if data is not None else None
        except (ValueError, EOFError, TypeError, AttributeError):
            location = None
        if data is not None and not (isinstance(location, str) and os.path.isdir(location)):
            try:
                other.unlink()
            except OSError:
                pass


def _fingerprint(environment) -> tuple:
    """What a compiled template depends on besides its source: the environment's
    class, syntax, options, extensions, and the filters and tests it can name."""
    return (
        type(environment).__module__, type(environment).__qualname__,
        environment.block_start_string, environment.block_end_string,
        environment.variable_start_string, environment.variable_end_string,
        environment.comment_start_string, environment.comment_end_string,
        environment.line_statement_prefix, environment.line_comment_prefix,
        environment.trim_blocks, environment.lstrip_blocks, environment.newline_sequence,
        environment.keep_trailing_newline, environment.optimized, environment.is_async,
        repr(environment.autoescape) if not callable(environment.autoescape) else environment.autoescape.__qualname__,
        getattr(environment.finalize, "__qualname__", repr(environment.finalize)),
        tuple(sorted(environment.extensions)), tuple(sorted(environment.filters)), tuple(sorted(environment.tests)),
    )


def _read_cache(path: Path) -> dict[str, types.CodeType]:
    """The cache file's compiled templates; nothing when it is untrusted or not a cache file."""
    data = read_cache_file(path, CACHE_BYTES)
    try:
        entries = marshal.loads(data) if data is not None else {}
    except (ValueError, EOFError, TypeError):
        return {}
    if not isinstance(entries, dict):
        return {}
    return {key: code for key, code in entries.items()
            if isinstance(key, str) and isinstance(code, types.CodeType)}


def _write_cache(path: Path, entries: dict[str, types.CodeType]) -> None:
    try:
        data = marshal.dumps(entries)
    except ValueError:
        return
    write_cache_file(path, data)
