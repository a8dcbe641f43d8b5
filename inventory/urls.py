"""The operator screens: Inventory → Dashboard, Endpoints, Groups and Network events.

Explicit paths, one view each; an ICCID in the URL is looked up inside the
current account only (another account's endpoint is a 404)."""

from django.urls import include, path, register_converter

from inventory.views import (
    activation,
    activity,
    endpoint_actions,
    endpoint_bulk,
    endpoint_bulk_key_value,
    endpoint_detail,
    endpoint_edit,
    endpoint_list,
    events,
    groups,
)

app_name = "inventory"


class IccidConverter:
    """An ICCID-shaped path segment: 19–20 ASCII digits, as
    ``identifiers.is_iccid_shaped``. Anything else (a NUL, a newline, other
    scripts' digits) is a 404 before a view runs or the database sees it."""

    regex = "[0-9]{19,20}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(IccidConverter, "iccid")

urlpatterns = [
    # The dashboard and the endpoint's Usage tab: usage/urls.py, in this namespace.
    path("", include("usage.urls")),
    path("endpoints/", endpoint_list.endpoint_list, name="endpoint_list"),
    path("endpoints/export.csv", endpoint_list.endpoint_export, name="endpoint_export"),
    path("endpoints/bulk/assign/", endpoint_bulk.bulk_assign, name="endpoint_bulk_assign"),
    path("endpoints/bulk/suspend/", endpoint_bulk.bulk_suspend, name="endpoint_bulk_suspend"),
    path("endpoints/bulk/reset/", endpoint_bulk.bulk_reset, name="endpoint_bulk_reset"),
    path("endpoints/bulk/terminate/", endpoint_bulk.bulk_terminate, name="endpoint_bulk_terminate"),
    path(
        "endpoints/bulk/set-key-value/",
        endpoint_bulk_key_value.bulk_set_key_value,
        name="endpoint_bulk_set_key_value",
    ),
    path("endpoints/<iccid:iccid>/", endpoint_detail.overview, name="endpoint_detail"),
    path(
        "endpoints/<iccid:iccid>/ip-addresses/", endpoint_detail.ip_addresses, name="endpoint_ips"
    ),
    path("endpoints/<iccid:iccid>/history/", endpoint_detail.history, name="endpoint_history"),
    path(
        "endpoints/<iccid:iccid>/key-values/",
        endpoint_detail.key_values,
        name="endpoint_key_values",
    ),
    path("endpoints/<iccid:iccid>/edit/", endpoint_edit.edit, name="endpoint_edit"),
    path("endpoints/<iccid:iccid>/suspend/", endpoint_actions.suspend, name="endpoint_suspend"),
    path("endpoints/<iccid:iccid>/reset/", endpoint_actions.reset, name="endpoint_reset"),
    path(
        "endpoints/<iccid:iccid>/terminate/", endpoint_actions.terminate, name="endpoint_terminate"
    ),
    path("activate/", activation.activate_sims, name="activate"),
    path("groups/", groups.group_list, name="group_list"),
    path("groups/new/", groups.group_create, name="group_create"),
    path("groups/<int:pk>/edit/", groups.group_edit, name="group_edit"),
    path("groups/<int:pk>/delete/", groups.group_delete, name="group_delete"),
    path("events/", events.event_list, name="event_list"),
    path("activity/", activity.activity_list, name="activity_list"),
]
