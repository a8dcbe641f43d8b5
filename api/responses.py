"""The error responses every operation declares, so that the OpenAPI document
lists each one a client can meet (docs/api.md, "Errors")."""

from __future__ import annotations

from api.problems import Problem

#: Every authenticated operation can answer these (400: a body that is not JSON).
COMMON = {400: Problem, 401: Problem, 422: Problem, 429: Problem, 500: Problem}


def answers(ok: dict, *statuses: int) -> dict:
    """``ok`` (status → schema) plus the common problems and ``statuses``."""
    return {**ok, **COMMON, **dict.fromkeys(statuses, Problem)}
