"""`pip install .` gives a working yowasm: the wheel carries every template file (the
shared files linked into each language folder included) and renders the same project
as the source tree, which `yowasm update` then finds up to date."""

from __future__ import annotations

import filecmp
import subprocess
import sys
import venv
from pathlib import Path

from tests.projects import render


def test_installed_wheel_renders_what_the_source_tree_renders(tmp_path):
    repository = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "wheel"), str(repository)], check=True, capture_output=True)
    (wheel,) = (tmp_path / "wheel").glob("yowasm-*.whl")
    environment = tmp_path / "venv"
    venv.create(environment, system_site_packages=True, with_pip=False)
    python = environment / "bin/python"
    # Installing the wheel's files with no dependencies (they come from the system
    # site packages): unpack it into the venv's site-packages.
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run([sys.executable, "-m", "zipfile", "-e", str(wheel), site], check=True)

    for language, runtime in (("rust", "krustlet"), ("assemblyscript", "wagi")):
        for side in ("installed", "source"):
            (tmp_path / language / side).mkdir(parents=True)
        installed = tmp_path / language / "installed" / "hello-wasm"
        result = subprocess.run(
            [python, "-c", "import yowasm.cli; yowasm.cli.main()", "new", str(installed), "--defaults",
             "--author", "Test Author", "--namespace", "octocat", "--language", language, "--runtime", runtime],
            cwd=tmp_path, capture_output=True, text=True,
        )
        assert result.returncode == 0, result.stderr
        assert "site-packages" not in (installed / ".copier-answers.yml").read_text()  # no install path
        source = render(tmp_path / language / "source" / "hello-wasm", language=language, runtime=runtime)
        assert_same_tree(installed, source, expected_differences=[])
        update = subprocess.run([python, "-c", "import yowasm.cli; yowasm.cli.main()", "update", str(installed)],
                                cwd=tmp_path, capture_output=True, text=True)
        assert update.returncode == 0 and "Up to date hello-wasm" in update.stdout, update.stdout + update.stderr


def assert_same_tree(left: Path, right: Path, expected_differences: list[str]) -> None:
    comparison = filecmp.dircmp(left, right)
    assert comparison.left_only == comparison.right_only == []
    assert sorted(comparison.diff_files) == expected_differences
    for name in comparison.subdirs:
        assert_same_tree(left / name, right / name, [])
