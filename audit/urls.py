"""Account → Audit log, under /account/audit-log/."""

from django.urls import path

from audit import views

app_name = "audit"

urlpatterns = [
    path("", views.audit_log, name="audit_log"),
    path("export/", views.audit_export, name="audit_export"),
]
