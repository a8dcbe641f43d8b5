"""The packet core's JSON API (token auth, no session, no CSRF)."""

from django.urls import path

from network import api

app_name = "api"

urlpatterns = [
    path("network/events", api.network_events, name="network_events"),
    path("network/disconnects", api.network_disconnects, name="network_disconnects"),
]
