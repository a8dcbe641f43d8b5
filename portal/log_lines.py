"""What a log line may hold: printable text only, one record per line.

A request's path, a username or an exception's message can carry a newline, a
carriage return or a terminal escape; written raw, it starts a line of its own
that reads like any other record (a forged ``action=terminate changed=12000``).
The console formatter therefore escapes every character that is not printable,
whoever logged it (our code, Django, django-axes), and indents a traceback's
lines, so only the first line of a record starts at the margin.
"""

from __future__ import annotations

import logging

_INDENT = "    "


def printable(text: str) -> str:
    """``text`` with every non-printable character (controls, line and paragraph
    separators, bidi overrides) written as its Python escape, e.g. ``\\n``."""
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )


def _indented(text: str) -> str:
    return "\n".join(_INDENT + printable(line) for line in text.splitlines())


class OneLineFormatter(logging.Formatter):
    """The standard formatter, with the record's line made printable and its
    traceback or stack indented beneath it."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return printable(super().formatMessage(record))

    def format(self, record: logging.LogRecord) -> str:
        # The line itself holds no newline now, so the first one starts the
        # traceback (which another handler may have rendered and cached already).
        line, _, details = super().format(record).partition("\n")
        return f"{line}\n{_indented(details)}" if details else line
