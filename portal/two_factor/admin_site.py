"""Django admin's site: signing in there goes through the same two steps as the
portal, and with ``ADMIN_REQUIRE_MFA`` on only a session verified by a second
factor reaches admin. Staff without two-factor are sent to set it up."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.apps import AdminConfig
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _


class PortalAdminSite(admin.AdminSite):
    def has_permission(self, request) -> bool:
        if not super().has_permission(request):
            return False
        return not settings.ADMIN_REQUIRE_MFA or request.user.is_verified()

    def login(self, request, extra_context=None):
        from portal.two_factor.views import SignInView

        user = request.user
        if (
            settings.ADMIN_REQUIRE_MFA
            and user.is_active
            and user.is_staff
            and not user.is_verified()
        ):
            messages.info(
                request, "Django admin needs two-factor sign-in. Set it up to open admin."
            )
            return HttpResponseRedirect(reverse("security:overview"))
        if request.method == "GET" and self.has_permission(request):
            return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
        # As AdminSite.login, with the portal's two-step sign-in view.
        context = {
            **self.each_context(request),
            "title": _("Log in"),
            "subtitle": None,
            "app_path": request.get_full_path(),
            "username": user.get_username(),
        }
        if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
            context[REDIRECT_FIELD_NAME] = reverse("admin:index", current_app=self.name)
        context.update(extra_context or {})
        request.current_app = self.name
        return SignInView.as_view(
            extra_context=context,
            authentication_form=self.login_form,
            template_name=self.login_template or "admin/login.html",
        )(request)


class PortalAdminConfig(AdminConfig):
    """Django admin (in INSTALLED_APPS), served by ``PortalAdminSite``."""

    default_site = "portal.two_factor.admin_site.PortalAdminSite"
