"""The audit log's schema and its vocabulary (docs/audit-log.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from portal.models import Account


class AuditAction(models.TextChoices):
    """Every event the audit log records, with the label the log shows."""

    SIGN_IN = "sign_in", "Signed in"
    SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
    MFA_ENABLED = "mfa_enabled", "Two-factor enabled"
    MFA_DISABLED = "mfa_disabled", "Two-factor disabled"
    MFA_RECOVERY_CODE_USED = "mfa_recovery_code_used", "Recovery code used"
    MFA_FAILED = "mfa_failed", "Two-factor code refused"
    MFA_REQUIREMENT_CHANGED = "mfa_requirement_changed", "Two-factor requirement changed"
    MEMBER_INVITED = "member_invited", "Member invited"
    INVITATION_WITHDRAWN = "invitation_withdrawn", "Invitation withdrawn"
    MEMBER_JOINED = "member_joined", "Member joined"
    MEMBER_ROLE_CHANGED = "member_role_changed", "Member role changed"
    MEMBER_REMOVED = "member_removed", "Member removed"
    PASSWORD_CHANGED = "password_changed", "Password changed"
    PASSWORD_RESET = "password_reset", "Password reset"
    PASSWORD_RESET_REQUESTED = "password_reset_requested", "Password reset requested"
    API_TOKEN_CREATED = "api_token_created", "API token created"
    API_TOKEN_REVOKED = "api_token_revoked", "API token revoked"
    API_TOKEN_ROLE_LOWERED = "api_token_role_lowered", "API token role lowered"
    WEBHOOK_CREATED = "webhook_created", "Webhook created"
    WEBHOOK_CHANGED = "webhook_changed", "Webhook changed"
    WEBHOOK_DELETED = "webhook_deleted", "Webhook deleted"
    WEBHOOK_TESTED = "webhook_tested", "Webhook test event sent"
    WEBHOOK_REDELIVERED = "webhook_redelivered", "Webhook event redelivered"
    GROUP_CREATED = "group_created", "Group created"
    GROUP_CHANGED = "group_changed", "Group changed"
    GROUP_DELETED = "group_deleted", "Group deleted"
    BULK_JOB_STARTED = "bulk_job_started", "Bulk job started"
    BULK_JOB_CANCELLED = "bulk_job_cancelled", "Bulk job cancelled"
    ACTIVATION = "activation", "Activation"
    ENDPOINT_EDITED = "endpoint_edited", "Endpoint edited through the API"


class AuditActorKind(models.TextChoices):
    """Who acted: a member, an API token, provider support, or the system."""

    USER = "user", "User"
    API_TOKEN = "api_token", "API token"
    STAFF = "staff", "Support"
    SYSTEM = "system", "System"


class AuditEvent(models.Model):
    """One audited event. ``account`` is empty for events of a user rather than of
    an account (sign-in, password, two-factor): every account the user is a member
    of shows them. ``actor_label`` keeps the row readable after the user is gone."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_kind = models.CharField(max_length=12, choices=AuditActorKind.choices)
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    ip = models.GenericIPAddressField(null=True, blank=True)
    target = models.CharField(max_length=200, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The account's log, newest first by time then id (read backwards),
            # by action, by actor: a time window and a keyset page are one range.
            models.Index(fields=["account", "created_at", "id"], name="audit_account_time"),
            models.Index(
                fields=["account", "action", "created_at", "id"], name="audit_account_action_time"
            ),
            models.Index(
                fields=["account", "actor_label", "created_at", "id"],
                name="audit_account_label_time",
            ),
            # A user's own events (sign-ins, password): the rows of no account,
            # read from the moment the user joined an account.
            models.Index(
                fields=["actor", "created_at", "id"],
                condition=models.Q(account__isnull=True),
                name="audit_user_events_time",
            ),
            # The time filter and the yearly purge.
            models.Index(fields=["created_at"], name="audit_created_at"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(action__in=AuditAction.values), name="audit_action_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(actor_kind__in=AuditActorKind.values),
                name="audit_actor_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor_label or self.actor_kind}"
