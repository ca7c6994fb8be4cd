"""The questions `yowasm new` asks, in order, with their flags, defaults and rules.

The same keys, order and choices are the copier questionnaire in
templates/copier.yml (a test keeps the two in step): this module is how yowasm asks
them (flags, data file, prompts); copier.yml is how plain `copier copy` asks them.
"""

from __future__ import annotations

import getpass
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

from yowasm.errors import MissingAnswersError, UsageError, ValidationError
from yowasm.model import (
    ArtifactFormat,
    KrustletNode,
    Language,
    License,
    ProjectAnswers,
    Publisher,
    Registry,
    RegistryKind,
    Runtime,
    default_publisher,
    suggest_name,
    suggest_namespace,
    validate_acr_name,
    validate_branch,
    validate_name,
    validate_namespace,
    validate_text,
)
from yowasm.runtimes import runtime_facts

Answers = Mapping[str, Any]


@dataclass(frozen=True)
class Question:
    key: str
    prompt: str
    check: Callable[[Answers, str], object]
    default: Callable[[Answers], str | None] = lambda answers: None
    choices: tuple[str, ...] = ()
    when: Callable[[Answers], bool] = lambda answers: True
    #: A question with choices and free text (registry) offers an "other" entry
    #: that asks for the text with this prompt.
    other_prompt: str | None = None
    #: Whether to prompt at all; when not, the default is taken.
    ask_if: Callable[[Answers], bool] = lambda answers: True

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")


class Asker(Protocol):
    def __call__(self, question: Question, default: str | None, answers: Answers) -> str: ...


def _registry_kind(answers: Answers) -> RegistryKind:
    return Registry.parse(answers["registry"], "placeholder", "placeholder").kind


def _check_registry(answers: Answers, value: str) -> object:
    return Registry.parse(value, "placeholder", "placeholder")


def _default_author(answers: Answers) -> str | None:
    try:
        name = subprocess.run(
            ["git", "config", "user.name"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        name = ""
    if name:
        return name
    try:
        return os.environ.get("USER") or getpass.getuser() or None
    except (OSError, KeyError):
        return None


def _default_namespace(answers: Answers) -> str | None:
    author = answers.get("author")
    return suggest_namespace(author) or None if author else None


def _runtime(answers: Answers):
    return runtime_facts(Runtime.parse(answers["runtime"], "runtime"))


def _default_layout(answers: Answers) -> str:
    return _runtime(answers).layouts[0].value


def _choices(enum: type) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


def _needs_namespace(answers: Answers) -> bool:
    return _registry_kind(answers) not in (RegistryKind.ACR, RegistryKind.NONE)


QUESTIONS: tuple[Question, ...] = (
    Question(
        "name",
        "Module name",
        lambda answers, value: validate_name(value),
        default=lambda answers: answers.get("_directory_name") and suggest_name(answers["_directory_name"]),
    ),
    Question(
        "description",
        "Description",
        lambda answers, value: validate_text("description", value),
        default=lambda answers: "A WebAssembly module",
    ),
    Question(
        "author",
        "Author",
        lambda answers, value: validate_text("author", value, required=True),
        default=_default_author,
    ),
    Question(
        "language",
        "Language",
        lambda answers, value: Language.parse(value, "language"),
        default=lambda answers: Language.RUST.value,
        choices=_choices(Language),
    ),
    Question(
        "runtime",
        "Target runtime",
        lambda answers, value: Runtime.parse(value, "runtime"),
        default=lambda answers: Runtime.WASMTIME.value,
        choices=_choices(Runtime),
    ),
    Question(
        "krustlet_node",
        "Krustlet node kind",
        lambda answers, value: KrustletNode.parse(value, "Krustlet node kind"),
        default=lambda answers: KrustletNode.WASI.value,
        choices=_choices(KrustletNode),
        when=lambda answers: _runtime(answers).asks_node,
    ),
    Question(
        "registry",
        "Registry",
        _check_registry,
        default=lambda answers: RegistryKind.GHCR.value,
        choices=("ghcr", "acr", "dockerhub", "none"),
        other_prompt="Registry host[:port]",
    ),
    Question(
        "namespace",
        "Namespace (owner, organisation or path)",
        lambda answers, value: validate_namespace(
            value, single=_registry_kind(answers) is RegistryKind.DOCKERHUB
        ),
        default=_default_namespace,
        when=_needs_namespace,
    ),
    Question(
        "acr_name",
        "Azure Container Registry name",
        lambda answers, value: validate_acr_name(value),
        when=lambda answers: _registry_kind(answers) is RegistryKind.ACR,
    ),
    Question(
        "artifact_format",
        "OCI artifact layout",
        lambda answers, value: ArtifactFormat.parse(value, "artifact format"),
        default=_default_layout,
        choices=_choices(ArtifactFormat),
        when=lambda answers: _registry_kind(answers) is not RegistryKind.NONE,
        # Most runtimes pull one layout only; ask only when there is a choice.
        ask_if=lambda answers: len(_runtime(answers).layouts) > 1,
    ),
    Question(
        "publisher",
        "Tool the release workflow pushes with",
        lambda answers, value: Publisher.parse(value, "publisher"),
        default=lambda answers: default_publisher(ArtifactFormat.parse(answers["artifact_format"], "artifact format")).value,
        choices=_choices(Publisher),
        when=lambda answers: _registry_kind(answers) is not RegistryKind.NONE,
        # ORAS is maintained and checksum-verified; wasm-to-oci is an explicit opt-in.
        ask_if=lambda answers: False,
    ),
    Question(
        "license",
        "License",
        lambda answers, value: License.parse(value, "license"),
        default=lambda answers: License.MIT.value,
        choices=_choices(License),
    ),
    Question(
        "branch",
        "Default branch",
        lambda answers, value: validate_branch(value),
        default=lambda answers: "main",
    ),
)

QUESTION_KEYS = tuple(question.key for question in QUESTIONS)


def _canonical(value: object) -> str:
    """What an answer is recorded as: an enum's value, a registry's choice, or the text."""
    if isinstance(value, Registry):
        return value.choice
    return str(value)


def resolve_answers(
    given: Answers,
    *,
    directory: Path | None = None,
    use_defaults: bool = False,
    ask: Asker | None = None,
    previous: Answers | None = None,
) -> ProjectAnswers:
    """Walk the questions in order: a given answer is validated, a missing one is taken
    from PREVIOUS answers (when the question still applies), defaulted (with
    use_defaults or no way to ask) or asked. Without a way to ask, every missing answer
    with no default is reported at once."""
    unknown = sorted(key for key in given if key not in QUESTION_KEYS and not key.startswith("_"))
    if unknown:
        raise UsageError(
            "Unknown answer keys: " + ", ".join(unknown) + ".",
            hint="Valid keys: " + ", ".join(QUESTION_KEYS) + ".",
        )
    answers: dict[str, Any] = {}
    context: dict[str, Any] = {"_directory_name": directory.name if directory else None}
    missing: list[str] = []
    for question in QUESTIONS:
        view = {**context, **answers}
        if not _applies(question, view, missing):
            continue
        value = given.get(question.key)
        if value is None and previous:
            value = previous.get(question.key)
        if value is not None:
            answers[question.key] = _canonical(question.check(view, str(value)))
            continue
        default = question.default(view)
        if ask is not None and not use_defaults and question.ask_if(view):
            answers[question.key] = _canonical(question.check(view, ask(question, default, view)))
        elif default is not None:
            answers[question.key] = _canonical(question.check(view, default))
        else:
            missing.append(question.flag)
    _reject_inapplicable(given, answers, missing)
    if missing:
        raise MissingAnswersError(missing)
    return ProjectAnswers.from_data(answers)


def example_answer(key: str, answers: Answers) -> str:
    """A valid value for KEY: the example its own check gives when it refuses one."""
    question = next(question for question in QUESTIONS if question.key == key)
    try:
        question.check(answers, "")
    except ValidationError as error:
        return error.example
    return "..."


def _applies(question: Question, view: Answers, missing: list[str]) -> bool:
    try:
        return question.when(view)
    except (KeyError, ValidationError):
        # It depends on an answer that is itself missing: ask for that one first.
        return False


def _reject_inapplicable(given: Answers, answers: Answers, missing: list[str]) -> None:
    if missing:
        return
    ignored = [
        question.flag
        for question in QUESTIONS
        if given.get(question.key) is not None and question.key not in answers
    ]
    if ignored:
        raise UsageError(
            "These answers do not apply to the chosen runtime and registry: " + ", ".join(ignored) + ".",
            hint="--krustlet-node goes with --runtime krustlet, --acr-name with --registry acr, "
            "--namespace with any registry but acr and none.",
        )
