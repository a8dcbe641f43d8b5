"""The API and the portal list the same endpoints in the same order for the
same filters and sort: one table of cases, both read through their own URLs."""

from __future__ import annotations

import pytest
from django.utils import timezone

from inventory.models import State
from tests.factories import EndpointFactory, GroupFactory

CASES = [
    {},
    {"sort": "-iccid"},
    {"state": ["active", "idle"]},
    {"state": ["suspended"], "sort": "name"},
    {"tag": "eu"},
    {"q": "truck"},
    {"q": "truck 1"},
    {"sort": "group"},
    {"sort": "-group", "state": ["active"]},
    {"sort": "last_activity"},
    {"sort": "-last_activity", "tag": "us"},
    {"sort": "state"},
    {"group": "alpha"},
    {"group": "beta", "sort": "-name"},
]


@pytest.fixture
def fleet(account):
    alpha = GroupFactory(account=account, name="alpha", vslice__subnet="100.64.0.0/16")
    beta = GroupFactory(account=account, name="beta", vslice=alpha.vslice)
    now = timezone.now()
    states = [State.ACTIVE, State.IDLE, State.SUSPENDED, State.DETACHED]
    for i in range(60):
        EndpointFactory(
            account=account,
            state=states[i % 4],
            primary_group=alpha if i % 3 else beta,
            name=f"truck {i % 17}",
            tags=["eu"] if i % 2 else ["us"],
            last_activity=None if i % 5 == 0 else now - timezone.timedelta(minutes=i % 7),
        )


def _portal_iccids(client, params: dict, groups: dict) -> list[str]:
    query = {**params}
    if "group" in query:
        query["group"] = groups[query["group"]]
    seen, after = [], None
    while True:
        response = client.get(
            "/inventory/endpoints/",
            {**query, "per_page": 25, **({"after": after} if after else {})},
        )
        page = response.context["list"].page
        seen += [row.iccid for row in page.rows]
        if not page.next_cursor:
            return seen
        after = page.next_cursor


def _api_iccids(api, params: dict) -> list[str]:
    seen, cursor = [], None
    while True:
        body = api.get(
            "/api/v1/endpoints", {**params, "limit": 25, **({"cursor": cursor} if cursor else {})}
        ).json()
        seen += [row["iccid"] for row in body["results"]]
        if not (cursor := body["next"]):
            return seen


@pytest.mark.parametrize("params", CASES, ids=[str(case) for case in CASES])
def test_same_endpoints_in_the_same_order(api, client, viewer, account, fleet, params):
    from inventory.models import Group

    groups = {g.name: str(g.pk) for g in Group.objects.filter(account=account)}
    client.force_login(viewer)
    portal = _portal_iccids(client, params, groups)
    assert portal, params
    assert _api_iccids(api, params) == portal
