"""Everything yowasm shows or asks a person: rich output, and prompts (drawn by yowasm.prompting)."""

from __future__ import annotations

import sys
from pathlib import Path
from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Iterator, TextIO

from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

if TYPE_CHECKING:
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


def _console(stream: TextIO, **options: object) -> Console:
    return Console(highlight=False, width=None if stream.isatty() else UNWRAPPED, **options)


out = _console(sys.stdout)
err = _console(sys.stderr, stderr=True)


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


def is_interactive() -> bool:
    return prompt_stream() is not None


def print_error(error: YowasmError) -> None:
    # Wrapped at words in a terminal; never in a pipe or log (see UNWRAPPED), so they can be grepped.
    err.print(f"[bold red]Error:[/] {escape(error.message)}")
    if error.hint:
        err.print(f"[dim]{escape(error.hint)}[/]")


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
    tree = Tree(f"[bold]{escape(str(root))}[/]")
    nodes: dict[Path, Tree] = {Path(): tree}
    for relative in sorted(files):
        for depth in range(1, len(relative.parts) + 1):
            part = Path(*relative.parts[:depth])
            if part not in nodes:
                label = escape(part.name) + ("/" if depth < len(relative.parts) else "")
                nodes[part] = nodes[part.parent].add(label)
    return tree


def show_scaffold(scaffold: Scaffold, *, git: GitResult | None = None) -> None:
    answers = scaffold.answers
    out.print(_tree(scaffold.display_path, scaffold.files))
    reference = answers.repository
    out.print(
        f"\n[bold green]Created[/] {answers.language.title} {escape(answers.runtime.value)} project "
        f"[bold]{escape(answers.name)}[/]"
        + (f" → {escape(reference)}" if reference else "")
    )
    if git is not None:
        _show_git(git)
    out.print("\n[bold]Next steps[/]")
    for label, command in scaffold.next_steps:
        out.print(f"  [dim]{label:<8}[/] {escape(command)}")


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
              Change.CONFLICT: "bold red", Change.LEFT: "yellow", Change.SKIPPED: "dim", Change.KEPT: "dim"}
    for key, before, after in update.answer_changes:
        out.print(f"  [bold]{escape(key)}[/]: {escape(before)} → {escape(after)}", soft_wrap=True)
    for path, change in update.changes:
        if change is not Change.UNCHANGED:
            out.print(f"  [{styles[change]}]{change.value:<9}[/] {escape(path)}", soft_wrap=True)
    tally = Counter(change for _, change in update.changes)
    counts = ", ".join(f"{tally[change]} {change.value}" for change in Change if tally[change])
    versions = f"templates {update.from_version or 'unknown'} → {update.to_version}"
    verb = "Would update" if update.dry_run else "Updated"
    if not update.changed:
        out.print(f"[bold green]Up to date[/] {escape(update.name)} ({versions}; {counts})", soft_wrap=True)
        return
    out.print(f"\n[bold green]{verb}[/] {escape(update.name)} ({versions}): {counts}", soft_wrap=True)
    for path in update.paths(Change.CONFLICT):
        out.print(f"[bold red]Merge by hand:[/] diff -u {escape(path)} {escape(path + CONFLICT_SUFFIX)}"
                  f"  [dim](then delete {escape(path + CONFLICT_SUFFIX)})[/]", soft_wrap=True)
    if update.dry_run:
        out.print("[dim]Nothing was written (--dry-run).[/]")


def show_built(result: BuildResult, *, stderr: bool = False) -> None:
    console = err if stderr else out
    try:
        shown = result.module.relative_to(Path.cwd())
    except ValueError:
        shown = result.module
    console.print(f"[bold green]Built[/] {escape(str(shown))} ({result.size:,} bytes)")


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
            escape(finding.name),
            status,
            escape(finding.found),
            escape(finding.install) if finding.status is not Status.OK else "",
        )
    out.print(table)
    languages = dict.fromkeys(finding.language for finding in diagnosis.findings)
    for language in languages:
        verdict = "[green]ready[/]" if diagnosis.complete(language) else "[red]incomplete[/]"
        out.print(f"{language.title}: {verdict}")


@contextmanager
def transfer_progress(label: str) -> Iterator[Callable[[int], Callable[[int], None]] | None]:
    """A factory of byte-progress callbacks drawing a rich bar; None when stderr is not
    a terminal (logs and pipes get no bar)."""
    if not err.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), console=err, transient=True) as progress:

        def start(total: int) -> Callable[[int], None]:
            task = progress.add_task(label, total=total)
            return lambda sent: progress.advance(task, sent)

        yield start


def show_published(published: Published) -> None:
    out.print(f"[bold green]Pushed[/] {escape(str(published.reference))}", soft_wrap=True)
    out.print(f"Digest: {published.digest}", soft_wrap=True)
    out.print(f"[dim]{published.size:,} bytes, {published.uploaded_bytes:,} uploaded[/]", soft_wrap=True)


def show_pulled(pulled: Pulled) -> None:
    out.print(f"[bold green]Pulled[/] {escape(str(pulled.reference))} → {escape(str(pulled.path))} "
              f"({pulled.size:,} bytes, {pulled.layout.value} layout)", soft_wrap=True)
    out.print(f"Digest: {pulled.digest}", soft_wrap=True)


def show_logged_in(login: Login) -> None:
    checked = {True: "checked by the registry", False: "the registry asks for none",
               None: "not checked"}[login.accepted]
    out.print(f"[bold green]Logged in[/] to {escape(login.registry)} as {escape(login.username)} "
              f"({checked}; stored in {escape(str(login.path))})", soft_wrap=True)


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
        suffix = f" [dim]({escape(entrypoint)})[/]" if entrypoint != "_start" else ""
        err.print(f"  {escape(route):<24} → {escape(source)}{suffix}", soft_wrap=True)


def log_line(message: str) -> None:
    err.print(f"[yellow]{escape(message)}[/]" if err.is_terminal else message, soft_wrap=True, highlight=False)


def access_logger() -> Callable[[str, str, int, float], None]:
    """One line per request: method, path, status, duration; coloured in a terminal."""
    import sys

    if not err.is_terminal:
        def plain(method: str, path: str, status: int, seconds: float) -> None:
            sys.stderr.write(f"{method} {path} {status} {seconds * 1000:.1f}ms\n")
            sys.stderr.flush()

        return plain

    def rich_line(method: str, path: str, status: int, seconds: float) -> None:
        colour = "green" if status < 400 else "yellow" if status < 500 else "red"
        err.print(f"{method} {escape(path)} [{colour}]{status}[/] [dim]{seconds * 1000:.1f}ms[/]", soft_wrap=True)

    return rich_line
