"""The sign-in forms of the portal and of Django admin.

Django's AuthenticationForm gives the username field its maximum length after
the field is built, so only the HTML attribute carries it: a 10,000-character
username still reached ``authenticate()``, where django-axes wrote it into a
varchar(255) and sign-in answered a 500 (#10). Here the length is checked like
any other field's, before anything is authenticated or recorded.
"""

from __future__ import annotations

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator


class _BoundedUsername:
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        username = self.fields["username"]
        username.validators.append(MaxLengthValidator(username.max_length))


class SignInForm(_BoundedUsername, AuthenticationForm):
    """The portal's sign-in (``/login/``)."""


class AdminSignInForm(_BoundedUsername, AdminAuthenticationForm):
    """Django admin's sign-in (``/admin/login/``)."""
