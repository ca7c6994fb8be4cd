"""The Python questionnaire and the template's copier.yml ask the same questions, and
plain `copier copy` renders the same project as `yowasm new`."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.projects import answers as make_answers
from tests.projects import copier_renders, render
from yowasm.errors import MissingAnswersError, UsageError
from yowasm.packaged import templates_dir
from yowasm.questionnaire import QUESTIONS, check_given, example_answer, resolve_answers

COPIER = yaml.safe_load((templates_dir() / "copier.yml").read_text())
ASKED = [key for key, spec in COPIER.items() if not key.startswith("_") and spec.get("when") is not False]


def test_same_questions_in_the_same_order():
    assert [question.key for question in QUESTIONS] == ASKED


@pytest.mark.parametrize("runtime", ["wasmtime", "krustlet"])
def test_same_choices(runtime):
    """copier.yml's runtime and node choices are templates that list the runtime data."""
    for question in QUESTIONS:
        choices = copier_renders(templates_dir(), COPIER[question.key].get("choices"), runtime=runtime)
        if question.key == "krustlet_node" and runtime != "krustlet":
            assert choices == [], choices  # asked only for a runtime with node kinds
        elif choices and question.key != "registry":
            assert list(question.choices) == choices, question.key


def test_same_runtime_default():
    default = copier_renders(templates_dir(), COPIER["runtime"]["default"], name="hello-wasm", author="Ann Lee")
    assert default == next(question for question in QUESTIONS if question.key == "runtime").default({}) == "wasmtime"


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


# --- one set of rules: plain copier and `yowasm new` give the same verdicts ----------

#: (answers over the defaults, None when valid else a phrase both refusals must say).
#: Every rule of templates/rules.yml and of the runtime files is broken at least once.
VERDICT_SAMPLE = [
    ({}, None),
    ({"name": "a"}, None),
    ({"name": "h2o-2"}, None),
    ({"name": "a" * 64}, None),
    ({"description": "tab\tseparated"}, None),
    ({"registry": "localhost:5000", "namespace": "dev"}, None),
    ({"registry": "Localhost:5000", "namespace": "dev"}, None),
    ({"registry": "10.0.0.1:443", "namespace": "team/wasm"}, None),
    ({"registry": "acr", "acr_name": "myregistry"}, None),
    ({"registry": "none", "runtime": "wagi"}, None),
    ({"branch": "release/v1"}, None),
    ({"runtime": "krustlet", "krustlet_node": "wagi"}, None),
    ({"runtime": "spin"}, None),
    ({"runtime": "spin", "registry": "dockerhub"}, None),
    ({"runtime": "runwasi", "registry": "acr", "acr_name": "myregistry"}, None),
    ({"artifact_format": "wasm-to-oci", "publisher": "wasm-to-oci"}, None),
    ({"name": "Hello"}, "lower case letters, digits and single dashes"),
    ({"name": "1a"}, "start with a letter"),
    ({"name": "a--b"}, "single dashes"),
    ({"name": "a-"}, "end with a letter or digit"),
    ({"name": "a" * 65}, "at most 64 characters"),
    ({"name": "async"}, "reserved by Rust"),
    ({"name": "con"}, "reserved by Rust"),
    ({"name": "node-modules"}, "reserved by Rust"),
    ({"description": "bell\x07"}, "printable text on one line"),
    ({"author": " "}, "must not be empty"),
    ({"author": "two\nlines"}, "printable text on one line"),
    ({"registry": "myregistry"}, "holding a '.' or a port"),
    ({"registry": "reg_istry.io"}, "registry host name"),
    ({"registry": "reg.io:0"}, "between 1 and 65535"),
    ({"registry": "reg.io:99999"}, "between 1 and 65535"),
    ({"registry": "-reg.io"}, "registry host name"),
    ({"namespace": "Octocat"}, "OCI name grammar"),
    ({"namespace": "a//b"}, "OCI name grammar"),
    ({"registry": "dockerhub", "namespace": "org/team"}, "single user or organisation"),
    ({"registry": "acr", "acr_name": "abc"}, "5 to 50 lower case letters"),
    ({"branch": "a..b"}, "branch name"),
    ({"branch": "x.lock"}, "branch name"),
    ({"branch": "main/"}, "branch name"),
    ({"runtime": "krustlet", "registry": "none"}, "pulls modules from an OCI registry, so krustlet needs one"),
    ({"runtime": "spin", "registry": "none"}, "pulls modules from an OCI registry, so spin needs one"),
    ({"runtime": "runwasi", "registry": "none"}, "pulls modules from an OCI registry, so runwasi needs one"),
    ({"runtime": "wagi", "artifact_format": "cncf"}, "wagi pulls only the wasm-to-oci layout"),
    ({"runtime": "runwasi", "artifact_format": "wasm-to-oci"}, "runwasi pulls only the cncf layout"),
    ({"runtime": "spin", "artifact_format": "wasm-to-oci"}, "spin pulls only the spin layout"),
    ({"publisher": "wasm-to-oci"}, "wasm-to-oci pushes only the wasm-to-oci layout"),
    ({"publisher": "spin"}, "spin pushes only the spin layout"),
    ({"runtime": "spin", "name": "hello-2wasm"}, "each dash-separated word of the name to start with a letter"),
]


def _sample_answers(overrides):
    data = {"name": "hello-wasm", "author": "Ann Lee", "registry": "ghcr", "namespace": "octocat", **overrides}
    if data["registry"].lower() in ("acr", "none"):
        data.pop("namespace")
    return data


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("overrides, refusal", VERDICT_SAMPLE, ids=lambda value: repr(value)[:40])
def test_plain_copier_and_yowasm_new_give_the_same_verdict(tmp_path, overrides, refusal):
    import copier
    from typer.testing import CliRunner

    from yowasm.cli import app

    data = _sample_answers(overrides)
    try:
        copier.run_copy(str(templates_dir()), tmp_path / "copier", data=data, defaults=True, pretend=True,
                        quiet=True, unsafe=False)
        copier_says = None
    except ValueError as error:
        copier_says = _flat(str(error))
    flags = [item for key, value in data.items() for item in (f"--{key.replace('_', '-')}", value)]
    result = CliRunner().invoke(app, ["new", str(tmp_path / "yowasm"), "--defaults", *flags], env={"COLUMNS": "400"})
    yowasm_says = _flat(result.output)
    if refusal is None:
        assert copier_says is None
        assert result.exit_code == 0, yowasm_says
    else:
        assert copier_says is not None and refusal in copier_says, copier_says
        assert result.exit_code == 2 and refusal in yowasm_says, yowasm_says
        assert not (tmp_path / "yowasm").exists()


_TRICKY = "abz09-_./:A .\t"
_FIELD_VALUES = st.one_of(
    st.tuples(st.just("name"), st.one_of(st.text(_TRICKY, max_size=70), st.sampled_from(["async", "con", "wasm", "go"]))),
    st.tuples(st.just("branch"), st.text(_TRICKY, min_size=1, max_size=12)),
    st.tuples(st.just("namespace"), st.text(_TRICKY, min_size=1, max_size=12)),
    st.tuples(st.just("registry"), st.one_of(st.text(_TRICKY, min_size=1, max_size=16),
                                            st.from_regex(r"\A[a-z]{1,3}\.[a-z]{2}:[0-9]{1,6}\Z"))),
    st.tuples(st.just("acr_name"), st.text("abz09A-", max_size=52)),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field_value=_FIELD_VALUES)
def test_random_answers_get_the_same_verdict_from_copier_and_yowasm(tmp_path, field_value):
    """The rules are one data file; whatever the value, copier's validators and
    yowasm's questionnaire accept or refuse it together."""
    import copier

    field, value = field_value
    overrides = {"registry": "acr", field: value} if field == "acr_name" else {field: value}
    if field == "registry" and value.strip().lower() in ("acr", "none"):
        return  # they change which other questions are asked: covered by VERDICT_SAMPLE
    data = _sample_answers(overrides)
    try:
        copier.run_copy(str(templates_dir()), tmp_path / "copier", data=data, defaults=True, pretend=True,
                        quiet=True, unsafe=False)
        copier_accepts = True
    except ValueError:
        copier_accepts = False
    try:
        resolve_answers(data, use_defaults=True)
        yowasm_accepts = True
    except UsageError:
        yowasm_accepts = False
    assert copier_accepts == yowasm_accepts, (field, value)


# Answers given as flags are checked before the first question, so that whatever they
# are, the questions still to come can always be answered: no dead end after prompting.
_VALUES = {
    "name": ["hello", "Bad Name", "test"],
    "author": ["Ann Lee", ""],
    "language": ["rust", "c", "cpp"],
    "runtime": ["wasmtime", "wagi", "krustlet", "spin", "runwasi", "docker"],
    "krustlet_node": ["wasi", "wagi", "linux"],
    "registry": ["ghcr", "acr", "dockerhub", "none", "registry.example.com:5000", "myregistry"],
    "namespace": ["octocat", "team/wasm", "Octo"],
    "acr_name": ["myregistry", "my-reg"],
    "artifact_format": ["wasm-to-oci", "cncf", "spin", "tar"],
    "publisher": ["oras", "wasm-to-oci", "spin"],
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
