"""yowasm's cache files, kept as Python keeps bytecode in __pycache__: in
$XDG_CACHE_HOME/yowasm (default ~/.cache/yowasm), trusted only when they are the
user's own and nobody else may write them, replaced atomically, and never needed: a
cache that cannot be read is empty and one that cannot be written is no error.

Reading needs nothing but `os` (yowasm.build_record reads before anything else loads)."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing itself is not imported: see above
if TYPE_CHECKING:
    from pathlib import Path


def cache_folder() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "yowasm")


def cache_dir() -> Path:
    from pathlib import Path

    return Path(cache_folder())


def read_cache_file(path: Path | str, limit: int) -> bytes | None:
    """The cache file's bytes; None when it is missing, larger than LIMIT, not the
    user's own or writable by others."""
    try:
        with open(path, "rb") as file:
            status = os.fstat(file.fileno())
            if status.st_uid != os.getuid() or status.st_mode & 0o022 or status.st_size > limit:
                return None
            data = file.read(limit + 1)
    except OSError:
        return None
    return data if len(data) <= limit else None


def write_cache_file(path: Path, data: bytes) -> None:
    """Replace the cache file atomically (no reader sees half of it)."""
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
            os.replace(scratch, path)
        except BaseException:
            os.unlink(scratch)
            raise
    except OSError:
        pass
