"""Invitations into an account (docs/team.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from portal.models import Account, Role


class Invitation(models.Model):
    """An e-mailed invitation to join ``account`` with ``role``. Its link is
    signed and valid 24 hours (``team.invitations``); accepting it sets
    ``accepted_at``, after which it cannot be used again. Inviting the same
    address again replaces a pending invitation (the old link stops working)."""

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

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                "account",
                Lower("email"),
                condition=models.Q(accepted_at__isnull=True),
                name="invitation_one_pending_per_address",
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="invitation_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.account} ({self.role})"
