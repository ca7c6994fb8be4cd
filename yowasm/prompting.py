"""Terminal prompts drawn with prompt_toolkit, in questionary's look.

While a question is asked, its help stands under it and a refused answer's reason under
that, both wrapped at word boundaries to the terminal's width of the moment; a choice
list shows each choice's one-line description beside it. Once answered, only
`? Question answer` stays on the screen. The prompts draw on the terminal stream they
are given, so that stdout can be a pipe.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Callable, Sequence, TextIO

from prompt_toolkit.application import Application, get_app
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.document import Document
from prompt_toolkit.filters import Condition, is_done
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.layout import ConditionalContainer, HSplit, Layout, Window
from prompt_toolkit.layout.controls import BufferControl, FormattedTextControl
from prompt_toolkit.layout.processors import BeforeInput, PasswordProcessor
from prompt_toolkit.lexers import SimpleLexer
from prompt_toolkit.output import create_output
from prompt_toolkit.styles import Style
from prompt_toolkit.validation import ValidationError, Validator

STYLE = Style.from_dict({
    "qmark": "fg:#5f819d",
    "question": "bold",
    "answer": "fg:#ff9d00 bold",
    "pointer": "fg:#ff9d00 bold",
    "highlighted": "fg:#ff9d00 bold",
    "help": "fg:#8a8a8a",
    "description": "fg:#8a8a8a",
    "refused": "fg:#8a8a8a strike",
    "error": "fg:ansired bold",
})
INDENT = "  "

#: The reason an answer is refused, or None when it is taken.
Refusal = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    description: str = ""
    #: Why this choice cannot be taken with the answers given so far.
    refused: str | None = None


def _columns() -> int:
    return max(get_app().output.get_size().columns, 20)


def _wrap(text: str, width: int, indent: str = INDENT) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines():
        lines += textwrap.wrap(paragraph, width=max(width, len(indent) + 10), initial_indent=indent,
                               subsequent_indent=indent, break_on_hyphens=False) or [indent]
    return lines


def _note(text: Callable[[], str | None], style: str) -> ConditionalContainer:
    """Lines under the question while it is asked, wrapped to the terminal's width."""

    def fragments() -> StyleAndTextTuples:
        return [(style, "\n".join(_wrap(text() or "", _columns())))]

    return ConditionalContainer(Window(FormattedTextControl(fragments), dont_extend_height=True),
                                filter=~is_done & Condition(lambda: bool(text())))


def _question(message: str, answer: Callable[[], str], hint: str = "") -> StyleAndTextTuples:
    tokens: StyleAndTextTuples = [("class:qmark", "?"), ("class:question", f" {message} ")]
    if get_app().is_done:
        tokens.append(("class:answer", answer()))
    elif hint:
        tokens.append(("class:help", hint))
    return tokens


def _abort_keys(keys: KeyBindings) -> None:
    @keys.add("c-c", eager=True)
    def _(event) -> None:
        event.app.exit(exception=KeyboardInterrupt, style="class:aborting")


def _run(body: HSplit, keys: KeyBindings, output: TextIO, focused) -> object:
    app: Application = Application(layout=Layout(body, focused_element=focused), key_bindings=keys,
                                   style=STYLE, output=create_output(stdout=output), mouse_support=False)
    return app.run()


class _Rule(Validator):
    def __init__(self, refuse: Refusal):
        self.refuse = refuse

    def validate(self, document: Document) -> None:
        reason = self.refuse(document.text)
        if reason:
            raise ValidationError(message=reason, cursor_position=len(document.text))


def text(message: str, *, output: TextIO, default: str = "", help: str = "",
         refuse: Refusal = lambda text: None, secret: bool = False) -> str:
    """One line of text; Enter on a refused answer shows why and keeps it for editing."""

    def accept(buffer: Buffer) -> bool:
        get_app().exit(result=buffer.text)
        return True

    buffer = Buffer(document=Document(default, len(default)), multiline=False, validator=_Rule(refuse),
                    accept_handler=accept)
    # The password mask goes first, so that it hides the answer but not the question.
    processors = [*([PasswordProcessor()] if secret else []), BeforeInput(lambda: _question(message, lambda: ""))]
    line = Window(BufferControl(buffer, input_processors=processors, lexer=SimpleLexer("class:answer")),
                  dont_extend_height=True, wrap_lines=True)
    error = _note(lambda: buffer.validation_error and "✗ " + buffer.validation_error.message, "class:error")
    keys = KeyBindings()
    _abort_keys(keys)

    @keys.add("enter")
    def _(event) -> None:
        buffer.validate_and_handle()

    @keys.add("c-d", filter=Condition(lambda: not buffer.text))
    def _(event) -> None:
        event.app.exit(exception=EOFError)

    return _run(HSplit([line, _note(lambda: help, "class:help"), error]), keys, output, line)


def select(message: str, options: Sequence[Option], *, output: TextIO, default: str | None = None,
           help: str = "") -> str:
    """One of OPTIONS, by arrow keys (or j/k, Ctrl-N/Ctrl-P) and Enter; refused options
    are shown with their reason and skipped."""
    takeable = [index for index, option in enumerate(options) if option.refused is None]
    if not takeable:
        raise ValueError("no option can be taken")
    current = [next((index for index in takeable if options[index].value == default), takeable[0])]
    label_width = max(len(option.label) for option in options)

    def choice_lines() -> StyleAndTextTuples:
        column = 3 + label_width + 2
        tokens: StyleAndTextTuples = []
        for index, option in enumerate(options):
            pointed = index == current[0]
            tokens.append(("class:pointer", " » ") if pointed else ("", "   "))
            if pointed:
                tokens.append(("[SetCursorPosition]", ""))
            style = "class:refused" if option.refused else "class:highlighted" if pointed else ""
            tokens.append((style, option.label.ljust(label_width)))
            note = f"✗ {option.refused}" if option.refused else option.description
            lines = _wrap(note, _columns() - column + 2) if note else [""]
            tokens.append(("class:description", lines[0] + "\n"))
            tokens += [("class:description", " " * (column - 2) + line + "\n") for line in lines[1:]]
        tokens[-1] = (tokens[-1][0], tokens[-1][1].rstrip("\n"))
        return tokens

    def move(step: int) -> None:
        position = takeable.index(current[0])
        current[0] = takeable[(position + step) % len(takeable)]

    keys = KeyBindings()
    _abort_keys(keys)
    for key, step in (("down", 1), ("j", 1), ("c-n", 1), ("tab", 1), ("up", -1), ("k", -1), ("c-p", -1),
                      ("s-tab", -1)):
        keys.add(key, eager=True)(lambda event, step=step: move(step))

    @keys.add("enter", eager=True)
    def _(event) -> None:
        event.app.exit(result=options[current[0]].value)

    @keys.add("<any>")
    def _(event) -> None:
        """Typing is not an answer here."""

    question = Window(FormattedTextControl(
        lambda: _question(message, lambda: options[current[0]].label, "(Use arrow keys)")), dont_extend_height=True)
    choices = Window(FormattedTextControl(choice_lines, focusable=True, show_cursor=False), dont_extend_height=True,
                     always_hide_cursor=True)
    body = HSplit([question, ConditionalContainer(choices, filter=~is_done), _note(lambda: help, "class:help")])
    return _run(body, keys, output, choices)


def confirm(message: str, *, output: TextIO, default: bool = True) -> bool:
    """Yes or no by one key (y, n, or Enter for the default)."""
    answer = [default]
    keys = KeyBindings()
    _abort_keys(keys)

    def decide(event, value: bool) -> None:
        answer[0] = value
        event.app.exit(result=value)

    for key, value in (("y", True), ("Y", True), ("n", False), ("N", False), ("enter", default)):
        keys.add(key, eager=True)(lambda event, value=value: decide(event, value))

    @keys.add("<any>")
    def _(event) -> None:
        """Only y, n and Enter answer."""

    hint = "(Y/n)" if default else "(y/N)"
    line = Window(FormattedTextControl(lambda: _question(message, lambda: "Yes" if answer[0] else "No", hint),
                                       focusable=True), dont_extend_height=True)
    return bool(_run(HSplit([line]), keys, output, line))
