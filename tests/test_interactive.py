"""The interactive flow of `yowasm new` through a real pseudo-terminal of 80x24
(pexpect), read as a person sees it: a VT100 screen (pyte) that answers the cursor
position requests a terminal answers."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import CLEAR_LINE, DOWN, ENTER, UP, Terminal, require_tool, run_yowasm, unwrapped, yowasm_argv

def test_prompts_show_help_and_choices_take_answers_refuse_bad_ones_and_render(tmp_path):
    term = Terminal.yowasm_new(tmp_path, "hello")
    screen = term.answer("? Module name", CLEAR_LINE + "Bad Name" + ENTER)
    assert "Use lower case letters, digits and single dashes" in screen  # the rule, before any answer
    screen = term.wait_for("✗ Invalid module name")
    # The refusal wraps to the width: every word of it is on the screen, no line is cut.
    assert ("✗ Invalid module name 'Bad Name': use lower case letters, digits and single dashes, start with a "
            "letter, end with a letter or digit, at most 64 characters. Example of a valid module name: "
            "hello-wasm") in unwrapped(screen)
    term.child.send(CLEAR_LINE + "hello-wasm" + ENTER)
    term.answer("? Description", ENTER)
    term.answer("? Author", CLEAR_LINE + "Jane Doe" + ENTER)
    # Languages too, the cursor on the default: rust -> c, the one before it.
    screen = term.answer("? Language (Use arrow keys)", UP + ENTER)
    assert "assemblyscript  TypeScript-like, compiled by the assemblyscript npm package" in screen
    # Runtimes are listed by name, the cursor on the default: wasmtime (last) -> wagi.
    screen = term.answer("? Target runtime (Use arrow keys)", UP + ENTER)
    assert "wagi      an HTTP handler run once per request (CGI style); pulls wasm-to-oci" in screen
    assert "krustlet  a pod on a Kubernetes node run by Krustlet; pulls wasm-to-oci" in screen
    screen = term.answer("? Registry (Use arrow keys)", DOWN * 2 + ENTER)  # ghcr, acr -> dockerhub
    assert "other…     any other OCI registry, by HOST[:PORT]" in screen
    screen = term.answer("? Namespace", CLEAR_LINE + "octocat" + ENTER)
    assert "Must follow the OCI name grammar" in screen
    screen = term.answer("? License (Use arrow keys)", ENTER)
    # Answered questions keep one line each; their help and choice lists are gone.
    assert "? Target runtime wagi\n? Registry dockerhub\n? Namespace (owner, organisation or path) octocat\n" in screen
    term.answer("? Default branch", ENTER)
    term.wait_for("Next steps")
    assert term.finish() == 0, term.text
    answers = yaml.safe_load((tmp_path / "hello/.copier-answers.yml").read_text())
    assert {key: answers[key] for key in ("name", "author", "language", "runtime", "registry", "namespace")} == {
        "name": "hello-wasm", "author": "Jane Doe", "language": "c", "runtime": "wagi",
        "registry": "dockerhub", "namespace": "octocat",
    }


def test_a_long_refusal_at_the_other_host_prompt_wraps_whole(tmp_path):
    term = Terminal.yowasm_new(tmp_path, "hello", "--author", "a", "--description", "d", "--language", "rust",
                               "--runtime", "wasmtime", "--name", "hello")
    term.answer("? Registry (Use arrow keys)", DOWN * 4 + ENTER)  # other…
    screen = term.answer("? Registry host[:port]", "bad_host!" + ENTER)
    assert "Must be a registry host name or IP address" in screen
    screen = term.wait_for("✗ Invalid registry")
    assert ("✗ Invalid registry 'bad_host!': must be a registry host name or IP address with an optional :PORT, "
            "holding a '.' or a port (or be localhost) so that clients do not read it as a Docker Hub user. "
            "Example of a valid registry: registry.example.com:5000") in unwrapped(screen)
    term.child.sendintr()
    assert term.finish() == 130


@pytest.mark.parametrize("flags, refusal", [
    (["--language", "cpp"], "Invalid language 'cpp': must be one of assemblyscript, c, rust, tinygo."),
    (["--registry", "myregistry"], "Invalid registry 'myregistry'"),
    (["--runtime", "wagi", "--artifact-format", "cncf"], "wagi pulls only the wasm-to-oci layout"),
    (["--runtime", "wasmtime", "--krustlet-node", "wagi"], "do not apply to the chosen runtime and registry: --krustlet-node"),
])
def test_bad_flags_are_refused_before_any_question(tmp_path, flags, refusal):
    term = Terminal.yowasm_new(tmp_path, "hello", *flags)
    assert term.finish(timeout=60) == 2
    assert refusal in unwrapped(term.text)
    assert "?" not in term.transcript  # not one question was drawn
    assert list(tmp_path.iterdir()) == [] or [path.name for path in tmp_path.iterdir()] == [".cache"]


def test_a_bad_data_file_answer_is_refused_before_any_question(tmp_path):
    (tmp_path / "answers.yml").write_text("name: hello\nregistry: dockerhub\nnamespace: team/wasm\n")
    term = Terminal.yowasm_new(tmp_path, "hello", "--data-file", "answers.yml")
    assert term.finish(timeout=60) == 2
    assert "Docker Hub takes a single user or organisation name" in unwrapped(term.text)
    assert "?" not in term.transcript


def test_a_choice_that_breaks_a_rule_with_a_given_flag_is_shown_refused_and_skipped(tmp_path):
    term = Terminal.yowasm_new(tmp_path, "hello", "--runtime", "krustlet", "--krustlet-node", "wasi",
                               "--name", "hello", "--description", "d", "--author", "a", "--language", "rust")
    screen = term.wait_for("? Registry (Use arrow keys)")
    assert "none ✗ Krustlet pulls modules from an OCI registry, so krustlet needs one" in unwrapped(screen)
    term.child.send(DOWN * 3 + ENTER)  # acr, dockerhub, then past none to other…
    term.wait_for("? Registry host[:port]")
    term.child.sendintr()
    assert term.finish() == 130


@pytest.mark.parametrize("at", ["Module name", "Language"])
def test_ctrl_c_leaves_nothing_and_exits_130(tmp_path, at):
    term = Terminal.yowasm_new(tmp_path, "hello")
    if at == "Language":
        for prompt in ("? Module name", "? Description", "? Author"):
            term.answer(prompt, ENTER)
    term.wait_for(f"? {at}")
    term.child.sendintr()
    assert term.finish() == 130
    assert "Aborted" in term.text
    assert list(tmp_path.iterdir()) == [] or [path.name for path in tmp_path.iterdir()] == [".cache"]


def test_a_prompting_new_asks_with_no_head_start_process_beside_it(tmp_path):
    """The head start (copier imported by a second process, yowasm.render_ahead) is for a
    `new` that asks nothing: one that prompts has no process competing with its first
    question for a core."""
    term = Terminal.yowasm_new(tmp_path, "hello")
    term.wait_for("? Module name")
    pid = term.child.pid
    assert Path(f"/proc/{pid}/task/{pid}/children").read_text().split() == []
    term.child.sendintr()
    assert term.finish() == 130


@pytest.mark.parametrize("redirect", ["| tee log.txt; exit ${PIPESTATUS[0]}", "> log.txt 2>&1"])
def test_with_output_piped_the_prompts_stay_on_the_terminal_and_the_result_goes_to_the_pipe(tmp_path, redirect):
    command = f"{shlex.join(yowasm_argv('new', 'hello'))} {redirect}"
    term = Terminal(tmp_path, [shutil.which("bash"), "-c", command])
    term.answer("? Module name", ENTER)
    term.answer("? Description", ENTER)
    term.answer("? Author", CLEAR_LINE + "Jane Doe" + ENTER)
    for prompt in ("? Language (Use", "? Target runtime (Use", "? Registry (Use"):
        term.answer(prompt, ENTER)
    for prompt in ("? Namespace", "? OCI artifact layout (Use", "? License (Use", "? Default branch"):
        term.answer(prompt, ENTER)
    assert term.finish() == 0, term.text
    log = (tmp_path / "log.txt").read_text()
    assert "Next steps" in log
    assert "Created Rust wasmtime project hello → ghcr.io/jane-doe/hello" in log
    assert "?" not in log and "\x1b" not in log  # no prompt, no terminal control in the pipe
    assert yaml.safe_load((tmp_path / "hello/.copier-answers.yml").read_text())["author"] == "Jane Doe"


ALL_FLAGS = ["--name", "hello", "--description", "d", "--author", "a", "--runtime", "wasmtime", "--registry", "none",
             "--license", "MIT", "--branch", "main"]
OFFER = "? Install the dependencies now (npm install)? (Y/n)"


def test_assemblyscript_dependencies_are_installed_after_new_when_the_user_agrees(tmp_path):
    require_tool("npm", "sudo apt-get install nodejs npm")
    term = Terminal.yowasm_new(tmp_path, "hello", "--language", "assemblyscript", *ALL_FLAGS)
    term.answer(OFFER, ENTER)  # the default is yes
    term.wait_for("Next steps", timeout=600)
    assert term.finish() == 0, term.text
    assert (tmp_path / "hello/node_modules/assemblyscript/package.json").is_file()
    steps = term.text.split("Next steps", 1)[1]
    assert "npm install" not in steps and "npm run build" in steps


def test_declining_the_offer_installs_nothing_and_keeps_the_step(tmp_path):
    require_tool("npm", "sudo apt-get install nodejs npm")
    term = Terminal.yowasm_new(tmp_path, "hello", "--language", "assemblyscript", *ALL_FLAGS)
    term.answer(OFFER, "n")
    term.wait_for("Next steps")
    assert term.finish() == 0, term.text
    assert "? Install the dependencies now (npm install)? No" in term.scrollback
    assert not (tmp_path / "hello/node_modules").exists()
    assert "setup    npm install" in term.text.split("Next steps", 1)[1]


def test_no_offer_without_a_terminal_or_a_setup_step(tmp_path):
    require_tool("npm", "sudo apt-get install nodejs npm")
    piped = run_yowasm("new", "piped", "--language", "assemblyscript", *ALL_FLAGS, cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert piped.returncode == 0, piped.stderr
    assert "Install the dependencies" not in piped.stdout + piped.stderr
    assert not (tmp_path / "piped/node_modules").exists()
    term = Terminal.yowasm_new(tmp_path, "rusty", "--language", "rust", *ALL_FLAGS)
    term.wait_for("Next steps")
    assert term.finish() == 0 and "Install the dependencies" not in term.transcript


def test_login_asks_for_the_user_and_a_masked_password(tmp_path):
    config = tmp_path / "docker"
    term = Terminal.yowasm(tmp_path, "login", "registry.example.com:5000", "--no-verify",
                           env={"DOCKER_CONFIG": str(config)})
    term.answer("? Username", "octocat" + ENTER)
    term.answer("? Password or token", "s3cret-token" + ENTER)
    assert term.finish() == 0, term.text
    assert "? Password or token ************" in term.text and "s3cret" not in term.transcript
    assert "registry.example.com:5000" in (config / "config.json").read_text()
