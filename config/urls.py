"""Root URLs: the portal's screens (inventory, jobs), the account pages (members,
audit log, password, security, API tokens), the network API, the customer API,
Django admin, sign-in (password, then the two-factor code step), password reset
and the invitation link."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from api.main import api
from portal import health, passwords, views
from portal.forms import SignInForm
from portal.two_factor import views as two_factor_views
from portal.two_factor.enforcement import two_factor_exempt
from team import views as team_views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="inventory:endpoint_list"), name="home"),
    path(
        "login/",
        two_factor_exempt(
            two_factor_views.SignInView.as_view(
                authentication_form=SignInForm, redirect_authenticated_user=True
            )
        ),
        name="login",
    ),
    path("login/code/", two_factor_views.login_code, name="login_code"),
    path("logout/", two_factor_exempt(auth_views.LogoutView.as_view()), name="logout"),
    path("account/security/", include("portal.two_factor.urls")),
    path("account/password/", passwords.PasswordChangeView.as_view(), name="password_change"),
    path(
        "account/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("password-reset/", passwords.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        passwords.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("invitation/<str:token>/", team_views.invitation_accept, name="invitation_accept"),
    path("account/switch/", views.switch_account_view, name="switch_account"),
    path("healthz", two_factor_exempt(views.healthz), name="healthz"),
    path("readyz", two_factor_exempt(health.readyz), name="readyz"),
    path("metrics", two_factor_exempt(health.metrics_view), name="metrics"),
    path("account/webhooks/", include("webhooks.urls")),
    path("account/members/", include("team.urls")),
    path("account/audit-log/", include("audit.urls")),
    path("inventory/jobs/", include("jobs.urls")),
    path("inventory/", include("inventory.urls")),
    path("api/v1/", include("network.urls")),
    path("api/v1/", api.urls),
    path("account/api-tokens/", include("api.account_urls")),
    path("admin/", admin.site.urls),
]

handler400 = "portal.views.bad_request"
handler403 = "portal.views.permission_denied"
handler404 = "portal.views.page_not_found"
handler500 = "portal.views.server_error"
