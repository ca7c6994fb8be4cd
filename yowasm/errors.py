"""The one exception hierarchy of yowasm.

Every error carries a message, a hint and an exit code. Only the CLI entry point
turns them into output and exit codes; core code raises and never prints.
"""

from __future__ import annotations


class YowasmError(Exception):
    """Base of every error yowasm reports to a user."""

    exit_code: int = 1

    def __init__(self, message: str, hint: str | None = None, *, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class UsageError(YowasmError):
    """The command line or an input file is wrong: nothing was done."""

    exit_code = 2


class ValidationError(UsageError):
    """An answer breaks a rule. Names the field, the rule and a valid example."""

    def __init__(self, field: str, value: object, rule: str, example: str):
        self.field = field
        self.value = value
        self.rule = rule
        self.example = example
        from yowasm.text import quoted

        super().__init__(
            f"Invalid {field} {quoted(value)}: {rule}.",
            hint=f"Example of a valid {field}: {example}",
        )


class MissingAnswersError(UsageError):
    """No terminal to ask in, and answers without a default were not given."""

    def __init__(self, flags: list[str]):
        self.flags = flags
        super().__init__(
            "Missing answers with no default and no terminal to ask: " + ", ".join(flags) + ".",
            hint="Pass them as flags, in a --data-file, or run in a terminal to be asked.",
        )


class Aborted(YowasmError):
    """The user interrupted (Ctrl-C); whatever was started has been undone."""

    exit_code = 130

    def __init__(self, message: str = "Aborted: nothing was written.", hint: str | None = None):
        super().__init__(message, hint)


class ProjectError(YowasmError):
    """A directory is not a yowasm project, or the project is inconsistent."""


class DestinationError(UsageError):
    """The destination directory cannot be used as asked."""


class InputFileError(UsageError):
    """A file yowasm was told to read (data file, answers file, modules.toml, env file)
    is unreadable, too large, not text, or not of the shape it must have."""


class FileSystemError(YowasmError):
    """An operating-system call failed: a file or folder that cannot be read or written
    (permissions, a full disk, a missing folder)."""

    @classmethod
    def from_os_error(cls, error: OSError) -> FileSystemError:
        where = f": {error.filename}" if error.filename else ""
        return cls(f"{error.strerror or error}{where}.")


class TemplateError(YowasmError):
    """Rendering a template failed; the destination was left as it was."""


class ToolError(YowasmError):
    """An external tool (compiler, package manager) is missing or failed."""


class BuildError(ToolError):
    """A project's build failed; the tool's own output was shown."""


class ModuleError(YowasmError):
    """A WebAssembly module could not be loaded, linked or run."""


class RegistryError(YowasmError):
    """An OCI registry refused a request or could not be reached."""


class RegistryUnavailable(RegistryError):
    """The registry could not be reached or failed (5xx): trying again may work."""


class InvalidReferenceError(UsageError):
    """An OCI reference does not follow the grammar."""


class AuthError(RegistryError):
    """Credentials were missing, wrong or not allowed to do what was asked."""


class ServeError(YowasmError):
    """The WAGI gateway could not start or its configuration is wrong."""
