"""The API's activations and key values: the same rule, limits and refusals as
the portal, ``key_values`` in the endpoint, PATCH merge and replace, the
``kv`` filter agreeing with the portal's list, and tenancy."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from inventory import activation_codes
from inventory.activation import MAX_FAILURES, REFUSED
from inventory.models import ActivationFailure, Endpoint, History, HistoryAction, KeyValue, StockSim
from portal.models import Role
from tests.factories import EndpointFactory, iccid_for, imsi_for

pytestmark = pytest.mark.django_db

CODE = "ABCD-EFGH-2345"


def stock(n: int) -> StockSim:
    return StockSim.objects.create(
        iccid=iccid_for(800_000 + n),
        imsis=[imsi_for(800_000 + n)],
        code_hash=activation_codes.make_hash(activation_codes.clean_code(CODE)),
    )


def put(endpoint, **pairs) -> None:
    KeyValue.objects.bulk_create(
        KeyValue(account_id=endpoint.account_id, endpoint=endpoint, key=k, value=v)
        for k, v in pairs.items()
    )


# --- activations ---------------------------------------------------------------------


def test_activation_creates_a_pending_endpoint_of_the_tokens_account(api_as, account):
    sim = stock(1)
    response = api_as(Role.OPERATOR).post(
        "/api/v1/activations", {"iccid": sim.iccid, "activation_code": "abcdefgh2345"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["iccid"] == sim.iccid and body["state"] == "pending"
    assert body["imsis"] == sim.imsis and body["key_values"] == {}
    endpoint = Endpoint.objects.get(iccid=sim.iccid)
    assert endpoint.account == account
    entry = History.objects.get(endpoint=endpoint)
    assert entry.action == HistoryAction.ACTIVATED and entry.actor_label.startswith("api:")


def test_viewer_tokens_may_not_activate(api_as):
    sim = stock(1)
    response = api_as(Role.VIEWER).post(
        "/api/v1/activations", {"iccid": sim.iccid, "activation_code": CODE}
    )
    assert response.status_code == 403
    assert not Endpoint.objects.exists()


def test_the_three_failures_answer_identically(api_as, account, other_account):
    claimed = stock(1)
    api_as(Role.OPERATOR, on=other_account).post(
        "/api/v1/activations", {"iccid": claimed.iccid, "activation_code": CODE}
    )
    wrong = stock(2)
    client = api_as(Role.OPERATOR)
    answers = []
    for iccid, code in (
        (iccid_for(555_555), CODE),
        (wrong.iccid, "WRONGCODE77"),
        (claimed.iccid, CODE),
    ):
        response = client.post("/api/v1/activations", {"iccid": iccid, "activation_code": code})
        body = response.json()
        body.pop("instance", None)
        body.pop("request_id", None)
        answers.append((response.status_code, tuple(sorted(body.items()))))
    assert len(set(answers)) == 1, answers
    status, body = answers[0]
    assert status == 422 and REFUSED in dict(body)["detail"]
    assert Endpoint.objects.filter(account=account).count() == 0


def test_malformed_fields_are_named_and_not_counted(api_as):
    response = api_as(Role.OPERATOR).post(
        "/api/v1/activations", {"iccid": "8944", "activation_code": "x"}
    )
    assert response.status_code == 422
    fields = [error["field"] for error in response.json()["errors"]]
    assert fields == ["body.iccid", "body.activation_code"]
    assert not ActivationFailure.objects.exists()


def test_a_token_is_blocked_after_ten_failures(api_as):
    sim = stock(1)
    client = api_as(Role.OPERATOR)
    for n in range(MAX_FAILURES):
        response = client.post(
            "/api/v1/activations", {"iccid": sim.iccid, "activation_code": f"WRONGCODE{n}"}
        )
        assert response.status_code == 422
    response = client.post("/api/v1/activations", {"iccid": sim.iccid, "activation_code": CODE})
    assert response.status_code == 429
    assert 3500 < int(response["Retry-After"]) <= 3600
    assert not Endpoint.objects.exists()


# --- key values ----------------------------------------------------------------------


def test_key_values_are_in_the_endpoint(api, account):
    endpoint = EndpointFactory(account=account)
    put(endpoint, depot="hamburg", vin="W0L1")
    body = api.get(f"/api/v1/endpoints/{endpoint.iccid}").json()
    assert body["key_values"] == {"depot": "hamburg", "vin": "W0L1"}
    listed = api.get("/api/v1/endpoints").json()["results"]
    assert listed[0]["key_values"] == {"depot": "hamburg", "vin": "W0L1"}


def test_patch_merges_by_default_and_replaces_when_asked(api_as, account):
    endpoint = EndpointFactory(account=account)
    put(endpoint, depot="hamburg", vin="W0L1")
    client = api_as(Role.OPERATOR)
    url = f"/api/v1/endpoints/{endpoint.iccid}"

    merged = client.patch(url, {"key_values": {"depot": "berlin", "vin": None, "new": "1"}})
    assert merged.status_code == 200, merged.content
    assert merged.json()["key_values"] == {"depot": "berlin", "new": "1"}

    replaced = client.patch(url, {"key_values": {"only": "x"}, "key_values_mode": "replace"})
    assert replaced.json()["key_values"] == {"only": "x"}
    rows = History.objects.filter(endpoint=endpoint, action=HistoryAction.KEY_VALUES)
    assert rows.count() == 2

    bad = client.patch(url, {"key_values": {"only": None}, "key_values_mode": "replace"})
    assert bad.status_code == 422


def test_a_refused_pair_saves_nothing_of_the_patch(api_as, account):
    endpoint = EndpointFactory(account=account, name="before")
    client = api_as(Role.OPERATOR)
    response = client.patch(
        f"/api/v1/endpoints/{endpoint.iccid}",
        {"name": "after", "key_values": {"Bad Key": "1", "note": "y" * 1025}},
    )
    assert response.status_code == 422
    messages = [e["message"] for e in response.json()["errors"]]
    assert any("is not a valid key" in m for m in messages)
    assert any("1,025 characters; at most 1,024" in m for m in messages)
    assert {e["field"] for e in response.json()["errors"]} == {"body.key_values"}
    endpoint.refresh_from_db()
    assert endpoint.name == "before"
    assert not KeyValue.objects.exists() and not History.objects.exists()


def test_another_accounts_endpoint_is_a_404(api_as, other_account):
    theirs = EndpointFactory(account=other_account)
    put(theirs, depot="secret")
    client = api_as(Role.ADMIN)
    assert (
        client.patch(f"/api/v1/endpoints/{theirs.iccid}", {"key_values": {"a": "1"}}).status_code
        == 404
    )
    assert client.get("/api/v1/endpoints", {"kv": "depot:secret"}).json()["results"] == []
    assert KeyValue.objects.get(endpoint=theirs).value == "secret"


def test_the_kv_filter_agrees_with_the_portal_list(api, client, operator, account, other_account):
    endpoints = [EndpointFactory(account=account) for _ in range(7)]
    for endpoint in endpoints[::2]:
        put(endpoint, depot="hamburg")
    put(endpoints[1], depot="berlin")
    put(EndpointFactory(account=other_account), depot="hamburg")
    client.force_login(operator)

    listed = []
    cursor = None
    while True:
        params = {"kv": "depot:hamburg", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/v1/endpoints", params).json()
        listed += [row["iccid"] for row in page["results"]]
        cursor = page["next"]
        if not cursor:
            break
    portal = client.get(reverse("inventory:endpoint_list"), {"kv": "depot:hamburg"})
    shown = re.findall(
        r'<td class="mono"><a href="/inventory/endpoints/(\d+)/">', portal.content.decode()
    )
    assert listed == shown == sorted(e.iccid for e in endpoints[::2])
    bad = api.get("/api/v1/endpoints", {"kv": "depot"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.kv"


def test_the_openapi_document_has_the_new_operations(api):
    document = api.get("/api/v1/openapi.json").json()
    assert "post" in document["paths"]["/api/v1/activations"]
    endpoint = document["components"]["schemas"]["EndpointOut"]
    assert "key_values" in endpoint["properties"]
    parameters = document["paths"]["/api/v1/endpoints"]["get"]["parameters"]
    assert "kv" in {p["name"] for p in parameters}
