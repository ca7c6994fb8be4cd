"""A new project's own git repository: `git init` and a first commit of the files yowasm
generated. Never inside another repository's work tree (the project is then part of
that repository), and no commit without a git identity. The project itself is complete
whatever git does, so what happened is returned for the summary, not raised."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Iterable

from yowasm.errors import Aborted

FIRST_COMMIT_MESSAGE = "Initial commit: project made by yowasm new"
GIT_TIMEOUT = 60
#: Variables that point git at another repository (set, e.g., when yowasm runs from a
#: git hook); the new project's repository is its own.
REPOSITORY_VARIABLES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                        "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_PREFIX")


class GitOutcome(str, Enum):
    COMMITTED = "committed"
    #: A repository without a commit: git has no user.name / user.email ...
    NO_IDENTITY = "no identity"
    #: ... or the commit failed (a hook, signing).
    NOT_COMMITTED = "not committed"
    INSIDE_WORK_TREE = "inside a work tree"
    #: The folder (`new --force`) is a repository already: left as it is.
    EXISTING = "existing repository"
    NO_GIT = "git not installed"
    FAILED = "failed"


@dataclass(frozen=True)
class GitResult:
    outcome: GitOutcome
    branch: str
    #: The work tree (INSIDE_WORK_TREE, EXISTING) or git's own words (FAILED, NOT_COMMITTED).
    detail: str = ""


def init_repository(folder: Path, files: Iterable[Path], *, branch: str,
                    inside_work_tree_ok: bool = False) -> GitResult:
    """`git init -b BRANCH` in FOLDER, then commit FILES (relative paths: the generated
    ones, so files of the user's that `new --force` kept stay untracked); see GitOutcome
    for what else can happen."""
    git = shutil.which("git")
    if git is None:
        return GitResult(GitOutcome.NO_GIT, branch)

    env = {key: value for key, value in os.environ.items() if key not in REPOSITORY_VARIABLES}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([git, *args], cwd=folder, env=env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=GIT_TIMEOUT)

    try:
        enclosing = run("rev-parse", "--show-toplevel") if _may_be_in_repository(folder) else None
        if enclosing is not None and enclosing.returncode == 0:
            top = Path(enclosing.stdout.strip())
            if top.resolve() == folder.resolve():
                return GitResult(GitOutcome.EXISTING, branch, str(top))
            if not inside_work_tree_ok:
                return GitResult(GitOutcome.INSIDE_WORK_TREE, branch, str(top))
        initialised = run("init", "--quiet", f"--initial-branch={branch}")
        if initialised.returncode != 0:
            return GitResult(GitOutcome.FAILED, branch, _last_line(initialised))
        added = run("add", "--", *(path.as_posix() for path in files))
        # A new repository has nothing for `git maintenance` to do: no process spawned to find that out.
        committed = added if added.returncode != 0 else run(
            "-c", "maintenance.auto=false", "commit", "--quiet", "--message", FIRST_COMMIT_MESSAGE)
        if committed.returncode != 0:
            # Asked only now (the commit's own failure says which): without a name and
            # email git makes no commit. (The author comes from the same settings.)
            if added.returncode == 0 and run("var", "GIT_COMMITTER_IDENT").returncode != 0:
                return GitResult(GitOutcome.NO_IDENTITY, branch)
            return GitResult(GitOutcome.NOT_COMMITTED, branch, _last_line(committed))
    except subprocess.TimeoutExpired:
        return GitResult(GitOutcome.FAILED, branch, f"git did not finish in {GIT_TIMEOUT} s")
    except KeyboardInterrupt:
        raise Aborted(f"Interrupted while making its git repository: the project {folder} is complete, "
                      "its repository may not be.", hint="Check with: git status") from None
    return GitResult(GitOutcome.COMMITTED, branch)


def _may_be_in_repository(folder: Path) -> bool:
    """Whether git might find a repository from FOLDER. It looks only in FOLDER and the
    folders above it, for a `.git` there or a folder that is itself a repository (with
    a HEAD file); where there is neither, it would find none, and is not asked."""
    real = folder.resolve()
    return any(os.path.lexists(place / ".git") or os.path.isfile(place / "HEAD") for place in (real, *real.parents))


def _last_line(completed: subprocess.CompletedProcess) -> str:
    lines = (completed.stderr.strip() or completed.stdout.strip()).splitlines()
    return lines[-1] if lines else f"exit code {completed.returncode}"
