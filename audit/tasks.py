"""The worker's daily purge of the audit log (audit/retention.py)."""

from __future__ import annotations

import logging

from procrastinate.contrib.django import app

from audit import retention

logger = logging.getLogger("audit")


@app.periodic(cron="47 3 * * *")
@app.task(name="audit.purge_audit_log", queue="maintenance", queueing_lock="purge_audit")
def purge_audit_log(timestamp: int) -> None:
    """Daily: audit rows older than a year (as ``manage.py purge_audit_log``)."""
    deleted = retention.purge_audit_log()
    logger.info("purge_audit_log: %s rows deleted", deleted)
