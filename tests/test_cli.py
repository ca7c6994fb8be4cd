"""The command line's entry: `yowasm --help` lists every command as the whole app
would, though it builds none of their parameters (yowasm.cli._listing)."""

from __future__ import annotations

import pytest

from tests.conftest import run_yowasm
from yowasm.cli import _command_name, app

WIDE = {"COLUMNS": "100", "TERM": "dumb"}


@pytest.fixture
def full_help(monkeypatch, capsys) -> str:
    """The help of the whole app, every command built, in this process."""
    for name, value in WIDE.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit):
        app(["--help"], prog_name="yowasm")
    return capsys.readouterr().out


@pytest.mark.parametrize("arguments", [["--help"], ["-h"]])
def test_the_root_help_is_the_whole_apps(tmp_path, full_help, arguments):
    result = run_yowasm(*arguments, cwd=tmp_path, env=WIDE)
    assert result.returncode == 0
    assert result.stdout == full_help
    for info in app.registered_commands:
        assert f"\n  {_command_name(info)} " in result.stdout


def test_no_command_shows_the_same_help_and_fails(tmp_path, full_help):
    result = run_yowasm(cwd=tmp_path, env=WIDE)
    assert result.returncode == 2
    assert result.stdout + result.stderr == full_help
