"""Sign-ins and failed sign-ins, from Django's auth signals (docs/audit-log.md).

A sign-in belongs to the user, not to one account (``account`` is empty): every
account the user is a member of sees it. A failed sign-in for an existing
username is put on that user, so their accounts' admins see attempts on them;
one for an unknown username is visible to staff only. The password is never
recorded (Django's signal has already removed it).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model, user_logged_in, user_login_failed
from django.dispatch import receiver

from audit.events import AuditActor, record
from audit.models import AuditAction, AuditActorKind

#: The longest username recorded from a failed attempt (the form refuses longer).
USERNAME_LENGTH = 150


@receiver(user_logged_in, dispatch_uid="audit_sign_in")
def _signed_in(sender, request, user, **kwargs) -> None:
    record(action=AuditAction.SIGN_IN, account=None, request=request, actor=user)


#: Who sends ``user_login_failed`` for a wrong code at the two-factor step.
CODE_STEP = "portal.two_factor.signin"


@receiver(user_login_failed, dispatch_uid="audit_sign_in_failed")
def _sign_in_failed(sender, credentials, request=None, **kwargs) -> None:
    User = get_user_model()
    typed = str(credentials.get(User.USERNAME_FIELD, credentials.get("username", "")))
    typed = typed[:USERNAME_LENGTH].replace("\x00", "")
    user = User._default_manager.filter(**{User.USERNAME_FIELD: typed}).first() if typed else None
    record(
        # The password was right, the code was not: a refused second factor.
        action=AuditAction.MFA_FAILED if sender == CODE_STEP else AuditAction.SIGN_IN_FAILED,
        account=None,
        request=request,
        actor=user or AuditActor(kind=AuditActorKind.USER, label=typed),
        target=typed,
    )
