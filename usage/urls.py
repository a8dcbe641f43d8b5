"""The usage screens, in the inventory's URL namespace (included by
inventory/urls.py, whose ``iccid`` converter they use): Inventory → Dashboard
and the endpoint's Usage tab."""

from django.urls import path

from usage import views

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("endpoints/<iccid:iccid>/usage/", views.endpoint_usage, name="endpoint_usage"),
]
