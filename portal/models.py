"""Tenancy: accounts and who may do what in them."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Account(models.Model):
    """A customer of the provider. Every inventory row belongs to exactly one."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=50, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    OPERATOR = "operator", "Operator"
    ADMIN = "admin", "Admin"


class Member(models.Model):
    """A user's role in one account. A user may belong to several accounts."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="members")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)

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

    @property
    def can_operate(self) -> bool:
        """Edit, assign to group, suspend."""
        return self.role in (Role.OPERATOR, Role.ADMIN)

    @property
    def can_terminate(self) -> bool:
        return self.role == Role.ADMIN
