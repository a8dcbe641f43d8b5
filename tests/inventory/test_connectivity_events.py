"""``endpoint.network_changed`` and ``endpoint.imei_changed`` from the network
batch (docs/webhooks.md): written set-based with the batch, once per change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from events.models import AccountEvent
from inventory.models import State
from network import batch as network
from tests.factories import EndpointFactory, imei_for

pytestmark = pytest.mark.django_db
T0 = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
_ids = count(1)


def ev(kind, endpoint, seconds, **extra) -> dict:
    return {
        "id": f"ce-{next(_ids)}",
        "type": kind,
        "imsi": endpoint.imsis.first().imsi,
        "at": (T0 + timedelta(seconds=seconds)).isoformat(),
        **extra,
    }


def events(type_: str) -> list[dict]:
    return [e.payload for e in AccountEvent.objects.filter(type=type_).order_by("id")]


@pytest.fixture
def idle(group):
    return EndpointFactory(account=group.account, state=State.IDLE, primary_group=group)


def test_a_move_to_another_operator_or_country_is_one_event_each(idle):
    network.apply_events(
        events=[
            ev("attach", idle, 0, plmn="23415", rat="4G"),  # the first network: no change
            ev("session_start", idle, 1, plmn="23415"),  # the same
            ev("session_end", idle, 2, plmn="26201", rat="LTE-M"),  # to Germany
        ]
    )
    network.apply_events(events=[ev("attach", idle, 3, plmn="20801", rat="NB-IoT")])

    changes = events("endpoint.network_changed")
    assert [(c["from"]["plmn"], c["to"]["plmn"]) for c in changes] == [
        ("23415", "26201"),
        ("26201", "20801"),
    ]
    first = changes[0]
    assert first["to"] == {
        "plmn": "26201",
        "operator": "Telekom",
        "country": "DE",
        "country_name": "Germany",
    }
    assert first["from"]["country"] == "GB"
    assert first["rat"] == "LTE-M"
    assert first["endpoint"]["iccid"] == idle.iccid
    assert first["version"] == 1 and first["network_event_id"].startswith("ce-")


def test_another_plmn_of_the_same_operator_and_country_is_no_change(idle):
    # 26201 and 26206 are both Telekom in Germany in python-stdnum's list.
    network.apply_events(
        events=[ev("attach", idle, 0, plmn="26201"), ev("detach", idle, 1, plmn="26206")]
    )
    assert events("endpoint.network_changed") == []
    assert idle.connectivity.plmn == "26206"


def test_a_stale_or_refused_event_changes_no_network(idle):
    network.apply_events(events=[ev("attach", idle, 10, plmn="23415")])
    network.apply_events(events=[ev("detach", idle, 5, plmn="26201")])  # stale
    assert events("endpoint.network_changed") == []


def test_a_new_imei_is_an_event_the_first_and_a_new_software_version_are_not(idle):
    device = imei_for(1)
    network.apply_events(
        events=[
            ev("attach", idle, 0, imei=device),  # first seen: no change
            ev("session_start", idle, 1, imei=device[:14] + "07"),  # IMEISV of the same
            ev("session_end", idle, 2, imei=imei_for(2)),  # another device
        ]
    )
    (change,) = events("endpoint.imei_changed")
    assert (change["from"], change["to"]) == (device, imei_for(2))
    assert change["endpoint"]["iccid"] == idle.iccid
