"""A head start for `yowasm new` when it will ask nothing: copier is imported in a
forked process, on the machine's other core, while this one reads the command line
and works out the answers.

Importing copier is about half the time of `yowasm new --defaults`, and rich, the
questionnaire and the answers another fifth; neither needs the other. The forked
process imports copier, waits for the one render it is sent, renders (with
yowasm.render, as this process would), and exits. It is only a head start: when it is
not there (no fork, or it was stopped or failed), this process renders the template
itself, which gives the same files and raises the same errors. A prompting `new`
starts none, so that its first question never waits for a busy core.
"""

from __future__ import annotations

import os
import signal
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

#: The most a request (template folder, target, answers) may take; answers are short.
REQUEST_BYTES = 1024 * 1024

_started: RendererProcess | None = None


class RendererProcess:
    """The forked process, from this side: it renders once, or is stopped."""

    def __init__(self, pid: int, requests: int):
        self._pid: int | None = pid
        self._requests: int | None = requests

    @classmethod
    def start(cls) -> RendererProcess | None:
        """The process, started; None where there is no fork, or no second core for it
        to run on (it would then only add its own cost)."""
        if not hasattr(os, "fork") or _cores() < 2:
            return None
        sys.stdout.flush()  # nothing buffered may be written twice
        sys.stderr.flush()
        read_end, write_end = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            return None
        if pid == 0:
            os.close(write_end)
            _serve(read_end)  # never returns
        os.close(read_end)
        return cls(pid, write_end)

    def render(self, templates: Path, target: Path, data: dict[str, Any]) -> bool:
        """Have the process render TEMPLATES into TARGET (which must not exist); True
        when it did. When it did not, nothing of its work is left in TARGET."""
        if self._pid is None or self._requests is None:
            return False
        import shutil

        request = _request(templates, target, data)
        if request is None:
            self.stop()
            return False
        try:
            _write_all(self._requests, request)
        except OSError:  # the process is gone (stopped, or failed while importing)
            pass
        finally:
            os.close(self._requests)
            self._requests = None
        try:
            rendered = self._wait() == 0
        except BaseException:  # an interrupt while it renders: it stops before anything is cleaned up
            self.stop()
            raise
        if not rendered:
            shutil.rmtree(target, ignore_errors=True)
        return rendered

    def stop(self) -> None:
        """Stop the process and wait until it is gone, so that nothing it would still
        write comes after a clean-up; a signal meanwhile takes effect afterwards."""
        from yowasm import interrupts

        with interrupts.deferred():
            if self._requests is not None:
                os.close(self._requests)
                self._requests = None
            if self._pid is not None:
                try:
                    os.kill(self._pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self._wait()

    def _wait(self) -> int:
        _, status = os.waitpid(self._pid, 0)
        self._pid = None  # only once it is reaped: an interrupted wait leaves it to stop()
        return os.waitstatus_to_exitcode(status)


@contextmanager
def head_start() -> Iterator[None]:
    """Inside the block, `render` uses a process started now that imports copier (see
    RendererProcess.start); it is stopped when the block ends unused."""
    global _started
    process = RendererProcess.start() if _started is None else None
    if process is None:
        yield
        return
    _started = process
    try:
        yield
    finally:
        _started = None
        process.stop()


def render(templates: Path, target: Path, data: dict[str, Any]) -> None:
    """yowasm.render.render_template, by the head-start process when there is one."""
    global _started
    process, _started = _started, None
    if process is not None and not os.path.lexists(target) and process.render(templates, target, data):
        return
    if process is not None:
        process.stop()
    from yowasm.render import render_template

    render_template(templates, target, data)


def _request(templates: Path, target: Path, data: dict[str, Any]) -> bytes | None:
    """The render, as JSON for the other side; None when JSON would not carry it exactly
    (a tuple among the answers, say) or it is longer than any answers are."""
    import json

    fields = {"templates": str(templates), "target": str(target), "data": data}
    try:
        request = json.dumps(fields).encode()
    except (TypeError, ValueError):
        return None
    if len(request) > REQUEST_BYTES or json.loads(request) != fields:
        return None
    return request


def _serve(requests: int) -> None:
    """The forked process: import copier, render the one request, exit (0: rendered)."""
    code = 1
    try:
        # This side never decides about interrupts: the other one stops it.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for signum in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)):
            if signum is not None:
                signal.signal(signum, signal.SIG_DFL)
        import json

        from yowasm.render import import_copier, render_template

        import_copier()
        request = _read_all(requests, REQUEST_BYTES)
        if request:
            fields = json.loads(request)
            render_template(Path(fields["templates"]), Path(fields["target"]), fields["data"])
            code = 0
    except BaseException:  # noqa: BLE001 (any failure: the other side renders itself, and reports it)
        code = 1
    finally:
        os._exit(code)  # neither atexit handlers nor buffered output of the other side


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view):]


def _read_all(descriptor: int, limit: int) -> bytes:
    chunks, size = [], 0
    while size <= limit:
        chunk = os.read(descriptor, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    return b""  # longer than any request this side sends
