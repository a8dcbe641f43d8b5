"""The benchmark's own database: where it lives, creating, loading and dropping it.

The server is DATABASE_URL's when set; otherwise the PostgreSQL service on
127.0.0.1:5432 if it answers, else the embedded server the portal uses for
development. The database itself always has the benchmark's own name, so a
run never touches anyone's working data."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

LOCAL_SERVICE = "postgresql://postgres@127.0.0.1:5432/postgres"
BASE_DIR = Path(__file__).resolve().parent.parent


def _service_answers(host: str = "127.0.0.1", port: int = 5432) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def server_url() -> str:
    """A URL of the server to use, pointing at any database on it."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    if _service_answers():
        return LOCAL_SERVICE
    from config.embedded_db import embedded_database_url

    data_dir = Path(os.environ.get("PORTAL_PGDATA", BASE_DIR / ".data" / "pg"))
    return embedded_database_url(data_dir)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _maintenance(url: str) -> psycopg.Connection:
    return psycopg.connect(with_database(url, "postgres"), autocommit=True)


def ensure_database(url: str, name: str, *, fresh: bool) -> str:
    """Create database ``name`` on ``url``'s server (dropping it first when
    ``fresh``) and return its URL."""
    with _maintenance(url) as conn:
        if fresh:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(url, name)


def drop_database(url: str, name: str) -> None:
    with _maintenance(url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def endpoint_count(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT to_regclass('inventory_endpoint') IS NOT NULL").fetchone()
        if not row[0]:
            return 0
        return conn.execute("SELECT count(*) FROM inventory_endpoint").fetchone()[0]
