"""The interactive flow of `yowasm new` through a real pseudo-terminal (pexpect)."""

from __future__ import annotations

import sys

import pexpect
import pytest
import yaml

DOWN = "\x1b[B"
ENTER = "\r"


def spawn(tmp_path, *args: str) -> pexpect.spawn:
    child = pexpect.spawn(
        sys.executable, ["-m", "yowasm", "new", *args], cwd=str(tmp_path), encoding="utf-8",
        timeout=30, dimensions=(40, 120),
        env={"TERM": "xterm", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "USER": "octo",
             "PYTHONPATH": ":".join(sys.path)},
    )
    return child


def answer(child: pexpect.spawn, prompt: str, keys: str) -> None:
    child.expect_exact(prompt)
    child.send(keys)


def test_prompts_take_answers_refuse_bad_ones_and_render(tmp_path):
    child = spawn(tmp_path, "hello")
    answer(child, "Module name", "\x15" + "Bad Name" + ENTER)  # Ctrl-U clears the default
    child.expect_exact("lower case letters")  # refused at the prompt, with the rule
    child.send("\x15" + "hello-wasm" + ENTER)
    answer(child, "Description", ENTER)
    answer(child, "Author", "\x15Jane Doe" + ENTER)
    answer(child, "Language", DOWN + ENTER)  # rust -> c
    answer(child, "Target runtime", DOWN + ENTER)  # wasmtime -> wagi
    answer(child, "Registry", DOWN * 2 + ENTER)  # ghcr, acr -> dockerhub
    answer(child, "Namespace", "\x15octocat" + ENTER)
    answer(child, "License", ENTER)
    answer(child, "Default branch", ENTER)
    child.expect_exact("Next steps")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    answers = yaml.safe_load((tmp_path / "hello/.copier-answers.yml").read_text())
    assert {key: answers[key] for key in ("name", "author", "language", "runtime", "registry", "namespace")} == {
        "name": "hello-wasm", "author": "Jane Doe", "language": "c", "runtime": "wagi",
        "registry": "dockerhub", "namespace": "octocat",
    }


@pytest.mark.parametrize("at", ["Module name", "Language"])
def test_ctrl_c_leaves_nothing_and_exits_130(tmp_path, at):
    child = spawn(tmp_path, "hello")
    if at == "Language":
        for prompt in ("Module name", "Description", "Author"):
            answer(child, prompt, ENTER)
    child.expect_exact(at)
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert "Aborted" in child.before
    assert list(tmp_path.iterdir()) == [] or [path.name for path in tmp_path.iterdir()] == [".cache"]
