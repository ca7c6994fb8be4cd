"""Text that came from outside (registries, files, paths, handlers) made safe to show.

A terminal acts on control characters: ESC starts colour, cursor and title sequences
(OSC 8 hyperlinks, OSC 52 clipboard writes), CR overwrites a line, bidi controls
reorder what is read. `literal` spells every such character out as a Python-style
escape so that what a user sees is exactly what was sent, and nothing acts on it.
"""

from __future__ import annotations

import re
from os import PathLike

# C0 controls but tab and newline, DEL, C1 controls, and Unicode format characters
# that change how the text around them is displayed (bidi embeddings, overrides and
# isolates, zero-width joiners and marks, the BOM, line and paragraph separators).
_UNSAFE = "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]"


def _spell(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def literal(text: object, *, single_line: bool = False) -> str:
    """`text` with every character a terminal would act on spelled out (`\\x1b`);
    with `single_line`, newlines and tabs too."""
    shown = str(text)
    # None of those characters is printable, and most text is: then the pattern (whose
    # compiling takes longer than some whole commands' own work) is not needed.
    if not shown.isprintable():
        shown = re.sub(_UNSAFE, _spell, shown)
    if single_line:
        shown = shown.replace("\t", "\\t").replace("\n", "\\n")
    return shown


#: How much of an outside value a message quotes: enough to recognise it.
QUOTED_CHARS = 120


def quoted(value: object, *, limit: int = QUOTED_CHARS) -> str:
    """VALUE as a message quotes it: its repr, cut after LIMIT characters ("...") so
    that a whole table or file does not flood the terminal, and on one line, spelled
    out by `literal`."""
    shown = repr(value)
    if len(shown) > limit:
        shown = f"{shown[:limit]}..."
    return literal(shown, single_line=True)


def shell_quote(argument: str | PathLike[str]) -> str:
    """One argument quoted for a POSIX shell, left bare when it needs no quotes."""
    import shlex  # only commands that show a command line need it

    return shlex.quote(str(argument))


def shell_command(*arguments: str | PathLike[str]) -> str:
    """A command line a user can paste into a POSIX shell."""
    return " ".join(shell_quote(argument) for argument in arguments)
