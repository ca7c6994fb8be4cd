"""Render a template with copier, without the work `yowasm new` does not need.

`render_template` is `copier.run_copy(..., defaults=True, overwrite=True)` into a folder
that does not exist yet, and writes the same bytes. It leaves out only work whose
result is known in advance for that call (each is measured in bench/new.py and
described in the README's performance section):

- Copier imports its prompt stack (questionary, prompt_toolkit, pygments) although
  with every answer given it asks nothing. Unless yowasm already loaded them to ask
  its own questions, copier gets stand-ins that load the real thing if ever called.
- Importing plumbum (copier's process runner) spawns `uname -p` for a value it never
  reads; it is given the system name without that.
- Copier spawns git for a template folder that is no git repository (`rev-parse`,
  `init`, `bundle verify`), and for every file it writes into the new folder, to
  sync an executable bit into a git index that cannot list a file just created.
- Jinja compiles the same sources again and again (file names, defaults, validators):
  compiled code is kept per source, in memory and in a cache file, as Python keeps
  bytecode in __pycache__ (in $XDG_CACHE_HOME/yowasm, default ~/.cache/yowasm).
- The cyclic garbage collector runs over the objects the imports create, none of
  which are garbage: it is paused for the import and the render, and what the
  imports made is moved out of its sight (gc.freeze).

These rely on copier internals. When they are not where this module expects them
(another copier version), rendering falls back to plain `copier.run_copy`: slower,
never different. What belongs in copier itself is written up in the README.
"""

from __future__ import annotations

import gc
import hashlib
import marshal
import os
import platform
import sys
import tempfile
import types
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

#: The most compiled templates the cache file keeps (yowasm's templates need ~70).
CACHE_ENTRIES = 2000
#: A cache file larger than this is ignored (and replaced).
CACHE_BYTES = 16 * 1024 * 1024


def render_template(templates: Path, target: Path, data: dict[str, Any]) -> None:
    """Render TEMPLATES into TARGET (which must not exist) with every answer in DATA."""
    fresh = not os.path.lexists(target)
    with _collector_paused():
        copier = _import_copier()
        gc.freeze()  # what the imports made lives as long as the process: never scan it
        with ExitStack() as shortcuts:
            if fresh:
                for shortcut in _shortcuts(copier):
                    shortcuts.enter_context(shortcut)
            copier.run_copy(str(templates), target, data=data, defaults=True, overwrite=True,
                            quiet=True, unsafe=False)


@contextmanager
def _collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _import_copier():
    if "copier" in sys.modules:
        return sys.modules["copier"]
    with _prompt_stack_deferred(), _uname_without_processor():
        import copier
    return copier


# -- The prompt stack -------------------------------------------------------------

#: The prompt-stack names copier binds at import: module -> names.
_PROMPT_NAMES = {
    "questionary": ("confirm", "unsafe_prompt"),
    "questionary.prompts.common": ("Choice",),
    "prompt_toolkit.lexers": ("PygmentsLexer",),
    "pygments.lexers.data": ("JsonLexer", "YamlLexer"),
}


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
        __import__(module)
        return getattr(sys.modules[module], name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


class _StandIn(types.ModuleType):
    pass


@contextmanager
def _prompt_stack_deferred() -> Iterator[None]:
    if any(module in sys.modules for module in ("questionary", "prompt_toolkit", "pygments")):
        yield  # already paid for: copier shares it
        return
    stand_ins = {}
    for module, names in _PROMPT_NAMES.items():
        parts = module.split(".")
        for depth in range(1, len(parts) + 1):
            stand_ins.setdefault(".".join(parts[:depth]), _StandIn(".".join(parts[:depth])))
        for name in names:
            setattr(stand_ins[module], name, _Choice if name == "Choice" else _loaded_on_use(module, name))
    for stand_in in stand_ins.values():
        stand_in.__path__ = []  # a package, so that its submodules import
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

def _shortcuts(copier) -> list:
    try:
        from copier import _main, _template
        from jinja2 import Environment

        worker, get_repo = _main.Worker, _template.get_repo
        worker._sync_git_index_executable_bit  # noqa: B018 (present, or fall back)
    except (ImportError, AttributeError):
        return []
    return [
        _replaced(worker, "_sync_git_index_executable_bit", lambda self, dst_relpath, src_mode: None),
        _replaced(_template, "get_repo", lambda url: None if _plain_folder(url) else get_repo(url)),
        _compiled_once(Environment),
    ]


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
def _compiled_once(environment_class) -> Iterator[None]:
    import jinja2

    original = environment_class.compile
    cache_file = _cache_dir() / f"jinja-{sys.implementation.cache_tag}-{jinja2.__version__}.marshal"
    stored = _read_cache(cache_file)
    used: dict[str, types.CodeType] = {}

    def compile(self, source, name=None, filename=None, raw=False, defer_init=False):
        if raw or not isinstance(source, str):
            return original(self, source, name, filename, raw, defer_init)
        key = hashlib.sha256(repr((_fingerprint(self), source, name, filename, defer_init)).encode()).hexdigest()
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
        _write_cache(cache_file, kept)


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


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "yowasm"


def _read_cache(path: Path) -> dict[str, types.CodeType]:
    """The cache file's compiled templates; nothing when it is missing, too large,
    not the user's own, writable by others, or not a cache file."""
    try:
        with path.open("rb") as file:
            status = os.fstat(file.fileno())
            if status.st_uid != os.getuid() or status.st_mode & 0o022 or status.st_size > CACHE_BYTES:
                return {}
            entries = marshal.loads(file.read(CACHE_BYTES + 1))
    except (OSError, ValueError, EOFError, TypeError):
        return {}
    if not isinstance(entries, dict):
        return {}
    return {key: code for key, code in entries.items()
            if isinstance(key, str) and isinstance(code, types.CodeType)}


def _write_cache(path: Path, entries: dict[str, types.CodeType]) -> None:
    """Replace the cache file atomically; a cache that cannot be written is no error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor, scratch = tempfile.mkstemp(dir=path.parent, prefix=".jinja-")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(marshal.dumps(entries))
            os.replace(scratch, path)
        except BaseException:
            os.unlink(scratch)
            raise
    except (OSError, ValueError):
        pass
