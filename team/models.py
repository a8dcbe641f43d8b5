"""Invitations into an account (docs/team.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from portal.models import Account, Role


class InvitationRevoked(models.TextChoices):
    """Why an invitation stopped working before it was used (team/grants.py)."""

    CREATOR_REMOVED = "creator_removed", "revoked because its creator was removed"
    CREATOR_DEMOTED = "creator_demoted", "revoked because its creator's role is now lower"


class Invitation(models.Model):
    """An e-mailed invitation to join ``account`` with ``role``. Its link is
    signed and valid 24 hours (``team.invitations``); accepting it sets
    ``accepted_at``, after which it cannot be used again. Inviting the same
    address again replaces a pending invitation (the old link stops working).
    A revoked invitation (``revoked_at``) is kept, so the admins see why its link
    stopped working; it never counts as pending."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_because = models.CharField(
        max_length=20, choices=InvitationRevoked.choices, blank=True, default=""
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                "account",
                Lower("email"),
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_pending_per_address",
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="invitation_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.account} ({self.role})"
