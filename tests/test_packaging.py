"""Installing yowasm: README.md's set-up command works as written with Debian's own
python3 (externally managed, PEP 668) as root, as a normal user and inside an active
venv, and makes a project outside the checkout; the wheel carries every template file
(the shared files linked into each language folder included) and renders the same
project as the source tree, which `yowasm update` then finds up to date."""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import require_tool, run_yowasm
from tests.projects import render, section, shell_blocks

REPOSITORY = Path(__file__).resolve().parent.parent
DEBIAN_PYTHON = "/usr/bin/python3"
#: A stock Debian PATH, Debian's own python3 first (no pyenv, no venv, no ~/.local/bin).
STOCK_PATH = "/usr/bin:/bin"
NOBODY = 65534
NOT_THE_CHECKOUT = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", ".pytest_cache", "build", "dist")


def setup_command() -> str:
    """The README's set-up command, exactly as written (the first block of `## Set up`)."""
    first, *_ = shell_blocks((REPOSITORY / "README.md").read_text("utf-8"), "Set up")
    return first


def test_readme_names_the_debian_package_that_gives_python3_venv():
    """The prerequisite the set-up section names is the Debian package of python3's venv
    module (installed here by .ci/run; the set-up test below needs it)."""
    apt_cache = require_tool("apt-cache", "a Debian or Ubuntu machine")
    readme = section((REPOSITORY / "README.md").read_text("utf-8"), "Set up")
    (packages,) = re.findall(r"`sudo apt install ([^`]+)`", readme)
    assert packages == "python3-venv"
    shown = subprocess.run([apt_cache, "show", "--no-all-versions", packages], capture_output=True, text=True)
    assert shown.returncode == 0 and "Description: venv module for python3" in shown.stdout, shown.stderr


@pytest.mark.parametrize("user", ["root", "normal user", "active venv"])
def test_readme_setup_command_works_with_debians_python(user):
    python = require_tool(DEBIAN_PYTHON, "a Debian or Ubuntu machine: apt-get install python3 python3-venv")
    stdlib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert Path(stdlib, "EXTERNALLY-MANAGED").is_file(), "the premise: Debian's python3 refuses pip installs"
    if user == "root" and os.geteuid() != 0:
        pytest.skip("needs root (the normal-user case runs as this user)")
    # Not pytest's tmp_path: an unprivileged user must be able to reach the folder.
    with tempfile.TemporaryDirectory(prefix="yowasm-setup-") as scratch:
        scratch = Path(scratch)
        checkout, home = scratch / "yowasm", scratch / "home"
        shutil.copytree(REPOSITORY, checkout, symlinks=True, ignore=NOT_THE_CHECKOUT)
        home.mkdir()
        env = {"HOME": str(home), "PATH": STOCK_PATH, "LANG": "C.UTF-8"}
        prefix: list[str] = []
        first_python = DEBIAN_PYTHON
        if user == "active venv":
            outer = scratch / "outer-venv"
            subprocess.run([python, "-m", "venv", str(outer)], check=True, env=env)
            env.update(VIRTUAL_ENV=str(outer), PATH=f"{outer}/bin:{STOCK_PATH}")
            first_python = f"{outer}/bin/python3"
        elif user == "normal user" and os.geteuid() == 0:
            for path in [scratch, *scratch.rglob("*")]:
                os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
            env["USER"] = "nobody"
            prefix = [require_tool("setpriv", "apt-get install util-linux"),
                      f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--"]
        assert subprocess.run(["sh", "-c", "command -v python3"], env=env, capture_output=True,
                              text=True).stdout.strip() == first_python

        result = subprocess.run([*prefix, "sh", "-c", setup_command()], cwd=checkout, env=env,
                                stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

        made = [answers.parent for answers in scratch.rglob(".copier-answers.yml") if ".venv" not in answers.parts]
        assert len(made) == 1, made
        (project,) = made
        assert checkout not in project.parents, "the project must land outside the checkout"
        assert f"cd {project}" in result.stdout  # the summary's next steps
        answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
        assert (answers["language"], answers["runtime"], answers["registry"]) == ("rust", "wasmtime", "ghcr")
        assert "_src_path" not in answers  # nothing machine-specific in a file that gets committed
        installed_templates = Path(subprocess.run(
            [str(checkout / ".venv/bin/python"), "-c", "from yowasm.packaged import templates_dir; print(templates_dir())"],
            cwd=home, env=env, capture_output=True, text=True, check=True).stdout.strip())
        assert (checkout / ".venv") in installed_templates.parents  # the installed yowasm renders its own templates
        if prefix:
            assert project.stat().st_uid == NOBODY
        update = subprocess.run([*prefix, str(checkout / ".venv/bin/yowasm"), "update", str(project)], env=env,
                                capture_output=True, text=True, timeout=120)
        assert update.returncode == 0 and "Up to date" in update.stdout, update.stdout + update.stderr


def test_installed_wheel_renders_what_the_source_tree_renders(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "wheel"), str(REPOSITORY)], check=True, capture_output=True)
    (wheel,) = (tmp_path / "wheel").glob("yowasm-*.whl")
    # The wheel's files unpacked into a folder of their own, first on PYTHONPATH; the
    # dependencies come from this interpreter, in a venv or not.
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "zipfile", "-e", str(wheel), str(site)], check=True)

    def installed_yowasm(*args: str) -> subprocess.CompletedProcess:
        return run_yowasm(*args, cwd=tmp_path, env={"PYTHONPATH": str(site)}, timeout=120)

    for language, runtime in (("rust", "krustlet"), ("assemblyscript", "wagi")):
        for side in ("installed", "source"):
            (tmp_path / language / side).mkdir(parents=True)
        installed = tmp_path / language / "installed" / "hello-wasm"
        result = installed_yowasm("new", str(installed), "--defaults", "--no-git", "--author", "Test Author",
                                  "--namespace", "octocat", "--language", language, "--runtime", runtime)
        assert result.returncode == 0, result.stderr
        assert str(site) not in (installed / ".copier-answers.yml").read_text()  # no install path
        source = render(tmp_path / language / "source" / "hello-wasm", language=language, runtime=runtime)
        assert_same_tree(installed, source, expected_differences=[])
        update = installed_yowasm("update", str(installed))
        assert update.returncode == 0 and "Up to date hello-wasm" in update.stdout, update.stdout + update.stderr


def assert_same_tree(left: Path, right: Path, expected_differences: list[str]) -> None:
    comparison = filecmp.dircmp(left, right)
    assert comparison.left_only == comparison.right_only == []
    assert sorted(comparison.diff_files) == expected_differences
    for name in comparison.subdirs:
        assert_same_tree(left / name, right / name, [])
