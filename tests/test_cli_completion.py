"""Shell completion: `yowasm --show-completion SHELL` prints a script that, sourced in
that real shell, completes yowasm's commands (Tab in an interactive bash and zsh
through a pty; fish's own `complete -C` query)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from tests.conftest import path_with_yowasm, require_tool, run_yowasm

SETUP = {
    "bash": "source <(yowasm --show-completion bash)",
    "zsh": "autoload -U compinit && compinit -u && source <(yowasm --show-completion zsh)",
}


@pytest.fixture
def shell_env(tmp_path) -> dict[str, str]:
    """An environment whose PATH has a `yowasm` command running this checkout."""
    return {**os.environ, "PATH": path_with_yowasm(tmp_path), "HOME": str(tmp_path),
            "PYTHONPATH": os.pathsep.join(sys.path), "PS1": "$ ", "TERM": "xterm"}


@pytest.mark.parametrize("shell, flags", [("bash", ["--norc", "--noprofile", "-i"]), ("zsh", ["-f", "-i"])])
def test_tab_completes_commands_in_an_interactive_shell(shell, flags, shell_env, tmp_path):
    child = pexpect.spawn(require_tool(shell, f"sudo apt-get install {shell}"), flags, cwd=str(tmp_path),
                          env=shell_env, encoding="utf-8", timeout=30, dimensions=(24, 80))
    try:
        child.expect_exact("$ ")
        child.sendline(SETUP[shell] + " && echo COMPLETION-READY")
        child.expect_exact("COMPLETION-READY")
        child.expect_exact("$ ")
        child.send("yowasm pu\t\t")  # two candidates: the second Tab lists them
        child.expect("publish")
        child.expect("pull")
    finally:
        child.close(force=True)


def test_fish_completes_commands(shell_env, tmp_path):
    fish = require_tool("fish", "sudo apt-get install fish")
    script = 'yowasm --show-completion fish | source; and complete -C "yowasm pu"'
    result = subprocess.run([fish, "--no-config", "-c", script], env=shell_env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == ["publish", "pull"]


def test_each_shell_gets_its_own_script_and_an_unknown_shell_is_refused(tmp_path):
    scripts = {shell: run_yowasm("--show-completion", shell, cwd=tmp_path) for shell in ("bash", "zsh", "fish")}
    assert all(result.returncode == 0 for result in scripts.values())
    assert "complete -o default -F _yowasm_completion yowasm" in scripts["bash"].stdout
    assert scripts["zsh"].stdout.startswith("#compdef yowasm")
    assert scripts["fish"].stdout.startswith("complete --command yowasm")
    refused = run_yowasm("--show-completion", "tcsh", cwd=tmp_path)
    assert refused.returncode == 2 and "'tcsh' is not one of bash, zsh, fish" in refused.stderr


@pytest.mark.parametrize("command", ["yowasm --install-completion", "yowasm --install-completion bash"])
def test_install_completion_writes_the_script_where_the_shell_reads_it(command, shell_env, tmp_path):
    """As the README says it: run from bash, for the shell it is run from or the one named."""
    # Another command after it keeps bash yowasm's parent, as an interactive shell is (bash
    # runs a lone command in its own place, leaving yowasm to find whatever shell started pytest).
    result = subprocess.run([require_tool("bash", "sudo apt-get install bash"), "-c", f"{command}\nexit $?"], env=shell_env,
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "bash completion installed in" in result.stdout
    installed = Path(tmp_path, ".bash_completions", "yowasm.sh")
    assert "_yowasm_completion" in installed.read_text()
    assert str(installed) in Path(tmp_path, ".bashrc").read_text()
