"""The Python questionnaire and the template's copier.yml ask the same questions, and
plain `copier copy` renders the same project as `yowasm new`."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.projects import answers as make_answers
from tests.projects import render
from yowasm.errors import MissingAnswersError, UsageError
from yowasm.languages import templates_dir
from yowasm.questionnaire import QUESTIONS, check_given, example_answer, resolve_answers

COPIER = yaml.safe_load((templates_dir() / "copier.yml").read_text())
ASKED = [key for key, spec in COPIER.items() if not key.startswith("_") and spec.get("when") is not False]


def test_same_questions_in_the_same_order():
    assert [question.key for question in QUESTIONS] == ASKED


def test_same_choices():
    for question in QUESTIONS:
        choices = COPIER[question.key].get("choices")
        if choices and question.key != "registry":
            assert list(question.choices) == choices, question.key


def test_defaults_resolve_without_asking():
    answers = resolve_answers({"author": "Ann Lee"}, directory=Path("/x/My Module"), use_defaults=True)
    assert (answers.name, answers.registry.namespace, answers.language.value, answers.runtime.value) == (
        "my-module", "ann-lee", "rust", "wasmtime",
    )


def test_asker_is_called_in_order_with_defaults():
    seen = []

    def ask(question, default, answers):
        seen.append((question.key, default))
        return {"name": "x-mod", "author": "A", "registry": "acr", "acr_name": "myregistry"}.get(question.key, default)

    answers = resolve_answers({}, directory=Path("/p/x"), ask=ask)
    assert [key for key, _ in seen] == [
        "name", "description", "author", "language", "runtime", "registry", "acr_name", "artifact_format",
        "license", "branch",
    ]
    assert answers.repository == "myregistry.azurecr.io/x-mod"


def test_without_a_way_to_ask_missing_answers_are_reported_together():
    with pytest.raises(MissingAnswersError) as error:
        resolve_answers({"registry": "acr", "author": "A"}, directory=None)
    assert error.value.flags == ["--name", "--acr-name"]


def test_previous_answers_fill_in_where_they_still_apply():
    previous = {"name": "hello", "author": "Ann Lee", "registry": "ghcr", "namespace": "octocat", "license": "Apache-2.0"}
    answers = resolve_answers({"registry": "acr", "acr_name": "myregistry"}, previous=previous)
    assert answers.repository == "myregistry.azurecr.io/hello"  # the namespace no longer applies: dropped
    assert (answers.author, answers.license.value) == ("Ann Lee", "Apache-2.0")
    with pytest.raises(UsageError, match="--namespace"):  # a given answer that does not apply is still refused
        resolve_answers({"registry": "acr", "acr_name": "myregistry", "namespace": "x"}, previous=previous)


def test_unknown_keys_are_refused():
    with pytest.raises(UsageError, match="nmae"):
        resolve_answers({"nmae": "x"})


@pytest.mark.parametrize("overrides", [
    {"language": "c", "runtime": "wagi"},
    {"language": "tinygo", "runtime": "krustlet", "krustlet_node": "wagi", "registry": "acr", "namespace": None, "acr_name": "myregistry"},
])
def test_plain_copier_copy_renders_what_yowasm_renders(tmp_path, overrides):
    by_yowasm = render(tmp_path / "yowasm", **overrides)
    data = make_answers(**overrides).to_data()
    by_copier = tmp_path / "copier"
    command = [sys.executable, "-m", "copier", "copy", "--defaults", "--quiet", str(templates_dir()), str(by_copier)]
    for key, value in data.items():
        command += ["--data", f"{key}={value}"]
    subprocess.run(command, check=True, capture_output=True)
    comparison = filecmp.dircmp(by_yowasm, by_copier)
    differing = []

    def walk(cmp, prefix=""):
        differing.extend(prefix + name for name in cmp.diff_files + cmp.left_only + cmp.right_only)
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(comparison)
    assert differing == [".copier-answers.yml"]
    # ...which yowasm writes as copier does, then adds the digests `yowasm update` uses.
    by_yowasm_answers = (by_yowasm / ".copier-answers.yml").read_text()
    assert by_yowasm_answers.startswith((by_copier / ".copier-answers.yml").read_text())
    assert yaml.safe_load(by_yowasm_answers)["_yowasm_files"].keys() == {
        path.relative_to(by_copier).as_posix() for path in by_copier.rglob("*")
        if path.is_file() and path.name != ".copier-answers.yml"}


def test_copier_validators_refuse_what_yowasm_refuses(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "copier", "copy", "--defaults", "--data", "name=Bad Name", "--data", "author=a",
         str(templates_dir()), str(tmp_path / "out")],
        capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert "lower case letters" in result.stdout + result.stderr


# Answers given as flags are checked before the first question, so that whatever they
# are, the questions still to come can always be answered: no dead end after prompting.
_VALUES = {
    "name": ["hello", "Bad Name", "test"],
    "author": ["Ann Lee", ""],
    "language": ["rust", "c", "cpp"],
    "runtime": ["wasmtime", "wagi", "krustlet", "docker"],
    "krustlet_node": ["wasi", "wagi", "linux"],
    "registry": ["ghcr", "acr", "dockerhub", "none", "registry.example.com:5000", "myregistry"],
    "namespace": ["octocat", "team/wasm", "Octo"],
    "acr_name": ["myregistry", "my-reg"],
    "artifact_format": ["wasm-to-oci", "cncf", "tar"],
    "publisher": ["oras", "wasm-to-oci"],
    "license": ["MIT", "GPL"],
}


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional={key: st.sampled_from(values) for key, values in _VALUES.items()}))
def test_flags_that_pass_the_first_check_can_always_be_completed_at_the_prompts(flags):
    try:
        check_given(flags, {})
    except UsageError:
        return  # refused before anything is asked
    refused_everything = []

    def ask(question, default, check):
        candidates = [*question.choices, default, example_answer(question.key, {}), "registry.example.com"]
        for candidate in candidates:
            try:
                check(candidate or "")
                return candidate
            except UsageError:
                continue
        refused_everything.append(question.key)
        return default

    answers = resolve_answers(flags, directory=Path("/p/hello"), ask=ask)
    assert not refused_everything
    assert {key: str(value) for key, value in answers.to_data().items() if key in flags} == {
        key: str(value) for key, value in flags.items() if key in answers.to_data()}
