"""`yowasm build` with nothing to rebuild, answered before the command line loads.

An up-to-date `make build` takes about 10 ms; loading yowasm's command line (typer,
click, pathlib, the readers and the model) takes several times that. So after every
`yowasm build` that ends with a module, `remember` writes down what its answer rested
on, in the cache (yowasm.cachefiles): the project's answers file, .gitignore and
language file as they were found (device, inode, size and times; the change time
moves on every write and cannot be set back) and what they said (where the module
goes, what the one-time setup leaves). The next `yowasm build` of that project finding
every one of those files as it was needs no reader: `answer` checks the module
against the project's files (yowasm.freshness) and prints the line `yowasm build`
prints, with nothing but `os`. Anything else (another file, a stale or foreign cache,
an option, output rich would lay out differently) and it leaves the answer to the
command line, which records afresh.
"""

from __future__ import annotations

import marshal
import os
import stat
import sys

from yowasm import ANSWERS_FILE, freshness
from yowasm.cachefiles import cache_folder, read_cache_file

TYPE_CHECKING = False  # typing itself is not imported: see above
if TYPE_CHECKING:
    from yowasm.build import BuildResult
    from yowasm.project import Project

#: What `yowasm build` says when the build tool had nothing to do.
UP_TO_DATE = "Up to date:"
#: How rich draws UP_TO_DATE's `bold green` on a terminal (tests compare the two).
_BOLD_GREEN, _PLAIN = "\x1b[1;32m", "\x1b[0m"
#: Bumped when what is recorded changes meaning.
FORMAT = 1
#: The most projects recorded (the oldest go first), and the file's largest size.
ENTRIES = 64
RECORD_BYTES = 256 * 1024
#: yowasm's modules that decide a build's answer: an upgrade or edit of any drops every record.
_DECIDING = ("build.py", "build_record.py", "console.py", "freshness.py", "languages.py", "model.py",
             "project.py", "readers.py")
#: Environment variables under which rich may draw the line otherwise (colour,
#: width, terminal kind): with any of them set, the command line answers.
_RICH_SETTINGS = ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES",
                  "JUPYTER_COLUMNS", "JUPYTER_LINES")
_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def answer(arguments: list[str]) -> bool:
    """Print `yowasm build`'s line for ARGUMENTS (those after `build`) and return True
    when a record shows the project's module current; False, having printed nothing,
    whenever the command line must answer."""
    if len(arguments) > 1 or (arguments and arguments[0].startswith("-")):
        return False
    try:
        current = current_module(arguments[0] if arguments else ".")
        line = _line(*current) if current else None
    except (OSError, ValueError):
        return False
    if line is None:
        return False
    sys.stdout.write(line)
    return True


def current_module(project: str) -> tuple[str, int] | None:
    """The path and size of the module of the project at PROJECT when a record shows it
    current, with the build tool's verdict (yowasm.build.current_build); None when
    only reading the project can tell."""
    try:
        root = os.path.realpath(project)
        entry = _records().get(root)
        if entry is None:
            return None
        answers, gitignore, language_file, language, module, setup_creates = entry
        if (_stamp(os.path.join(root, ANSWERS_FILE)) != answers
                or _stamp(os.path.join(root, ".gitignore")) != gitignore
                or _stamp(language_file) != language
                or (setup_creates is not None and not os.path.exists(os.path.join(root, setup_creates)))):
            return None
        module_path = os.path.join(root, module)
        built = os.stat(module_path)
        if freshness.newest_input_time(root, module) > built.st_mtime:
            return None
    except (OSError, ValueError):
        return None
    return module_path, built.st_size


def remember(project: Project, result: BuildResult) -> None:
    """Record what a build of PROJECT (`yowasm build`, or the one `run`, `serve` and
    `publish` start), which ended with RESULT's module, rested on."""
    if result.module != project.module_path:
        return
    language_file = _language_file(project)
    root = str(project.root)
    answers = _stamp(os.path.join(root, ANSWERS_FILE))
    if answers is None:
        return
    entry = (answers, _stamp(os.path.join(root, ".gitignore")), language_file, _stamp(language_file),
             project.answers.module_file, project.facts.setup_creates)
    records = _records()
    records.pop(root, None)
    records[root] = entry
    while len(records) > ENTRIES:
        records.pop(next(iter(records)))
    from pathlib import Path

    from yowasm.cachefiles import write_cache_file

    write_cache_file(Path(_record_file()),
                     marshal.dumps({"format": FORMAT, "installation": _installation(), "projects": records}))


def _line(module_path: str, size: int) -> str | None:
    """The line `yowasm build` prints for a current module, drawn as rich would draw it
    on this stdout; None when only rich can tell (odd text, a terminal rich sizes or
    colours otherwise)."""
    cwd = os.getcwd()
    inside = cwd.rstrip(os.sep) + os.sep
    shown = module_path[len(inside):] if module_path.startswith(inside) else module_path
    if not (shown.isascii() and shown.isprintable()):
        return None  # text the console spells out (yowasm.text.literal)
    rest = f" {shown} ({size:,} bytes)\n"
    environ = os.environ
    if not sys.stdout.isatty():
        return None if "TTY_COMPATIBLE" in environ or "FORCE_COLOR" in environ else UP_TO_DATE + rest
    if any(name in environ for name in _RICH_SETTINGS) or environ.get("TERM", "dumb") in ("dumb", "unknown"):
        return None
    if len(UP_TO_DATE) + len(rest) >= _terminal_width():
        return None  # rich would wrap it
    return f"{_BOLD_GREEN}{UP_TO_DATE}{_PLAIN}{rest}"


def _terminal_width() -> int:
    for descriptor in (0, 1, 2):  # where rich looks, in its order
        try:
            return os.get_terminal_size(descriptor).columns
        except OSError:
            continue
    return 0


def _records() -> dict:
    """The recorded projects, by real path; empty when the record is missing, foreign,
    of another installation or of any other shape."""
    data = read_cache_file(_record_file(), RECORD_BYTES)
    try:
        stored = marshal.loads(data) if data is not None else None
    except (ValueError, EOFError, TypeError):
        return {}
    if (type(stored) is not dict or stored.get("format") != FORMAT
            or stored.get("installation") != _installation() or type(stored.get("projects")) is not dict):
        return {}
    return {root: entry for root, entry in stored["projects"].items() if type(root) is str and _is_entry(entry)}


def _is_entry(entry: object) -> bool:
    if type(entry) is not tuple or len(entry) != 6:
        return False
    answers, gitignore, language_file, language, module, setup_creates = entry
    return (_is_stamp(answers) and answers is not None and (gitignore is None or _is_stamp(gitignore))
            and type(language_file) is str and _is_stamp(language) and language is not None
            and type(module) is str and _is_inside(module)
            and (setup_creates is None or (type(setup_creates) is str and _is_inside(setup_creates))))


def _is_stamp(stamp: object) -> bool:
    return stamp is None or (type(stamp) is tuple and len(stamp) == 6 and all(type(part) is int for part in stamp))


def _is_inside(relative: str) -> bool:
    """Whether RELATIVE names a path inside a project (no way up or out)."""
    parts = relative.split("/")
    return bool(relative) and not relative.startswith("/") and ".." not in parts and "" not in parts


def _stamp(path: str) -> tuple[int, ...] | None:
    """The regular file PATH as found now (a link, a folder or nothing: None)."""
    try:
        status = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(status.st_mode):
        return None
    return (status.st_dev, status.st_ino, status.st_mode, status.st_size, status.st_mtime_ns, status.st_ctime_ns)


def _record_file() -> str:
    """One file per installation: two sharing one would drop each other's records."""
    import zlib

    return os.path.join(cache_folder(), f"builds-{sys.implementation.cache_tag}-{zlib.crc32(_PACKAGE.encode()):08x}.marshal")


def _installation() -> tuple:
    """This installation of yowasm as found now: its deciding modules' paths, sizes and times."""
    stamps = []
    for name in _DECIDING:
        path = os.path.join(_PACKAGE, name)
        try:
            status = os.stat(path)
        except OSError:
            stamps.append((path,))
            continue
        stamps.append((path, status.st_size, status.st_mtime_ns))
    return tuple(stamps)


def _language_file(project: Project) -> str:
    from yowasm.packaged import language_file

    return str(language_file(project.answers.language.value))
