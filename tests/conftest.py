"""Shared test helpers: real tools are required, never faked.

In CI (CI=true) a missing tool fails the run; on a developer machine the test is
skipped with the tool's name and how to install it.
"""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tool(name: str, install: str) -> str:
    """The path of NAME on PATH, or a failure in CI / a skip locally saying how to install it."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed: {install}"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
