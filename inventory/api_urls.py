"""The packet core's JSON API (token auth, no session, no CSRF)."""


app_name = "api"

urlpatterns: list = []
