"""The `yowasm` command's entry point (also `python -m yowasm`).

It answers `yowasm --version`, and `yowasm build` of a project whose module is
current (yowasm.build_record), without loading the command line (typer, click), and
when a command is done it exits without tearing the interpreter down: output is
flushed and atexit handlers run, but the thousands of objects the libraries created
are not freed one by one (the operating system reclaims the memory at once).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing and contextlib cost a no-op `build` more than its own work
if TYPE_CHECKING:
    from contextlib import AbstractContextManager


def main() -> None:
    arguments = sys.argv[1:]
    # Shell completion (typer's _YOWASM_COMPLETE) always goes through the command line.
    if arguments in (["--version"], ["-V"]) and "_YOWASM_COMPLETE" not in os.environ:
        from yowasm import __version__

        sys.stdout.write(f"yowasm {__version__}\n")
        _exit_now(0)
    if arguments[:1] == ["build"] and "_YOWASM_COMPLETE" not in os.environ:
        from yowasm.build_record import answer

        if answer(arguments[1:]):  # the module is current, as the last build found it
            _exit_now(0)
    from yowasm.startup import imports_uncollected

    code = 0
    with _head_start(arguments):
        with imports_uncollected("yowasm.cli"):
            from yowasm.cli import main as command_line
        try:
            command_line()
        except SystemExit as exit_:
            if exit_.code is not None and not isinstance(exit_.code, int):
                raise
            code = exit_.code or 0
    _exit_now(code)


def _head_start(arguments: list[str]) -> AbstractContextManager[None]:
    """For a `yowasm new` that will ask nothing (--defaults, or no terminal to ask on),
    copier is imported by another process from now on (yowasm.render_ahead); one that
    asks gets its first question without waiting for it."""
    from contextlib import nullcontext

    asks_nothing = "--defaults" in arguments or sys.stdin is None or not sys.stdin.isatty()
    if arguments[:1] != ["new"] or not asks_nothing or {"-h", "--help"} & set(arguments) \
            or "_YOWASM_COMPLETE" in os.environ:
        return nullcontext()
    from yowasm.render_ahead import head_start

    return head_start()


def _exit_now(code: int) -> None:
    """Exit with CODE without interpreter finalization, once output is safely out and
    nothing else is running; otherwise exit the ordinary way."""
    import atexit

    threading = sys.modules.get("threading")
    if threading is not None and any(not thread.daemon for thread in threading.enumerate()
                                     if thread is not threading.main_thread()):
        raise SystemExit(code)  # let the interpreter wait for those threads
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        raise SystemExit(code) from None  # e.g. a closed pipe: the usual report and code
    os._exit(code)


if __name__ == "__main__":
    main()
