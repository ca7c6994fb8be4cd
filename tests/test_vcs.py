"""`yowasm new` makes the project a git repository with a first commit, as
cargo-generate does: `--no-git` skips it, no commit without a git identity (with a
note saying how), no repository inside another work tree unless `--force-git-init`.
Real git, in a temporary HOME with its own global config."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import path_without, require_tool, run_yowasm

IDENTITY = "[user]\n\tname = Jane Doe\n\temail = jane@example.com\n"
#: No name or email, and no guessing one from the host name: git has no identity.
NO_IDENTITY = "[user]\n\tuseConfigOnly = true\n"


@pytest.fixture
def git_home(tmp_path):
    require_tool("git", "sudo apt-get install git")
    home = tmp_path / "home"
    home.mkdir()
    return home


def ambient_git_variables() -> list[str]:
    """The variables of this environment that would give git an identity, a config or a repository."""
    return [key for key in os.environ if key.startswith("GIT_") or key == "EMAIL"]


def git_env(home: Path, config: str = IDENTITY, **extra: str) -> dict[str, str]:
    (home / ".gitconfig").write_text(config)
    ambient = ambient_git_variables()
    env = {key: value for key, value in os.environ.items() if key not in ambient}
    return {**env, "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", **extra}


def new(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`yowasm new ARGS --defaults` in exactly the environment ENV (a git_env)."""
    return run_yowasm("new", *args, "--defaults", "--author", "Jane Doe", cwd=cwd, env=env,
                      unset=ambient_git_variables(), timeout=120)


def git(project: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=project, env=env, capture_output=True, text=True, timeout=60)


def test_new_project_is_a_repository_with_every_file_in_a_first_commit(git_home, tmp_path):
    env = git_env(git_home)
    result = new("hello", "--language", "c", "--branch", "trunk", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "hello"
    assert "Git: a new repository on branch trunk with a first commit" in result.stdout
    assert git(project, "branch", "--show-current", env=env).stdout == "trunk\n"  # the workflows' branch
    log = git(project, "log", "--format=%an <%ae>|%s", env=env).stdout.splitlines()
    assert log == ["Jane Doe <jane@example.com>|Initial commit: project made by yowasm new"]
    assert git(project, "status", "--porcelain", "--ignored", env=env).stdout == ""  # nothing left out
    tracked = set(git(project, "ls-files", env=env).stdout.splitlines())
    assert {"Makefile", "README.md", ".copier-answers.yml", ".gitignore", "src/main.c"} <= tracked


def test_no_git_makes_no_repository(git_home, tmp_path):
    result = new("hello", "--no-git", cwd=tmp_path, env=git_env(git_home))
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "hello/.git").exists() and "Git:" not in result.stdout


def test_without_a_git_identity_the_repository_has_no_commit_and_says_how(git_home, tmp_path):
    env = git_env(git_home, NO_IDENTITY)
    result = new("hello", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "hello"
    assert git(project, "rev-parse", "--verify", "HEAD", env=env).returncode != 0  # no commit
    assert "no commit: git does not know your name and email yet" in result.stdout
    hint = next(line for line in result.stdout.splitlines() if line.startswith("Tell git who you are"))
    command = hint.split("then: ", 1)[1]
    (git_home / ".gitconfig").write_text(IDENTITY)  # the user follows the note
    assert subprocess.run(["sh", "-c", command], cwd=project, env=env, capture_output=True).returncode == 0
    assert git(project, "log", "--format=%s", env=env).stdout == "Initial commit: project made by yowasm new\n"


def test_inside_another_work_tree_no_repository_is_made_unless_forced(git_home, tmp_path):
    env = git_env(git_home)
    outer = tmp_path / "monorepo"
    outer.mkdir()
    assert git(outer, "init", "--quiet", env=env).returncode == 0
    (outer / "modules").mkdir()
    inside = new("modules/hello", cwd=outer, env=env)
    assert inside.returncode == 0, inside.stderr
    assert not (outer / "modules/hello/.git").exists()
    assert f"the project is inside the work tree of {outer}" in inside.stdout
    assert "--force-git-init" in inside.stdout
    forced = new("modules/own", "--force-git-init", cwd=outer, env=env)
    assert (outer / "modules/own/.git").is_dir() and "with a first commit" in forced.stdout


def test_force_into_an_existing_repository_keeps_its_history(git_home, tmp_path):
    env = git_env(git_home)
    project = tmp_path / "hello"
    project.mkdir()
    git(project, "init", "--quiet", env=env)
    (project / "notes.txt").write_text("mine\n")
    git(project, "add", "notes.txt", env=env)
    git(project, "commit", "--quiet", "-m", "my notes", env=env)
    result = new("hello", "--force", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert f"Git: {project} is a repository already; nothing was committed" in result.stdout
    assert git(project, "log", "--format=%s", env=env).stdout == "my notes\n"


def test_without_git_installed_the_project_is_still_made(git_home, tmp_path):
    env = git_env(git_home, PATH=path_without(tmp_path, "git"))
    result = new("hello", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "hello/Makefile").is_file() and not (tmp_path / "hello/.git").exists()
    assert "Git: git is not installed; no repository made" in result.stdout


def test_readme_new_examples_print_what_the_readme_shows(git_home, tmp_path):
    """The README's `yowasm new` console examples, run as written (git knows who you are)."""
    require_tool("yowasm", "pip install -e .")
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
    usage = readme.split("### `yowasm new [DIRECTORY]`", 1)[1].split("\n### ", 1)[0]
    (block,) = re.findall(r"^```console\n(.*?)^```", usage, flags=re.S | re.M)
    examples = [example.split("\n", 1) for example in block.split("$ ")[1:]]
    assert len(examples) == 2
    env = {**git_env(git_home), "COLUMNS": "120"}
    for command, shown in examples:
        result = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=120)
        printed = (result.stdout + result.stderr).rstrip("\n").splitlines()
        assert [line.rstrip() for line in printed] == shown.strip("\n").splitlines(), command


def test_a_git_dir_in_the_environment_does_not_redirect_the_first_commit(git_home, tmp_path):
    """yowasm run from another repository's git hook inherits GIT_DIR: the new project
    still gets its own repository, and the other one is untouched."""
    env = git_env(git_home)
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "--quiet", env=env)
    result = new("hello", cwd=tmp_path, env={**env, "GIT_DIR": str(other / ".git"), "GIT_WORK_TREE": str(other)})
    assert result.returncode == 0 and "with a first commit" in result.stdout, result.stdout + result.stderr
    assert git(tmp_path / "hello", "log", "--format=%s", env=env).stdout == "Initial commit: project made by yowasm new\n"
    assert git(other, "rev-parse", "--verify", "HEAD", env=env).returncode != 0


def test_force_into_a_folder_commits_only_the_generated_files(git_home, tmp_path):
    """Files of the user's that `new --force` keeps (a secret, say) are never committed."""
    env = git_env(git_home)
    project = tmp_path / "hello"
    project.mkdir()
    (project / "secret.env").write_text("TOKEN=hunter2\n")
    result = new("hello", "--force", cwd=tmp_path, env=env)
    assert result.returncode == 0 and "with a first commit" in result.stdout, result.stdout + result.stderr
    assert "secret.env" not in git(project, "ls-files", env=env).stdout.splitlines()
    assert git(project, "status", "--porcelain", env=env).stdout == "?? secret.env\n"


def test_inside_a_linked_worktree_whose_git_is_a_file_no_repository_is_made(git_home, tmp_path):
    """A linked worktree (or a submodule) has a `.git` file, not a folder: still a work tree."""
    env = git_env(git_home)
    main = tmp_path / "main"
    main.mkdir()
    git(main, "init", "--quiet", env=env)
    git(main, "commit", "--quiet", "--allow-empty", "-m", "start", env=env)
    assert git(main, "worktree", "add", "--quiet", str(tmp_path / "linked"), env=env).returncode == 0
    assert (tmp_path / "linked/.git").is_file()
    result = new("hello", cwd=tmp_path / "linked", env=env)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "linked/hello/.git").exists()
    assert f"the project is inside the work tree of {tmp_path / 'linked'}" in result.stdout
