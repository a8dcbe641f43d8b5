"""The user's own Security page and its actions, under /account/security/."""

from django.urls import path

from portal.two_factor import views

app_name = "security"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("enrol/", views.enrol, name="enrol"),
    path("confirm/", views.confirm, name="confirm"),
    path("recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path("disable/", views.disable, name="disable"),
    path("require/", views.require, name="require"),
]
