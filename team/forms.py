"""The team page's forms: invite, change a role, and a new user's sign-up from
an invitation."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from portal.models import Role


class InviteForm(forms.Form):
    email = forms.EmailField(label="E-mail address", max_length=254)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER, label="Role")

    def __init__(self, *args, account=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account

    def clean_email(self) -> str:
        from team.invitations import already_member

        email = self.cleaned_data["email"]
        if self.account is not None and already_member(account=self.account, email=email):
            raise forms.ValidationError(f"{email} is already a member of this account.")
        return email


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices, label="Role")


class JoinForm(UserCreationForm):
    """A new user from an invitation: a username and a password; the e-mail is
    the invited address."""

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username",)
