"""The `yowasm` command's entry point (also `python -m yowasm`).

It answers `yowasm --version` without loading the command line (typer, click), and
when a command is done it exits without tearing the interpreter down: output is
flushed and atexit handlers run, but the thousands of objects the libraries created
are not freed one by one (the operating system reclaims the memory at once).
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    arguments = sys.argv[1:]
    # Shell completion (typer's _YOWASM_COMPLETE) always goes through the command line.
    if arguments in (["--version"], ["-V"]) and "_YOWASM_COMPLETE" not in os.environ:
        from yowasm import __version__

        sys.stdout.write(f"yowasm {__version__}\n")
        _exit_now(0)
    from yowasm.startup import imports_uncollected

    with imports_uncollected("yowasm.cli"):
        from yowasm.cli import main as command_line
    try:
        command_line()
    except SystemExit as exit_:
        if exit_.code is not None and not isinstance(exit_.code, int):
            raise
        _exit_now(exit_.code or 0)
    _exit_now(0)


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
