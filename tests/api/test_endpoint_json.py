"""The endpoint list and detail are encoded straight from dicts (api/fast_json.py)
with their relations read in one query (api/page_relations.py), not through
the response schema. Their bytes must be exactly what the schema itself
serialises for the same data: the same fields in the same order, the same
types, the same date-time form. Rows with and without IMSIs, groups,
addresses, tags, key values and null fields."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from api.schemas.endpoints import EndpointOut, EndpointPage
from inventory.models import (
    IMSI,
    AllocationKind,
    Endpoint,
    IPAllocation,
    KeyValue,
    SecondaryMembership,
    State,
)
from tests.factories import EndpointFactory, GroupFactory

LIST = "/api/v1/endpoints"


@pytest.fixture
def rows(account, group):
    """A bare pending endpoint, and one with everything: two IMSIs inserted
    out of order, secondary groups and addresses whose names sort otherwise
    than their ids, key values inserted out of key order, times with and
    without microseconds."""
    # Created first, so its id is lower than the "alpha" group's.
    zulu = GroupFactory(account=account, name="zulu", vslice=group.vslice)
    alpha = GroupFactory(account=account, name="alpha", vslice=group.vslice)
    bare = EndpointFactory(account=account, imsis=0, name="", reference="", tags=[])
    full = EndpointFactory(
        account=account,
        imsis=0,
        state=State.ACTIVE,
        primary_group=group,
        name="truck 17 – Zürich",
        reference="VIN-WDB9634031L123456",
        tags=["fleet-a", "eu"],
        imei_lock_enabled=True,
        imei="490154203237518",
    )
    Endpoint.objects.filter(pk=full.pk).update(
        last_activity=datetime(2026, 12, 1, 9, 14, 2, 115_123, tzinfo=UTC),
        state_changed_at=datetime(2026, 11, 2, 10, 0, tzinfo=UTC),
    )
    for imsi in ("234150000000009", "234150000000001"):
        IMSI.objects.create(account=account, endpoint=full, imsi=imsi)
    for second in (zulu, alpha):
        SecondaryMembership.objects.create(account=account, endpoint=full, group=second)
    for address_group, address, kind in (
        (group, "100.64.0.17", AllocationKind.STATIC),
        (zulu, "100.64.0.18", AllocationKind.AUTO),
        (alpha, "100.64.0.19", AllocationKind.AUTO),
    ):
        IPAllocation.objects.create(
            account=account,
            endpoint=full,
            group=address_group,
            vslice=group.vslice,
            address=address,
            kind=kind,
        )
    pairs = (("vin", "WDB9634031L123456"), ("depot", "hamburg"), ("_x", ""), ("2nd", "ü"))
    for key, value in pairs:
        KeyValue.objects.create(account=account, endpoint=full, key=key, value=value)
    return bare, full


def schema_bytes(schema, content: bytes) -> bytes:
    """What ``schema`` serialises for the data of ``content``."""
    return schema.model_validate_json(content).model_dump_json().encode()


def test_the_list_is_byte_for_byte_the_schemas_serialisation(api, rows):
    response = api.get(LIST, {"limit": 10})
    assert response.status_code == 200
    assert response.content == schema_bytes(EndpointPage, response.content)
    assert len(response.json()["results"]) == 2


def test_the_detail_is_byte_for_byte_the_schemas_serialisation(api, rows):
    for endpoint in rows:
        response = api.get(f"{LIST}/{endpoint.iccid}")
        assert response.status_code == 200
        assert response.content == schema_bytes(EndpointOut, response.content)


def test_the_relations_are_in_their_documented_order(api, rows, group):
    bare, full = rows
    body = {row["iccid"]: row for row in api.get(LIST).json()["results"]}
    assert body[bare.iccid] == {
        "iccid": bare.iccid,
        "imsis": [],
        "name": "",
        "reference": "",
        "tags": [],
        "state": "pending",
        "primary_group": None,
        "secondary_groups": [],
        "imei_lock": {"enabled": False, "imei": ""},
        "ip_addresses": [],
        "key_values": {},
        "last_activity": None,
        "state_changed_at": body[bare.iccid]["state_changed_at"],
        "created_at": body[bare.iccid]["created_at"],
    }
    row = body[full.iccid]
    assert row["imsis"] == ["234150000000001", "234150000000009"]
    assert row["primary_group"] == group.name
    assert row["secondary_groups"] == ["alpha", "zulu"]
    assert row["ip_addresses"] == [
        {"group": "alpha", "address": "100.64.0.19", "kind": "auto"},
        {"group": group.name, "address": "100.64.0.17", "kind": "static"},
        {"group": "zulu", "address": "100.64.0.18", "kind": "auto"},
    ]
    assert list(row["key_values"].items()) == [
        ("2nd", "ü"),
        ("_x", ""),
        ("depot", "hamburg"),
        ("vin", "WDB9634031L123456"),
    ]
    assert row["last_activity"] == "2026-12-01T09:14:02.115123Z"
    assert row["state_changed_at"] == "2026-11-02T10:00:00Z"
    assert datetime.fromisoformat(row["created_at"]) <= timezone.now()
