"""The worker's daily purge of expired invitations (team/retention.py)."""

from __future__ import annotations

import logging

from procrastinate.contrib.django import app

from team import retention

logger = logging.getLogger("team")


@app.periodic(cron="57 3 * * *")
@app.task(name="team.purge_invitations", queue="maintenance", queueing_lock="purge_invitations")
def purge_invitations(timestamp: int) -> None:
    """Daily: pending invitations past their 24 hours (as ``manage.py purge_invitations``)."""
    deleted = retention.purge_expired_invitations()
    logger.info("purge_invitations: %s expired invitations deleted", deleted)
