"""Inviting someone into an account by e-mail, and accepting (docs/team.md).

The link carries the invitation's id signed with the project's SECRET_KEY and
a timestamp (``django.core.signing``): a changed link fails the signature, an
old one its age (24 hours). Single use is the database's: accepting locks the
invitation row and sets ``accepted_at``, so two clicks at once join once.

Whoever accepts must be the invited address: a new user gets it as their
e-mail; a signed-in user must already have it (accepting while signed in as
someone else is refused, with a way to sign out).
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

import audit
from audit.models import AuditAction
from portal import links
from portal.models import Account, Member, Role
from team.models import Invitation

logger = logging.getLogger("team")

#: How long an invitation's link works.
VALID_FOR = timedelta(hours=24)
_SALT = "team.invitation"


class InvitationError(Exception):
    """Why an invitation cannot be used, in words for the person holding it."""


@dataclass(frozen=True)
class Sent:
    invitation: Invitation
    replaced: bool  # a pending invitation of the same address was replaced
    mailed: bool = True  # False: the mail server refused or could not be reached


def token_for(invitation: Invitation) -> str:
    return signing.dumps({"invitation": invitation.pk}, salt=_SALT)


def link_for(request: HttpRequest, invitation: Invitation) -> str:
    """The link of the e-mail, on ``PORTAL_BASE_URL`` (never the request's Host)."""
    return links.absolute(request, reverse("invitation_accept", args=[token_for(invitation)]))


def invite(*, account: Account, email: str, role: Role, request: HttpRequest) -> Sent:
    """Invite ``email`` into ``account`` with ``role`` and mail the link. The
    caller has checked the address is not a member already (``already_member``)."""
    with transaction.atomic():
        # The inviter's own row, locked: a removal or demotion of the inviter
        # happening now either waits for this invitation (and then revokes it,
        # team/grants.py) or has happened, and the invitation is refused.
        if _role_of(account_id=account.pk, user=request.user, lock=True) != Role.ADMIN:
            raise InvitationError(f"Only an admin of {account.name} may invite.")
        replaced, _ = Invitation.objects.filter(
            account=account, email__iexact=email, accepted_at__isnull=True, revoked_at__isnull=True
        ).delete()
        invitation = Invitation.objects.create(
            account=account, email=email, role=role, invited_by=request.user
        )
        audit.record(
            action=AuditAction.MEMBER_INVITED,
            account=account,
            request=request,
            target=email,
            details={"role": role},
        )
    # Sent once the row is committed, so a link never names a rolled-back row.
    link = link_for(request, invitation)
    context = {
        "account": account,
        "invitation": invitation,
        "link": link,
        "inviter": request.user,
        "hours": int(VALID_FOR.total_seconds() // 3600),
    }
    try:
        send_mail(
            subject=f"You are invited to {account.name} on Endpoint Portal",
            message=render_to_string("team/invitation_email.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[email],
        )
    except (smtplib.SMTPException, OSError):
        logger.exception("invitation %s: the e-mail could not be sent", invitation.pk)
        return Sent(invitation=invitation, replaced=bool(replaced), mailed=False)
    return Sent(invitation=invitation, replaced=bool(replaced))


def already_member(*, account: Account, email: str) -> bool:
    return Member.objects.filter(account=account, user__email__iexact=email).exists()


def pending(*, account: Account):
    """The account's invitations still waiting, newest first."""
    return Invitation.objects.filter(
        account=account,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        created_at__gte=timezone.now() - VALID_FOR,
    ).select_related("invited_by")


def recently_revoked(*, account: Account):
    """Invitations revoked with their creator's membership whose link would
    still be valid otherwise, newest first: the admins see why they stopped."""
    return Invitation.objects.filter(
        account=account,
        accepted_at__isnull=True,
        revoked_at__isnull=False,
        created_at__gte=timezone.now() - VALID_FOR,
    ).select_related("invited_by")


def _role_of(*, account_id: int, user, lock: bool = False) -> Role | None:
    """``user``'s (a user or its id) role in the account now; None if not a member."""
    if user is None:
        return None
    rows = Member.objects.filter(account_id=account_id, user=user)
    if lock:
        rows = rows.select_for_update()
    held = rows.values_list("role", flat=True).first()
    return Role(held) if held else None


def _still_given(invitation: Invitation) -> bool:
    """Whether the sender may still give the invitation's role (team/grants.py):
    they are a member whose role is that role or higher."""
    held = _role_of(account_id=invitation.account_id, user=invitation.invited_by_id)
    return held is not None and held.rank >= Role(invitation.role).rank


REVOKED = (
    "This invitation was revoked: the admin who sent it is no longer an admin of the "
    "account. Ask an admin of the account to invite you again."
)


def open_invitation(token: str) -> Invitation:
    """The invitation ``token`` names, if it can still be accepted."""
    try:
        data = signing.loads(token, salt=_SALT, max_age=VALID_FOR)
    except signing.SignatureExpired:
        raise InvitationError(
            "This invitation has expired (links work for 24 hours). Ask an admin of the "
            "account to invite you again."
        ) from None
    except signing.BadSignature:
        raise InvitationError(
            "This invitation link is not valid. Check that it was copied whole."
        ) from None
    pk = data.get("invitation") if isinstance(data, dict) else None
    invitation = (
        Invitation.objects.filter(pk=pk).select_related("account").first()
        if isinstance(pk, int)
        else None
    )
    if invitation is None:
        raise InvitationError(
            "This invitation was withdrawn or replaced by a newer one. Use the latest e-mail, "
            "or ask an admin of the account to invite you again."
        )
    if invitation.accepted_at is not None:
        raise InvitationError("This invitation has already been used. Sign in to continue.")
    if invitation.revoked_at is not None:
        raise InvitationError(REVOKED)
    if timezone.now() - invitation.created_at > VALID_FOR:
        raise InvitationError(
            "This invitation has expired (links work for 24 hours). Ask an admin of the "
            "account to invite you again."
        )
    return invitation


def is_for(invitation: Invitation, user: AbstractBaseUser) -> bool:
    """Whether ``user`` is the person invited (their e-mail is the invited address)."""
    return bool(user.email) and user.email.casefold() == invitation.email.casefold()


def accept(*, invitation: Invitation, user: AbstractBaseUser, request: HttpRequest) -> Member:
    """Make ``user`` a member of the invitation's account with its role, once:
    a second acceptance (another tab, a replay) raises ``InvitationError``."""
    if not is_for(invitation, user):
        raise InvitationError("This invitation was sent to another address.")
    with transaction.atomic():
        locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if locked.accepted_at is not None:
            raise InvitationError("This invitation has already been used. Sign in to continue.")
        # Revoked with its creator's membership, or (should a change ever bypass
        # team/grants.py) sent by someone who may no longer give this role.
        if locked.revoked_at is not None or not _still_given(locked):
            raise InvitationError(REVOKED)
        if Member.objects.filter(account_id=locked.account_id, user=user).exists():
            raise InvitationError(f"You are already a member of {invitation.account.name}.")
        member = Member.objects.create(user=user, account_id=locked.account_id, role=locked.role)
        locked.accepted_at = timezone.now()
        locked.accepted_by = user
        locked.save(update_fields=["accepted_at", "accepted_by"])
        audit.record(
            action=AuditAction.MEMBER_JOINED,
            account=invitation.account,
            request=request,
            actor=user,
            target=locked.email,
            details={"role": locked.role},
        )
    return member


def withdraw(*, invitation: Invitation, request: HttpRequest) -> None:
    """Delete a pending invitation: its link stops working."""
    with transaction.atomic():
        invitation.delete()
        audit.record(
            action=AuditAction.INVITATION_WITHDRAWN,
            account=invitation.account,
            request=request,
            target=invitation.email,
            details={"role": invitation.role},
        )


def user_with_address(email: str) -> bool:
    """Whether a user already has this e-mail (they sign in to accept)."""
    from django.contrib.auth import get_user_model

    return get_user_model()._default_manager.filter(email__iexact=email).exists()
