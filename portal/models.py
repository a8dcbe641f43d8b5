"""Tenancy: accounts and who may do what in them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

# The recovery-code device is a model of this app: a proxy of django-otp's static
# device that keeps only hashes (portal/two_factor/recovery.py).
from portal.two_factor.recovery import RecoveryCodes  # noqa: F401


class Account(models.Model):
    """A customer of the provider. Every inventory row belongs to exactly one."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=50, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    #: Every member must sign in with a second factor (docs/two-factor.md).
    require_mfa = models.BooleanField(
        "require two-factor sign-in",
        default=False,
        help_text="Members without a second factor are sent to set one up at sign-in.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    """In increasing order: each role may do what the ones before it may."""

    VIEWER = "viewer", "Viewer"
    OPERATOR = "operator", "Operator"
    ADMIN = "admin", "Admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


class Permission(models.TextChoices):
    """What a view may require of the current member (``member_required``)."""

    OPERATE = "operate", "Edit, assign to a group, suspend"
    TERMINATE = "terminate", "Terminate"

    @property
    def least_role(self) -> Role:
        return {Permission.OPERATE: Role.OPERATOR, Permission.TERMINATE: Role.ADMIN}[self]


class ActorKind(models.TextChoices):
    """Who made a change (History, jobs, the audit log's API actor): a person
    in the portal, the packet core, provider support, the system, an API token.
    Here, below every app that records a change, so that none of them imports
    another's models for it."""

    USER = "user", "User"
    NETWORK = "network", "Network"
    SUPPORT = "support", "Support"
    SYSTEM = "system", "System"
    API = "api", "API token"


class Member(models.Model):
    """A user's role in one account. A user may belong to several accounts."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="members")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    #: When this membership began: the account's admins see the person's own
    #: audit rows (sign-ins, two-factor) from here on only (audit/selectors.py).
    joined_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "account"], name="member_unique_user_account"),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="member_role_valid"
            ),
        ]
        ordering = ["account__name"]

    def __str__(self) -> str:
        return f"{self.user} in {self.account} ({self.role})"

    def has_role(self, role: Role) -> bool:
        """Whether this member's role is ``role`` or a higher one."""
        return Role(self.role).rank >= role.rank

    @property
    def can_operate(self) -> bool:
        """Edit, assign to group, suspend."""
        return self.has_role(Permission.OPERATE.least_role)

    @property
    def can_terminate(self) -> bool:
        return self.has_role(Permission.TERMINATE.least_role)
