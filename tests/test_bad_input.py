"""Each bad input that answered a 500 (#10), as the user, support or the packet
core met it: now a clear answer, and nothing changed.

``test_fuzz.py`` hunts for more of the kind; this module pins the ones found.
It doubles as a test-only URLConf: the portal's URLs plus an API view that fails
on purpose, to see what a 500 under the API prefix answers."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.urls import include, path

from inventory.models import State
from tests.factories import EndpointFactory


def _api_boom(request):
    raise RuntimeError("the network API failed")


urlpatterns = [path("api/v1/network/boom", _api_boom), path("", include("portal.urls"))]
handler400 = "portal.views.bad_request"
handler403 = "portal.views.permission_denied"
handler404 = "portal.views.page_not_found"
handler500 = "portal.views.server_error"

pytestmark = pytest.mark.django_db

NOT_FOUND = "There is nothing at this address"

# --- an ICCID in the URL ---------------------------------------------------------------

DETAIL_SUFFIXES = ["", "ip-addresses/", "history/", "edit/", "suspend/", "terminate/"]
NOT_ICCIDS = [
    "\x00",
    "8944\x00",
    "\x00\n2026-01-05 10:12:01,118 INFO portal.request action=terminate changed=12000",
    "8" * 19 + "\n",
    "８" * 19,  # full-width digits
    "²" * 19,
    "89440000000000000000000",  # 23 digits
    "abc",
]


@pytest.mark.parametrize("suffix", DETAIL_SUFFIXES)
@pytest.mark.parametrize("value", NOT_ICCIDS, ids=repr)
def test_a_path_value_that_is_no_iccid_is_a_404_on_every_detail_url(
    client, admin_member, account, group, suffix, value
):
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    client.force_login(admin_member)
    url = f"/inventory/endpoints/{quote(value, safe='')}/{suffix}"

    for response in (client.get(url), client.post(url, {"confirm": "1", "name": "x"})):
        assert response.status_code == 404, url
        assert NOT_FOUND in response.content.decode()
    endpoint.refresh_from_db()
    assert (endpoint.state, endpoint.name) == (State.ACTIVE, "")


def test_a_real_iccid_still_opens_every_tab(client, admin_member, account, group):
    endpoint = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    client.force_login(admin_member)
    for suffix in DETAIL_SUFFIXES:
        response = client.get(f"/inventory/endpoints/{endpoint.iccid}/{suffix}")
        assert response.status_code == 200, suffix
        assert endpoint.iccid in response.content.decode()
