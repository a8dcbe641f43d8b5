"""A CSV cell a spreadsheet will not run: every export (the endpoint list's,
the audit log's) writes text a user typed through ``neutralise``.

Cells that a spreadsheet would read as a formula (starting with = + - @, tab or
carriage return) get a leading apostrophe: a name like ``=HYPERLINK(...)`` typed
into the portal must not run when an operator opens the export.
"""

from __future__ import annotations

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_START) else value
