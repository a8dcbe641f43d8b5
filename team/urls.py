"""Account → Members, under /account/members/. The invitation link itself
(``invitation_accept``) is in config/urls.py: it is opened signed out too."""

from django.urls import path

from team import views

app_name = "team"

urlpatterns = [
    path("", views.member_list, name="member_list"),
    path("invite/", views.member_invite, name="member_invite"),
    path("<int:pk>/role/", views.member_role, name="member_role"),
    path("<int:pk>/remove/", views.member_remove, name="member_remove"),
    path("invitations/<int:pk>/withdraw/", views.invitation_withdraw, name="invitation_withdraw"),
]
