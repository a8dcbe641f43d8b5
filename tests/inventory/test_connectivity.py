"""The Connectivity card and ``GET /api/v1/endpoints/{iccid}/connectivity``:
each "why offline" rule of network/connectivity.py, from events posted
through the network API, read through the page and through the API."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from django.test import Client
from django.urls import reverse

from api.tokens import create_token as create_api_token
from inventory import lifecycle
from inventory.history import Actor
from inventory.models import (
    Connectivity,
    History,
    HistoryAction,
    NetworkEvent,
    OperatorPolicy,
    State,
)
from network.tokens import create_token
from portal.models import Role
from tests.factories import EndpointFactory, imei_for

T0 = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
_ids = count(1)


class Core:
    """The packet core, posting through the network API."""

    def __init__(self):
        self.client = Client()
        self.token = create_token("core-connectivity")[1]

    def post(self, *events: dict) -> list[dict]:
        response = self.client.post(
            reverse("api:network_events"),
            data=json.dumps({"events": list(events)}),
            content_type="application/json",
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert response.status_code == 200, response.content
        return response.json()["results"]


def ev(kind: str, endpoint, seconds: float = 0, **extra) -> dict:
    return {
        "id": f"c-{next(_ids)}",
        "type": kind,
        "imsi": endpoint.imsis.first().imsi,
        "at": (T0 + timedelta(seconds=seconds)).isoformat(),
        **extra,
    }


@pytest.fixture
def core(db) -> Core:
    return Core()


@pytest.fixture
def reader(client, viewer):
    client.force_login(viewer)
    return client


@pytest.fixture
def api(account):
    token = create_api_token(
        account=account, name="reader", role=Role.VIEWER, created_by=None, creator_role=None
    )[1]
    client = Client()
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def in_group(group, state=State.IDLE, **kwargs):
    return EndpointFactory(account=group.account, state=state, primary_group=group, **kwargs)


def card(client, endpoint) -> dict:
    response = client.get(reverse("inventory:endpoint_detail", args=[endpoint.iccid]))
    assert response.status_code == 200
    page = response.content.decode()
    section = re.search(
        r'<section class="card[^"]*"[^>]*data-testid="connectivity-card".*?</section>', page, re.S
    )
    assert section, "no Connectivity card"
    text = section.group(0)
    sentence = re.search(r'data-testid="connectivity-sentence">(.*?)</p>', text, re.S).group(1)
    return {
        "status": re.search(r'data-status="([a-z]+)"', text).group(1),
        "rule": re.search(r'data-rule="([a-z_]+)"', text).group(1),
        "sentence": html.unescape(re.sub(r"<[^>]+>", "", sentence)).strip(),
        "html": text,
    }


def connectivity(api, endpoint) -> dict:
    response = api.get(f"/api/v1/endpoints/{endpoint.iccid}/connectivity")
    assert response.status_code == 200, response.content
    return response.json()


def both(reader, api, endpoint) -> tuple[dict, dict]:
    """The card and the API answer, which must agree."""
    shown, answered = card(reader, endpoint), connectivity(api, endpoint)
    assert (shown["status"], shown["rule"]) == (answered["status"], answered["rule"])
    assert answered["sentence"] in shown["sentence"]
    return shown, answered


# --- online -----------------------------------------------------------------------


@pytest.mark.django_db
def test_online_names_the_operator_country_rat_session_and_imei(core, reader, api, group):
    endpoint = in_group(group)
    results = core.post(
        ev("attach", endpoint, 0, plmn="23415", rat="4G"),
        ev("session_start", endpoint, 1, plmn="23415", rat="4G", imei=imei_for(1)),
        ev("session_update", endpoint, 60, bytes_up=1500, bytes_down=250_000),
        ev("session_update", endpoint, 120, bytes_up=500, bytes_down=50_000),
    )
    assert {r["status"] for r in results} == {"accepted"}

    shown, answered = both(reader, api, endpoint)

    assert answered["status"] == "online" and answered["rule"] == "online"
    assert "Vodafone UK (United Kingdom)" in answered["sentence"]
    assert "(4G)" in answered["sentence"]
    assert answered["network"] == {
        "plmn": "23415",
        "operator": "Vodafone UK",
        "country": "GB",
        "country_name": "United Kingdom",
    }
    session = answered["session"]
    assert session["ended_at"] is None
    assert session["ip"] == results[1]["ip"]
    assert session["apn"] == group.apn
    assert (session["bytes_up"], session["bytes_down"]) == (2000, 300_000)
    assert answered["last_imei"] == imei_for(1)
    assert answered["last_refusal"] is None
    assert results[1]["ip"] in shown["html"] and "300.0 kB down" in shown["html"]


@pytest.mark.django_db
def test_a_session_reported_without_its_start_is_online_from_its_first_report(core, api, group):
    endpoint = in_group(group, state=State.ACTIVE)
    core.post(ev("session_update", endpoint, 10, bytes_up=7, bytes_down=9, plmn="26201"))
    answered = connectivity(api, endpoint)
    assert answered["rule"] == "online"
    assert answered["session"]["bytes_down"] == 9
    assert "Telekom (Germany)" in answered["sentence"]


# --- offline and attached ------------------------------------------------------------


@pytest.mark.django_db
def test_not_seen_since_says_when_and_on_which_network(core, reader, api, group):
    endpoint = in_group(group)
    core.post(
        ev("session_start", endpoint, 0, plmn="20801", rat="LTE-M"),
        ev("session_end", endpoint, 30, bytes_up=10, bytes_down=20),
        ev("detach", endpoint, 40),
    )
    shown, answered = both(reader, api, endpoint)
    assert answered["status"] == "offline" and answered["rule"] == "not_seen"
    when = (T0 + timedelta(seconds=40)).strftime("%Y-%m-%d %H:%M")
    assert answered["sentence"].startswith(f"Not seen since {when}")
    assert answered["sentence"].endswith("on Orange (France).")
    assert answered["session"]["ended_at"] is not None
    assert answered["rat"] == "LTE-M"


@pytest.mark.django_db
def test_attached_without_a_session(core, reader, api, group):
    endpoint = in_group(group, state=State.DETACHED)
    core.post(ev("attach", endpoint, 0, plmn="22210", rat="NB-IoT"))
    shown, answered = both(reader, api, endpoint)
    assert answered["status"] == "attached" and answered["rule"] == "attached"
    assert "Vodafone (Italy) (NB-IoT)" in answered["sentence"]
    assert answered["session"] is None


@pytest.mark.django_db
def test_never_attached(reader, api, group):
    endpoint = in_group(group, state=State.DETACHED)
    shown, answered = both(reader, api, endpoint)
    assert answered["rule"] == "never_attached"
    assert answered["sentence"] == "Never attached to the network."
    assert answered["network"] is None


@pytest.mark.django_db
def test_pending_is_not_in_service_yet(reader, api, account):
    endpoint = EndpointFactory(account=account)
    shown, answered = both(reader, api, endpoint)
    assert answered["rule"] == "pending"
    assert "pending until it is assigned to a group" in answered["sentence"]


# --- refused -------------------------------------------------------------------------


@pytest.mark.django_db
def test_imei_lock_refusal_names_the_imei_that_tried(core, reader, api, group):
    endpoint = in_group(group, imei_lock_enabled=True, imei=imei_for(1))
    tried = imei_for(2)
    start = ev("session_start", endpoint, 0, imei=tried, plmn="23415")
    (result,) = core.post(start)
    assert result["reason"] == "imei_mismatch"

    shown, answered = both(reader, api, endpoint)

    assert answered["status"] == "attached"  # refused: the device stays attached
    assert answered["rule"] == "refused"
    assert "because the IMEI lock refused the device" in answered["sentence"]
    assert f"IMEI {tried} tried" in answered["sentence"]
    assert answered["evidence"]["kind"] == "network_event"
    assert answered["evidence"]["id"] == start["id"]
    assert answered["last_refusal"]["imei"] == tried
    assert f"See network event {start['id']}" in shown["sentence"]
    assert f"?endpoint={endpoint.iccid}&amp;status=rejected" in shown["html"]


@pytest.mark.django_db
def test_operator_policy_refusal_names_the_network(core, reader, api, group):
    group.operator_policy = OperatorPolicy.BLOCK
    group.policy_countries = ["DE"]
    group.save()
    endpoint = in_group(group)
    (result,) = core.post(ev("session_start", endpoint, 0, plmn="26201", rat="4G"))
    assert result["reason"] == "operator_not_allowed"

    shown, answered = both(reader, api, endpoint)

    assert answered["rule"] == "refused"
    assert (
        "operator policy does not allow the network: Telekom (Germany) (PLMN 26201)"
        in (answered["sentence"])
    )
    assert answered["last_refusal"]["network"]["country"] == "DE"


@pytest.mark.django_db
def test_an_accepted_session_after_a_refusal_is_online_and_keeps_the_refusal(core, api, group):
    endpoint = in_group(group, imei_lock_enabled=True, imei=imei_for(1))
    core.post(
        ev("session_start", endpoint, 0, imei=imei_for(2)),
        ev("session_start", endpoint, 5, imei=imei_for(1)),
    )
    answered = connectivity(api, endpoint)
    assert answered["rule"] == "online"
    assert answered["last_refusal"]["reason"] == "imei_mismatch"


# --- suspended and data limit -------------------------------------------------------


@pytest.mark.django_db
def test_suspended_says_when_by_whom_and_why_and_links_the_history_row(
    core, reader, api, group, operator
):
    endpoint = in_group(group)
    core.post(ev("session_start", endpoint, 0, plmn="23415"))
    lifecycle.suspend(
        endpoints=type(endpoint).objects.filter(pk=endpoint.pk),
        actor=Actor.for_user(operator),
        reason="stolen vehicle",
    )
    row = History.objects.get(endpoint=endpoint, action=HistoryAction.SUSPEND)

    shown, answered = both(reader, api, endpoint)

    assert answered["status"] == "offline" and answered["rule"] == "suspended"
    assert answered["sentence"].startswith("Suspended on ")
    assert answered["sentence"].endswith("by op: stolen vehicle.")
    assert answered["evidence"] == {
        "kind": "history",
        "id": str(row.pk),
        "at": answered["evidence"]["at"],
    }
    history_url = reverse("inventory:endpoint_history", args=[endpoint.iccid])
    assert f'{history_url}#history-{row.pk}"' in shown["html"]
    page = reader.get(history_url).content.decode()
    assert f'id="history-{row.pk}"' in page


@pytest.mark.django_db
def test_at_its_data_limit(core, reader, api, group):
    group.data_allowance_mb = 1
    group.save()
    endpoint = in_group(group)
    core.post(
        ev("session_start", endpoint, 0, plmn="23415"),
        ev("session_end", endpoint, 60, bytes_up=400_000, bytes_down=700_000),
    )
    shown, answered = both(reader, api, endpoint)
    assert answered["rule"] == "data_limit"
    assert "Reached its monthly data allowance of 1.0 MB" in answered["sentence"]


# --- the API's edges ----------------------------------------------------------------


@pytest.mark.django_db
def test_another_accounts_endpoint_is_a_404(api, other_account):
    foreign = EndpointFactory(account=other_account)
    response = api.get(f"/api/v1/endpoints/{foreign.iccid}/connectivity")
    assert response.status_code == 404


@pytest.mark.django_db
def test_the_card_costs_a_fixed_number_of_queries(
    core, reader, group, django_assert_max_num_queries
):
    endpoint = in_group(group)
    core.post(ev("session_start", endpoint, 0, plmn="23415"))
    assert Connectivity.objects.filter(endpoint=endpoint).exists()
    with django_assert_max_num_queries(8):
        reader.get(reverse("inventory:endpoint_detail", args=[endpoint.iccid]))


# --- the contract's new fields ---------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("plmn", "2341", "bad_plmn"),
        ("plmn", "2341567", "bad_plmn"),
        ("plmn", 23415, "bad_plmn"),
        ("plmn", "2341a", "bad_plmn"),
        ("plmn", "２３４１５", "bad_plmn"),
        ("rat", "6G", "bad_rat"),
        ("rat", "lte-m", "bad_rat"),
        ("rat", ["4G"], "bad_rat"),
        ("rat", 4, "bad_rat"),
    ],
)
def test_a_bad_plmn_or_rat_is_invalid_with_its_reason_and_stores_nothing(
    core, group, field, value, reason
):
    endpoint = in_group(group)
    (result,) = core.post(ev("attach", endpoint, 0, **{field: value}))
    assert (result["status"], result["reason"]) == ("invalid", reason)
    assert not NetworkEvent.objects.exists()
    assert not Connectivity.objects.exists()


@pytest.mark.django_db
def test_plmn_and_rat_are_stored_with_the_event(core, group):
    endpoint = in_group(group)
    start = ev("session_start", endpoint, 0, plmn="310260", rat="5G")
    core.post(start)
    stored = NetworkEvent.objects.get(event_id=start["id"])
    assert (stored.plmn, stored.rat) == ("310260", "5G")
