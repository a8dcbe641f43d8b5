"""Model instances read by a statement written out in SQL.

For the few reads that nearly every request makes (an API request's token, a
signed-in user's memberships, an account's groups), building and compiling
the ORM's queryset cost several times the statement itself: joins, an
annotation, each model's default ordering, compiled again on every request.
Written out once at import, the statement's rows become the same instances
the ORM would build (``Model.from_db`` after the fields' own converters).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import DEFAULT_DB_ALIAS, connections


def columns(model, alias: str) -> str:
    """Every concrete column of ``model``, as ``alias.column``, in field order."""
    quote = connections[DEFAULT_DB_ALIAS].ops.quote_name
    return ", ".join(f"{alias}.{quote(f.column)}" for f in model._meta.concrete_fields)


def width(model) -> int:
    """How many values ``columns(model, …)`` selects."""
    return len(model._meta.concrete_fields)


def instance(model, values: Sequence, *, using: str = DEFAULT_DB_ALIAS):
    """A ``model`` instance from ``values`` (in the order of ``columns``),
    converted as the ORM converts what it reads from database ``using``."""
    fields = model._meta.concrete_fields
    database = connections[using]
    converted = []
    for field, value in zip(fields, values, strict=True):
        for converter in field.get_db_converters(database):
            value = converter(value, None, database)
        converted.append(value)
    return model.from_db(using, [f.attname for f in fields], converted)
