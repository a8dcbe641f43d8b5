"""Account → Members, for account admins: the team, pending invitations, invite
by e-mail, change a role, remove; and the invitation link, opened by the
invitee (signed out, or signed in as the invited address). Another account's
member or invitation is a 404."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from portal.models import Member, Role
from portal.tenancy import SESSION_KEY, member_required
from team import invitations, members
from team.forms import InviteForm, JoinForm, RoleForm
from team.models import Invitation


def _member_page(request, form: InviteForm, status: int = 200):
    team = (
        Member.objects.filter(account=request.account)
        .select_related("user")
        .order_by("user__username", "pk")
    )
    return render(
        request,
        "team/member_list.html",
        {
            "team": team,
            "invitations": invitations.pending(account=request.account),
            "revoked_invitations": invitations.recently_revoked(account=request.account),
            "form": form,
            "roles": Role.choices,
        },
        status=status,
    )


@member_required(Role.ADMIN)
def member_list(request):
    return _member_page(request, InviteForm(account=request.account))


@member_required(Role.ADMIN)
@require_POST
def member_invite(request):
    form = InviteForm(request.POST, account=request.account)
    if not form.is_valid():
        return _member_page(request, form)
    email, role = form.cleaned_data["email"], Role(form.cleaned_data["role"])
    try:
        sent = invitations.invite(account=request.account, email=email, role=role, request=request)
    except invitations.InvitationError as error:
        messages.error(request, str(error))
        return redirect("team:member_list")
    except IntegrityError:
        # The same address invited in another request at the same moment.
        messages.info(request, f"{email} was being invited at the same time; check the list.")
        return redirect("team:member_list")
    if not sent.mailed:
        messages.error(
            request,
            f"The invitation of {email} is saved, but the e-mail could not be sent. "
            "Withdraw it and invite again later, or tell support.",
        )
        return redirect("team:member_list")
    again = " The earlier invitation's link no longer works." if sent.replaced else ""
    messages.success(
        request, f"Invitation sent to {email} as {role.label}; the link works for 24 hours.{again}"
    )
    return redirect("team:member_list")


@member_required(Role.ADMIN)
@require_POST
def member_role(request, pk: int):
    member = get_object_or_404(Member, account=request.account, pk=pk)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles: viewer, operator or admin.")
        return redirect("team:member_list")
    role = Role(form.cleaned_data["role"])
    try:
        changed, followed = members.change_role(member=member, role=role, request=request)
    except members.LastAdminError as error:
        messages.error(request, str(error))
        return redirect("team:member_list")
    messages.success(request, f"{changed.user.get_username()} is now {role.label}.")
    if followed:
        messages.warning(request, followed.sentence(changed.user.get_username()))
    if changed.user_id == request.user.pk and role != Role.ADMIN:
        return redirect("home")  # no longer an admin: the team page is not theirs
    return redirect("team:member_list")


@member_required(Role.ADMIN)
def member_remove(request, pk: int):
    member = get_object_or_404(
        Member.objects.select_related("user"), account=request.account, pk=pk
    )
    if request.method != "POST":
        return render(request, "team/member_remove.html", {"member": member})
    try:
        followed = members.remove(member=member, request=request)
    except members.LastAdminError as error:
        messages.error(request, str(error))
        return redirect("team:member_list")
    messages.success(
        request, f"{member.user.get_username()} was removed from {request.account.name}."
    )
    if followed:
        messages.warning(request, followed.sentence(member.user.get_username()))
    if member.user_id == request.user.pk:
        return redirect("home")
    return redirect("team:member_list")


@member_required(Role.ADMIN)
@require_POST
def invitation_withdraw(request, pk: int):
    invitation = get_object_or_404(
        Invitation,
        account=request.account,
        pk=pk,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
    )
    invitations.withdraw(invitation=invitation, request=request)
    messages.success(request, f"The invitation of {invitation.email} was withdrawn.")
    return redirect("team:member_list")


def _refused(request, reason: str, status: int):
    return render(request, "team/invitation_refused.html", {"reason": reason}, status=status)


@never_cache
def invitation_accept(request, token: str):
    """The link of an invitation e-mail. Never cached: the page's address is the
    invitation's secret, and signed out no middleware says so."""
    try:
        invitation = invitations.open_invitation(token)
    except invitations.InvitationError as error:
        return _refused(request, str(error), 400)
    context = {"invitation": invitation, "account": invitation.account}
    user = request.user
    if user.is_authenticated:
        if not invitations.is_for(invitation, user):
            # Signed in as someone else: never join the wrong user.
            return render(request, "team/invitation_other_user.html", context, status=403)
        if request.method == "POST":
            return _join(request, invitation, user)
        return render(request, "team/invitation_accept.html", context)
    if invitations.user_with_address(invitation.email):
        return render(request, "team/invitation_sign_in.html", context)
    form = JoinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = _new_user(form, invitation)
            if user is not None:
                return _join(request, invitation, user, new_user=True)
    return render(request, "team/invitation_join.html", {**context, "form": form})


def _new_user(form: JoinForm, invitation: Invitation):
    """The user the form describes, saved; None with a form error when another
    sign-up took the username between the form's check and this insert (the
    unique index decides)."""
    user = form.save(commit=False)
    user.email = invitation.email
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        form.add_error("username", "This username was taken a moment ago; choose another.")
        return None
    return user


def _join(request, invitation: Invitation, user, new_user: bool = False):
    try:
        invitations.accept(invitation=invitation, user=user, request=request)
    except invitations.InvitationError as error:
        if new_user:
            transaction.set_rollback(True)
        return _refused(request, str(error), 409)
    if new_user:
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[SESSION_KEY] = invitation.account_id  # land in the account joined
    messages.success(
        request,
        f"Welcome to {invitation.account.name}: you are a "
        f"{Role(invitation.role).label.lower()} here.",
    )
    return redirect(reverse("home"))
