"""config.postgresql: timestamptz values parsed by psycopg's C loader read
exactly as Django's own loader reads them."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import BaseTzLoader

from config.postgresql.base import UtcTimestamptzLoader

pytestmark = pytest.mark.django_db

TEXTS = [
    "2026-12-07 19:03:13+00",
    "2026-12-07 19:03:13.000001+00",
    "2026-12-07 19:03:13.5+00",
    "1970-01-01 00:00:00+00",
    "2000-02-29 23:59:59.999999+00",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
]


def test_every_connection_reads_timestamptz_with_the_c_parser():
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(1184, 0)
    assert loader is UtcTimestamptzLoader


def test_values_are_those_of_djangos_loader_in_utc():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT t::timestamptz FROM unnest(%s::text[]) WITH ORDINALITY AS x(t, n) ORDER BY n",
            [TEXTS],
        )
        ours = [row[0] for row in cursor.fetchall()]
        django_loader = type("Utc", (BaseTzLoader,), {"timezone": datetime.UTC})
        cursor.connection.adapters.register_loader(1184, django_loader)
        cursor.execute(
            "SELECT t::timestamptz FROM unnest(%s::text[]) WITH ORDINALITY AS x(t, n) ORDER BY n",
            [TEXTS],
        )
        theirs = [row[0] for row in cursor.fetchall()]
    assert ours == theirs
    assert [value.tzinfo for value in ours] == [datetime.UTC] * len(TEXTS)
    assert ours[1] == datetime.datetime(2026, 12, 7, 19, 3, 13, 1, tzinfo=datetime.UTC)
