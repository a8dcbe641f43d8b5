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


def database_config(base_dir: Path) -> dict:
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        # Imported here so that production never imports the embedded server.
        from config.embedded_db import embedded_database_url

        data_dir = Path(os.environ.get("PORTAL_PGDATA", base_dir / ".data" / "pg"))
        url = embedded_database_url(data_dir)
    config = dj_database_url.parse(url, conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")))
    # A kept connection is tested before a request uses it, so after a database
    # restart each web process reconnects by itself instead of failing once.
    config["CONN_HEALTH_CHECKS"] = True
    config.setdefault("OPTIONS", {})
    config["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME") or None}
    return config
