"""The questions `yowasm new` asks, in order, with their flags, defaults and rules.

The same keys, order and choices are the copier questionnaire in
templates/copier.yml (a test keeps the two in step): this module is how yowasm asks
them (flags, data file, prompts); copier.yml is how plain `copier copy` asks them.
"""

from __future__ import annotations

import getpass
import itertools
import os
import subprocess
from dataclasses import dataclass
from functools import cache
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
    #: Shown under the question while it is asked; without it, a text question shows
    #: the rule its check states (see `rule_of`).
    help: str = ""

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")


#: Checks one answer typed at a prompt against the question's rule and against every
#: answer given as a flag; returns what is recorded, raises YowasmError to refuse it.
AnswerCheck = Callable[[str], str]


class Asker(Protocol):
    def __call__(self, question: Question, default: str | None, check: AnswerCheck) -> str: ...


def rule_of(check: AnswerCheck) -> str:
    """The rule a check states when it refuses an empty answer, with its example; ""
    when an empty answer is fine."""
    try:
        check("")
    except ValidationError as error:
        return f"{error.rule[:1].upper()}{error.rule[1:]} (e.g. {error.example})."
    except UsageError:
        pass
    return ""


@cache
def choice_descriptions(key: str) -> Mapping[str, str]:
    """One line for each choice of question KEY (and "other" for a host typed in):
    languages from their language.yml, runtimes from their runtime file, the rest
    from yowasm/choices.yml."""
    if key == "language":
        from yowasm.languages import language_facts

        return {language.value: language_facts(language).summary for language in Language}
    if key == "runtime":
        return {runtime.value: runtime_facts(runtime).description for runtime in Runtime}
    from yowasm.packaged import load_packaged_yaml

    table = load_packaged_yaml(Path(__file__).with_name("choices.yml"))
    return table.get(key, {})


def _registry_kind(answers: Answers) -> RegistryKind:
    return Registry.parse(answers["registry"], "placeholder", "placeholder").kind


def _single_namespace(answers: Answers) -> bool:
    """Docker Hub takes one name; while the registry is still to be asked, any may do."""
    return "registry" in answers and _registry_kind(answers) is RegistryKind.DOCKERHUB


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
        help="One line, for the README and the package metadata.",
    ),
    Question(
        "author",
        "Author",
        lambda answers, value: validate_text("author", value, required=True),
        default=_default_author,
        help="The name in the LICENSE and the package metadata (e.g. Jane Doe).",
    ),
    Question(
        "language",
        "Language",
        lambda answers, value: Language.parse(value, "language"),
        default=lambda answers: Language.default().value,
        choices=_choices(Language),
    ),
    Question(
        "runtime",
        "Target runtime",
        lambda answers, value: Runtime.parse(value, "runtime"),
        default=lambda answers: Runtime.default().value,
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
        lambda answers, value: validate_namespace(value, single=_single_namespace(answers)),
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
    use_defaults or no way to ask) or asked. Every given answer is checked before the
    first question is asked, and an asked answer that breaks a rule together with a
    given one is refused at the prompt. Without a way to ask, every missing answer
    with no default is reported at once."""
    unknown = sorted(key for key in given if key not in QUESTION_KEYS and not key.startswith("_"))
    if unknown:
        raise UsageError(
            "Unknown answer keys: " + ", ".join(unknown) + ".",
            hint="Valid keys: " + ", ".join(QUESTION_KEYS) + ".",
        )
    context: dict[str, Any] = {"_directory_name": directory.name if directory else None}
    check_given(given, context)
    answers: dict[str, Any] = {}
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
            check = _answer_check(question, view, given)
            answers[question.key] = check(ask(question, default, check))
        elif default is not None:
            answers[question.key] = _canonical(question.check(view, default))
        else:
            missing.append(question.flag)
    _reject_inapplicable(given, answers, missing)
    if missing:
        raise MissingAnswersError(missing)
    return ProjectAnswers.from_data(answers)


def check_given(given: Answers, known: Answers) -> None:
    """Refuse a given answer that breaks its rule, that does not apply, or that no
    answers to the questions still open could combine with (e.g. `--runtime wagi
    --artifact-format cncf`), in the light of the KNOWN answers: before anything is
    asked, and again with each asked answer."""
    view: dict[str, Any] = dict(known)
    inapplicable = []
    for question in QUESTIONS:
        value = given.get(question.key)
        if value is None or question.key in known:
            continue
        try:
            applies = question.when(view)
        except (KeyError, ValidationError):
            applies = True  # it depends on an answer still open
        if not applies:
            inapplicable.append(question.flag)
            continue
        view[question.key] = _canonical(question.check(view, str(value)))
    if inapplicable:
        raise _inapplicable_error(inapplicable)
    _check_combinable(view, {key for key, value in given.items() if value is not None and key in QUESTION_KEYS})


#: Values that pass every single-answer rule, standing in for free-text answers still
#: open while the rules between answers are checked.
_PLACEHOLDERS = {key: "placeholder" for key in ("name", "author", "namespace", "acr_name")}


def _check_combinable(known: Answers, given_keys: set[str]) -> None:
    """Raise a refusal when no choice for the open questions makes KNOWN a valid
    project to which every given answer applies (the first completion tried is almost
    always one)."""
    open_questions = [question for question in QUESTIONS if question.choices and question.key not in known]
    first_refusal: UsageError | None = None
    for choices in itertools.product(*(_default_first(question, known) for question in open_questions)):
        completion = {question.key: choice for question, choice in zip(open_questions, choices)}
        data = {**_PLACEHOLDERS, **{key: value for key, value in known.items() if key in QUESTION_KEYS}, **completion}
        try:
            ProjectAnswers.from_data(data)
        except ValidationError as refusal:
            first_refusal = first_refusal or refusal
            continue
        inapplicable = [question.flag for question in QUESTIONS if question.key in given_keys and not question.when(data)]
        if not inapplicable:
            return
        first_refusal = first_refusal or _inapplicable_error(inapplicable)
    if first_refusal is not None:
        raise first_refusal


def _default_first(question: Question, known: Answers) -> tuple[str, ...]:
    """QUESTION's choices, its default (when the KNOWN answers settle it) first: the
    completion tried first, and so the refusal reported, is the one a user gets by
    taking the defaults."""
    try:
        default = question.default(known)
    except (KeyError, ValidationError):
        return question.choices
    return tuple(sorted(question.choices, key=lambda choice: choice != default))


def _answer_check(question: Question, view: Answers, given: Answers) -> AnswerCheck:
    def check(text: str) -> str:
        value = _canonical(question.check(view, text))
        check_given(given, {**view, question.key: value})
        return value

    return check


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
        raise _inapplicable_error(ignored)


def _inapplicable_error(flags: list[str]) -> UsageError:
    return UsageError(
        "These answers do not apply to the chosen runtime and registry: " + ", ".join(flags) + ".",
        hint="--krustlet-node goes with --runtime krustlet, --acr-name with --registry acr, "
        "--namespace with any registry but acr and none.",
    )
