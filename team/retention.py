"""Invitations that can no longer be accepted are deleted (docs/team.md).

A pending invitation works for 24 hours (``team.invitations.VALID_FOR``); after
that its row only holds an address and a role nobody can use. The worker's daily
task (team/tasks.py) and ``manage.py purge_invitations`` delete them in one
statement. Accepted invitations stay: they say who invited whom.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from team.invitations import VALID_FOR
from team.models import Invitation


def expired_invitations(*, now: datetime | None = None):
    """Pending invitations older than their 24 hours."""
    now = now or timezone.now()
    return Invitation.objects.filter(accepted_at__isnull=True, created_at__lt=now - VALID_FOR)


def purge_expired_invitations(*, now: datetime | None = None) -> int:
    """Delete the expired pending invitations; how many went."""
    return expired_invitations(now=now).delete()[0]
