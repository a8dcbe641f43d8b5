"""Django's PostgreSQL backend, with ``timestamptz`` values parsed in C.

Django attaches the connection's time zone to every ``timestamptz`` it reads by
registering a subclass of psycopg's pure-Python loader, so each value goes
through a regular expression in Python even though psycopg's C loader is
installed. A page of the API reads about a hundred such values, the list,
jobs and the network batch as many. Here the C loader parses and the time
zone is attached as Django does (the connection's ``TimeZone`` is UTC, as
Django sets it): measured on 100 values, 0.41 ms of CPU per query with
Django's loader, 0.18 ms with this one (docs/benchmark.md "Where a page's
CPU goes").

``ENGINE = "config.postgresql"`` (config/database.py); every other behaviour
is Django's own.
"""

from __future__ import annotations

import datetime

from django.db.backends.postgresql import base
from psycopg import postgres, pq
from psycopg.adapt import Loader

_TIMESTAMPTZ = postgres.types["timestamptz"].oid
#: psycopg's own loader for text timestamptz: the C one where psycopg's C
#: implementation is installed (``psycopg[binary]``), else the Python one.
_PARSER = postgres.adapters.get_loader(_TIMESTAMPTZ, pq.Format.TEXT)


class UtcTimestamptzLoader(Loader):
    """A ``timestamptz`` as an aware datetime in UTC, as Django's own loader
    gives it. ``timezone`` is what Django compares with the connection's
    before each cursor: equal, it keeps this loader."""

    timezone = datetime.UTC

    def __init__(self, oid, context=None):
        super().__init__(oid, context)
        self._parse = _PARSER(oid, context).load

    def load(self, data):
        return self._parse(data).replace(tzinfo=self.timezone)


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        if self.timezone == UtcTimestamptzLoader.timezone:
            connection.adapters.register_loader(_TIMESTAMPTZ, UtcTimestamptzLoader)
        return connection
