"""Whether a project's module is older than anything its build may read.

Nothing but `os`: `yowasm build` with nothing to rebuild answers from here before the
command line loads (yowasm.build_record), where importing pathlib alone would cost as
much as an up-to-date `make`."""

from __future__ import annotations

import os

#: The most of a .gitignore read for the folders it names.
GITIGNORE_BYTES = 64 * 1024


def newest_input_time(root: str, module: str) -> float:
    """The modification time of the newest file in the project at ROOT, leaving out
    what no build reads: .git, the top folder of MODULE (the module's project-relative
    path: where builds put their output) and the folders the project's .gitignore
    names as /FOLDER/ (target, node_modules)."""
    skipped = {".git", module.split("/")[0], *ignored_folders(root)}
    newest = 0.0
    folders = [(root, skipped)]
    while folders:
        folder, skip = folders.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in skip:
                        folders.append((entry.path, ()))
                else:
                    try:
                        newest = max(newest, entry.stat().st_mtime)
                    except FileNotFoundError:  # a link to nothing, or removed meanwhile
                        pass
    return newest


def ignored_folders(root: str) -> list[str]:
    """The top-level folders the project's .gitignore names as /FOLDER/."""
    try:
        with open(os.path.join(root, ".gitignore"), encoding="utf-8", errors="replace") as file:
            lines = file.read(GITIGNORE_BYTES).splitlines()
    except OSError:
        return []
    return [line[1:-1] for line in (line.strip() for line in lines)
            if len(line) > 2 and line.startswith("/") and line.endswith("/") and "/" not in line[1:-1]]
