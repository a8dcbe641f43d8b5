"""API tokens: how a customer's own systems act in their account (docs/api.md).

A token belongs to one account and carries one role, never more than the role of
the admin who created it, then or now: a creator's demotion lowers it, their
removal revokes it (team/grants.py), and a request is answered with the lower of
the two roles (api/auth.py). Only its SHA-256 is stored (a database dump hands out
no working credential) beside a short visible prefix that tells tokens apart in
lists. Revocation and expiry are checked on every request.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from portal.models import Account, Role


class RevokedBecause(models.TextChoices):
    """Why a token was revoked, as its page says it."""

    ADMIN = "admin", "revoked by an admin"
    SUPPORT = "support", "revoked by support"
    CREATOR_REMOVED = "creator_removed", "revoked because its creator was removed"


class ApiToken(models.Model):
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    role = models.CharField(max_length=10, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    #: The first characters of the token, shown in lists ("epk_3fa9…").
    prefix = models.CharField(max_length=16, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_by_label = models.CharField(max_length=150, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    #: When a request with it last wrote (portal/replicas.py "Read-your-writes"):
    #: on the row the authentication already reads on the primary, so every web
    #: process and host sees it without a shared cache.
    wrote_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_because = models.CharField(
        max_length=20, choices=RevokedBecause.choices, blank=True, default=""
    )
    #: The role it had before its creator was demoted below it (team/grants.py).
    capped_from = models.CharField(max_length=10, choices=Role.choices, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(role__in=Role.values), name="apitoken_role_valid"),
            # Two live tokens of one account never share a name: the list tells them apart.
            models.UniqueConstraint(
                fields=["account", "name"],
                condition=Q(revoked_at__isnull=True),
                name="apitoken_live_name_unique",
            ),
        ]
        indexes = [models.Index(fields=["account", "-created_at"], name="apitoken_account_new")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) in {self.account}"

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def usable(self) -> bool:
        return not self.revoked and not self.expired

    def has_role(self, role: Role) -> bool:
        return Role(self.role).rank >= role.rank
