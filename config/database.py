"""Which PostgreSQL the portal talks to.

Production, CI and anyone with a server of their own set ``DATABASE_URL``. Without
it, a developer on a bare machine gets an embedded PostgreSQL (see
``config.embedded_db``), so ``make run`` and ``make test`` need nothing installed
by hand. There is no SQLite path: the portal relies on PostgreSQL (pg_trgm,
conditional bulk UPDATEs, inet arithmetic).
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

#: Django's PostgreSQL backend with a faster ``timestamptz`` loader (config/postgresql).
ENGINE = "config.postgresql"


def database_config(base_dir: Path) -> dict:
    url = os.environ.get("DATABASE_URL", "").strip()
    direct = os.environ.get("WORKER_DATABASE_URL", "").strip()
    if direct and os.environ.get("PORTAL_WORKER_PROCESS"):
        # A worker (``manage.py worker``) talks to PostgreSQL itself: its LISTEN
        # connection cannot go through PgBouncer in transaction mode.
        url = direct
    if not url:
        # Imported here so that production never imports the embedded server.
        from config.embedded_db import embedded_database_url

        data_dir = Path(os.environ.get("PORTAL_PGDATA", base_dir / ".data" / "pg"))
        url = embedded_database_url(data_dir)
    config = dj_database_url.parse(
        url, conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")), engine=ENGINE
    )
    # A kept connection is tested before a request uses it, so after a database
    # restart each web process reconnects by itself instead of failing once.
    config["CONN_HEALTH_CHECKS"] = True
    config.setdefault("OPTIONS", {})
    config["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME") or None}
    return config


def replica_configs(primary: dict) -> dict[str, dict]:
    """``replica_0``, ``replica_1``, … from ``DATABASE_REPLICA_URLS`` (comma-
    separated), each named ``portal-replica`` to PostgreSQL (pg_stat_activity)
    and given up after 2 s of trying to connect. Tests mirror the primary."""
    urls = [u.strip() for u in os.environ.get("DATABASE_REPLICA_URLS", "").split(",") if u.strip()]
    replicas = {}
    for number, url in enumerate(urls):
        config = dj_database_url.parse(url, conn_max_age=primary["CONN_MAX_AGE"], engine=ENGINE)
        config["CONN_HEALTH_CHECKS"] = True
        config["OPTIONS"] = {
            **primary["OPTIONS"],
            "connect_timeout": 2,
            "application_name": "portal-replica",
            **config.get("OPTIONS", {}),
        }
        config["TEST"] = {"MIRROR": "default"}
        replicas[f"replica_{number}"] = config
    return replicas
