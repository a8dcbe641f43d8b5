"""SQL written in strings names only tables that exist, and the modules that
write SQL take table names from the models (``_meta.db_table``), never as text.

The string constants of every module are read with ``ast`` (f-strings give
their literal parts), and the module-level strings once more after import,
where f-strings are formatted: a table constant built from a model then shows
the name it holds."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("inventory", "jobs", "portal", "config", "network")

#: The tables of our own apps, which SQL names through ``Model._meta.db_table``.
OWN_TABLE_PREFIXES = ("inventory_", "portal_", "jobs_", "network_")

# An uppercase SQL keyword, then a table name (optionally quoted); not a call
# such as ``FROM unnest(...)``, nor a template's ``search_{n}``.
_REFERENCE = re.compile(
    r"\b(?:FROM|JOIN|INTO|UPDATE|COPY|TABLE(?: IF EXISTS)?)\s+"
    r'"?([A-Za-z_][\w.]*)"?(?![\w"]*\s*[({])'
)
# A table placeholder left in a string that is not an f-string: sent as it is.
_UNFORMATTED = re.compile(r"\b(?:FROM|JOIN|INTO|UPDATE|COPY|TABLE)\s+\{_[A-Z_]+\}")
# Names a statement defines for itself: CTEs (``name AS (``, ``name(a, b) AS (``).
_CTE = re.compile(r"\b([A-Za-z_]\w*)\s*(?:\([\w\s,]*\))?\s+AS\s+(?:MATERIALIZED\s+)?\(")


def _modules() -> list[Path]:
    return sorted(
        path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts
    )


def _literal_strings(path: Path) -> list[str]:
    """Every string constant of the module, f-strings as their literal parts."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def _formatted_strings(path: Path) -> list[str]:
    """The module-level strings (and tuples of them) as they are after import."""
    if path.parts[-len(path.relative_to(ROOT).parts)] == "config":
        return []  # settings modules: importing another one reconfigures Django
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    module = importlib.import_module(name)
    values: list[str] = []
    for key, value in vars(module).items():
        if key.startswith("__"):
            continue  # the docstring is prose
        if isinstance(value, str):
            values.append(value)
        elif isinstance(value, tuple):
            values.extend(str(item) for item in value)
    return values


def table_references(strings: list[str]) -> set[str]:
    """The tables the SQL in ``strings`` names, less the CTEs it defines."""
    names: set[str] = set()
    ctes: set[str] = set()
    for text in strings:
        names.update(_REFERENCE.findall(text))
        ctes.update(_CTE.findall(text))
    return {
        name
        for name in names - ctes
        if "." not in name and not name.startswith("pg_") and name.lower() == name
    }


def _known_tables() -> set[str]:
    with connection.cursor() as cursor:
        return {table.name for table in connection.introspection.get_table_list(cursor)}


@pytest.mark.django_db
@pytest.mark.parametrize("path", _modules(), ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_table_named_in_sql_exists(path):
    strings = _literal_strings(path) + _formatted_strings(path)
    missing = table_references(strings) - _known_tables()
    assert not missing, f"{path.relative_to(ROOT)} names tables that do not exist: {missing}"


@pytest.mark.parametrize("path", _modules(), ids=lambda path: path.relative_to(ROOT).as_posix())
def test_sql_takes_table_names_from_the_models(path):
    literal = {
        name
        for name in table_references(_literal_strings(path))
        if name.startswith(OWN_TABLE_PREFIXES)
    }
    assert not literal, f"{path.relative_to(ROOT)} spells out table names: {literal}"


def test_a_missing_table_is_found():
    assert table_references(['SELECT id FROM "inventory_nosuch" n JOIN x_y ON true']) == {
        "inventory_nosuch",
        "x_y",
    }
    assert table_references(["WITH want AS (SELECT 1) SELECT * FROM want"]) == set()
    assert table_references(["SELECT * FROM unnest(%(ids)s::bigint[])"]) == set()


@pytest.mark.parametrize("path", _modules(), ids=lambda path: path.relative_to(ROOT).as_posix())
def test_no_table_placeholder_is_left_unformatted(path):
    left = [text for text in _literal_strings(path) if _UNFORMATTED.search(text)]
    assert not left, f"{path.relative_to(ROOT)} has a string that is not an f-string: {left}"
