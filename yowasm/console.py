"""Everything yowasm shows or asks a person: rich output, and prompts (drawn by yowasm.prompting).

rich is imported only when something is drawn with it: importing it takes longer than
pushing a 1 MB module to a local registry, and the lines of the quick commands
(publish, build, run) are written as plain text wherever rich would not style them
(pipes, files, CI logs)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator, TextIO, Union

from yowasm.text import literal, shell_command

if TYPE_CHECKING:
    from rich.console import Console
    from rich.tree import Tree

    from yowasm.build import BuildResult
    from yowasm.transfer import Published, Pulled
    from yowasm.doctor import Diagnosis
    from yowasm.errors import YowasmError
    from yowasm.questionnaire import AnswerCheck, Question
    from yowasm.publishing import Login, Logout
    from yowasm.scaffold import Scaffold
    from yowasm.updating import Update
    from yowasm.vcs import GitResult

#: The width rich lays piped or logged output out in: wide enough that no line is
#: wrapped and no URL, path or command split (a terminal gets its own width).
UNWRAPPED = 10_000


class _LazyConsole:
    """A rich Console for stdout or stderr, made on first use."""

    def __init__(self, stream: str):
        self._stream = stream
        self._console: Console | None = None

    def rich(self) -> Console:
        """The Console itself (for rich objects that take one)."""
        if self._console is None:
            from rich.console import Console

            # emoji=False: a path or file content such as `root:x:0:0` is shown as it is, never as an
            # emoji code (`:x:`).
            self._console = Console(highlight=False, emoji=False, stderr=self._stream == "stderr",
                                    width=None if getattr(sys, self._stream).isatty() else UNWRAPPED)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.rich(), name)


out = _LazyConsole("stdout")
err = _LazyConsole("stderr")


def escape(text: str) -> str:
    """TEXT with rich markup's brackets escaped."""
    from rich.markup import escape as escape_markup

    return escape_markup(text)


def _unstyled(stream: TextIO) -> bool:
    """Whether rich would write to STREAM nothing but the text: not a terminal, and
    neither TTY_COMPATIBLE=1 nor FORCE_COLOR says otherwise (rich's own rules)."""
    compatible = os.environ.get("TTY_COMPATIBLE", "")
    if compatible in ("0", "1"):
        return compatible == "0"
    force_color = os.environ.get("FORCE_COLOR")
    if force_color is not None:
        return force_color == ""
    try:
        return not stream.isatty()
    except ValueError:  # closed
        return True


#: A part of a line: literal text, or (style, literal text).
Part = Union[str, tuple[str, str]]


def _line(console: _LazyConsole, *parts: Part, soft_wrap: bool = True) -> None:
    """One line of parts (made literal by the caller): drawn by rich where it styles
    its output, else written as it is, without importing rich."""
    stream = getattr(sys, console._stream)
    if _unstyled(stream):
        stream.write("".join(part if isinstance(part, str) else part[1] for part in parts) + "\n")
        return
    console.print("".join(escape(part) if isinstance(part, str) else f"[{part[0]}]{escape(part[1])}[/]"
                          for part in parts), soft_wrap=soft_wrap)


_terminal: TextIO | None = None


def prompt_stream() -> TextIO | None:
    """Where prompts are drawn: the terminal the answers are typed on. That is stdout,
    else stderr when stdout is a pipe (`yowasm new x | tee log`), else the terminal
    itself (`> log 2>&1`); None when stdin is not a terminal."""
    global _terminal
    if not sys.stdin.isatty():
        return None
    for stream in (sys.stdout, sys.stderr):
        if stream.isatty():
            return stream
    if _terminal is None:
        try:
            _terminal = open("/dev/tty", "w", encoding="utf-8")  # noqa: SIM115 (kept for the process)
        except OSError:
            return None
    return _terminal


def _shown(value: object, *, single_line: bool = True) -> str:
    """Outside text (a path, a name, a registry's words, file contents) for rich:
    no markup, no terminal control characters, on one line unless told otherwise."""
    return escape(literal(value, single_line=single_line))


def is_interactive() -> bool:
    return prompt_stream() is not None


def print_error(error: YowasmError) -> None:
    # Wrapped at words in a terminal; never in a pipe or log (see UNWRAPPED), so they can be grepped.
    err.print(f"[bold red]Error:[/] {_shown(error.message, single_line=False)}")
    if error.hint:
        err.print(f"[dim]{_shown(error.hint, single_line=False)}[/]")


def ask(question: Question, default: str | None, check: AnswerCheck) -> str:
    """Ask one question at the terminal: its help under it, and an answer that CHECK
    refuses is refused at the prompt with the reason."""
    from yowasm import prompting
    from yowasm.questionnaire import choice_descriptions, rule_of

    def refusal(text: str) -> str | None:
        return _refusal(check, text, short=False)

    output = prompt_stream() or sys.stderr
    with _aborting():
        if not question.choices:
            return prompting.text(question.prompt, output=output, default=default or "",
                                  help=question.help or rule_of(check), refuse=refusal)
        descriptions = choice_descriptions(question.key)
        options = [prompting.Option(choice, choice, descriptions.get(choice, ""), _refusal(check, choice, short=True))
                   for choice in question.choices]
        if question.other_prompt:
            options.append(prompting.Option("", "other…", descriptions.get("other", "")))
        if all(option.refused for option in options):
            check(question.choices[0])  # raises: no choice goes with the answers given
        answer = prompting.select(question.prompt, options, output=output, default=default, help=question.help)
        if answer == "" and question.other_prompt:
            answer = prompting.text(question.other_prompt, output=output, help=rule_of(check), refuse=refusal)
        return answer


def _refusal(check: AnswerCheck, text: str, *, short: bool) -> str | None:
    from yowasm.errors import ValidationError, YowasmError

    try:
        check(text)
    except ValidationError as error:
        return error.rule if short else f"{error.message} {error.hint or ''}".strip()
    except YowasmError as error:
        return error.message if short else f"{error.message} {error.hint or ''}".strip()
    return None


@contextmanager
def _aborting(message: str | None = None) -> Iterator[None]:
    from yowasm.errors import Aborted

    try:
        yield
    except (KeyboardInterrupt, EOFError):
        raise (Aborted(message) if message else Aborted()) from None


def confirm(prompt: str, *, default: bool = True) -> bool:
    from yowasm import prompting

    with _aborting("Aborted."):
        return prompting.confirm(prompt, output=prompt_stream() or sys.stderr, default=default)


def _tree(root: Path, files: list[Path]) -> Tree:
    from rich.tree import Tree

    tree = Tree(f"[bold]{_shown(root)}[/]")
    nodes: dict[Path, Tree] = {Path(): tree}
    for relative in sorted(files):
        for depth in range(1, len(relative.parts) + 1):
            part = Path(*relative.parts[:depth])
            if part not in nodes:
                label = _shown(part.name) + ("/" if depth < len(relative.parts) else "")
                nodes[part] = nodes[part.parent].add(label)
    return tree


def show_scaffold(scaffold: Scaffold, *, git: GitResult | None = None) -> None:
    answers = scaffold.answers
    out.print(_tree(scaffold.display_path, scaffold.files))
    reference = answers.repository
    out.print(
        f"\n[bold green]Created[/] {answers.language.title} {_shown(answers.runtime.value)} project "
        f"[bold]{_shown(answers.name)}[/]"
        + (f" → {_shown(reference)}" if reference else "")
    )
    if scaffold.replaced:
        count = len(scaffold.replaced)
        out.print(f"[yellow]Replaced {count} existing file{'s' if count > 1 else ''}[/] (--force):")
        for path in scaffold.replaced:
            out.print(f"  {_shown(path.as_posix())}")
    if git is not None:
        _show_git(git)
    out.print("\n[bold]Next steps[/]")
    for label, command in scaffold.next_steps:
        out.print(f"  [dim]{label:<8}[/] {_shown(command)}")


def _show_git(git: GitResult) -> None:
    from yowasm.text import literal, shell_command
    from yowasm.vcs import FIRST_COMMIT_MESSAGE, GitOutcome

    detail = escape(literal(git.detail, single_line=True))
    branch = escape(literal(git.branch))
    lines = {
        GitOutcome.COMMITTED: f"Git: a new repository on branch {branch} with a first commit",
        GitOutcome.NO_IDENTITY: f"Git: a new repository on branch {branch}, [yellow]no commit[/]: "
                                "git does not know your name and email yet",
        GitOutcome.NOT_COMMITTED: f"Git: a new repository on branch {branch}, [yellow]no commit[/]: {detail}",
        GitOutcome.INSIDE_WORK_TREE: f"Git: no repository made, the project is inside the work tree of {detail}"
                                     " [dim](--force-git-init makes one anyway)[/]",
        GitOutcome.EXISTING: f"Git: {detail} is a repository already; nothing was committed",
        GitOutcome.NO_GIT: "Git: git is not installed; no repository made",
        GitOutcome.FAILED: f"Git: [yellow]git failed[/]: {detail}",
    }
    out.print(lines[git.outcome], soft_wrap=True)
    commit = shell_command("git", "add", ".") + " && " + shell_command("git", "commit", "-m", FIRST_COMMIT_MESSAGE)
    if git.outcome is GitOutcome.NO_IDENTITY:
        out.print('[dim]Tell git who you are (git config --global user.name "Your Name" and '
                  f"git config --global user.email you@example.com), then: {escape(commit)}[/]", soft_wrap=True)
    elif git.outcome is GitOutcome.NOT_COMMITTED:
        out.print(f"[dim]Commit by hand: {escape(commit)}[/]", soft_wrap=True)


def show_update(update: Update) -> None:
    from collections import Counter

    from yowasm.updating import CONFLICT_SUFFIX, Change

    styles = {Change.ADDED: "green", Change.UPDATED: "green", Change.REMOVED: "yellow",
              Change.CONFLICT: "bold red", Change.PENDING: "bold red", Change.LEFT: "yellow",
              Change.SKIPPED: "dim", Change.KEPT: "dim"}
    for key, before, after in update.answer_changes:
        out.print(f"  [bold]{_shown(key)}[/]: {_shown(before)} → {_shown(after)}", soft_wrap=True)
    for path, change in update.changes:
        if change is not Change.UNCHANGED:
            out.print(f"  [{styles[change]}]{change.value:<9}[/] {_shown(path)}", soft_wrap=True)
    tally = Counter(change for _, change in update.changes)
    counts = ", ".join(f"{tally[change]} {change.value}" for change in Change if tally[change])
    versions = f"templates {_shown(update.from_version or 'unknown')} → {_shown(update.to_version)}"
    verb = "Would update" if update.dry_run else "Updated"
    if not update.changed:
        out.print(f"[bold green]Up to date[/] {_shown(update.name)} ({versions}; {counts})", soft_wrap=True)
    else:
        out.print(f"\n[bold green]{verb}[/] {_shown(update.name)} ({versions}): {counts}", soft_wrap=True)
    for path in update.paths(Change.CONFLICT):
        theirs = path + CONFLICT_SUFFIX
        if update.dry_run:
            out.print(f"[bold red]Would write[/] {_shown(theirs)} [dim](the templates' version, to merge by hand)[/]",
                      soft_wrap=True)
        else:
            out.print(f"[bold red]Merge by hand:[/] {_shown(shell_command('diff', '-u', path, theirs))}"
                      f"  [dim](then delete {_shown(theirs)})[/]", soft_wrap=True)
    _show_pending_merges(update.pending, "from an earlier update, kept as it is")
    if update.dry_run and update.changed:
        out.print("[dim]Nothing was written (--dry-run).[/]")


def _show_pending_merges(paths: tuple[str, ...] | list[str], note: str) -> None:
    from yowasm.project import CONFLICT_SUFFIX

    for path in paths:
        theirs = path + CONFLICT_SUFFIX
        out.print(f"[yellow]Pending merge[/] ({note}): {_shown(shell_command('diff', '-u', path, theirs))}"
                  f"  [dim](then delete {_shown(theirs)})[/]", soft_wrap=True)


def show_built(result: BuildResult, *, stderr: bool = False) -> None:
    console = err if stderr else out
    try:
        shown = result.module.relative_to(Path.cwd())
    except ValueError:
        shown = result.module
    from yowasm.build_record import UP_TO_DATE  # also printed from there, before this module loads

    done = "Built" if result.commands else UP_TO_DATE
    _line(console, ("bold green", done), f" {literal(shown, single_line=True)} ({result.size:,} bytes)",
          soft_wrap=False)


def show_diagnosis(diagnosis: Diagnosis) -> None:
    from rich.table import Table

    from yowasm.doctor import Status

    marks = {Status.OK: "[green]ok[/]", Status.MISSING: "[red]missing[/]", Status.UNCHECKED: "[dim]-[/]",
             Status.PENDING: "[yellow]pending[/]"}
    table = Table(show_lines=False, header_style="bold")
    for column in ("language", "tool", "status", "found", "install"):
        table.add_column(column, overflow="fold")
    for finding in diagnosis.findings:
        status = marks[finding.status]
        if finding.status is Status.MISSING and finding.optional:
            status = "[yellow]optional[/]"
        table.add_row(
            finding.language.title,
            _shown(finding.name),
            status,
            _shown(finding.found),
            _shown(finding.install) if finding.status is not Status.OK else "",
        )
    out.print(table)
    languages = dict.fromkeys(finding.language for finding in diagnosis.findings)
    for language in languages:
        verdict = "[green]ready[/]" if diagnosis.complete(language) else "[red]incomplete[/]"
        out.print(f"{language.title}: {verdict}")
    _show_pending_merges(diagnosis.pending_merges, "from yowasm update")


@contextmanager
def transfer_progress(label: str) -> Iterator[Callable[[int], Callable[[int], None]] | None]:
    """A factory of byte-progress callbacks drawing a rich bar; None when stderr is not
    a terminal (logs and pipes get no bar)."""
    if _unstyled(sys.stderr):
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), console=err.rich(), transient=True) as progress:

        def start(total: int) -> Callable[[int], None]:
            task = progress.add_task(label, total=total)
            return lambda sent: progress.advance(task, sent)

        yield start


def show_published(published: Published) -> None:
    _line(out, ("bold green", "Pushed"), " " + literal(published.reference, single_line=True))
    _line(out, "Digest: " + literal(published.digest, single_line=True))
    _line(out, ("dim", f"{published.size:,} bytes, {published.uploaded_bytes:,} uploaded"))


def show_pulled(pulled: Pulled) -> None:
    out.print(f"[bold green]Pulled[/] {_shown(pulled.reference)} → {_shown(pulled.path)} "
              f"({pulled.size:,} bytes, {pulled.layout.value} layout)", soft_wrap=True)
    out.print(f"Digest: {_shown(pulled.digest)}", soft_wrap=True)


def show_logged_in(login: Login) -> None:
    checked = {True: "checked by the registry", False: "the registry asks for none",
               None: "not checked"}[login.accepted]
    out.print(f"[bold green]Logged in[/] to {_shown(login.registry)} as {_shown(login.username)} "
              f"({checked}; stored in {_shown(login.path)})", soft_wrap=True)


def show_logged_out(logout: Logout) -> None:
    from yowasm.text import literal

    if logout.removed:
        out.print(f"[bold green]Logged out[/] of {escape(logout.registry)} (removed from "
                  f"{escape(literal(logout.path))})", soft_wrap=True)
    else:
        out.print(f"Not logged in to {escape(logout.registry)} (nothing stored in {escape(literal(logout.path))})",
                  soft_wrap=True)


def ask_text(prompt: str) -> str:
    from yowasm import prompting

    with _aborting("Aborted."):
        return prompting.text(prompt, output=prompt_stream() or sys.stderr)


def ask_secret(prompt: str) -> str:
    from yowasm import prompting

    with _aborting("Aborted."):
        return prompting.text(prompt, output=prompt_stream() or sys.stderr, secret=True)


def show_serving(url: str, routes: list[tuple[str, str, str]]) -> None:
    err.print(f"[bold green]Serving[/] on {url}  [dim](Ctrl-C stops)[/]", soft_wrap=True)
    for route, source, entrypoint in routes:
        suffix = f" [dim]({_shown(entrypoint)})[/]" if entrypoint != "_start" else ""
        err.print(f"  {_shown(route):<24} → {_shown(source)}{suffix}", soft_wrap=True)


def log_line(message: str) -> None:
    shown = _shown(message, single_line=False)
    err.print(f"[yellow]{shown}[/]" if err.is_terminal else shown, soft_wrap=True, highlight=False)


def access_logger() -> Callable[[str, str, int, float], None]:
    """One line per request: method, path, status, duration; coloured in a terminal."""
    import sys

    if not err.is_terminal:
        def plain(method: str, path: str, status: int, seconds: float) -> None:
            sys.stderr.write(f"{literal(method, single_line=True)} {literal(path, single_line=True)} {status} "
                             f"{seconds * 1000:.1f}ms\n")
            sys.stderr.flush()

        return plain

    def rich_line(method: str, path: str, status: int, seconds: float) -> None:
        colour = "green" if status < 400 else "yellow" if status < 500 else "red"
        err.print(f"{_shown(method)} {_shown(path)} [{colour}]{status}[/] [dim]{seconds * 1000:.1f}ms[/]", soft_wrap=True)

    return rich_line
