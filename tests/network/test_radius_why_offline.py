"""Why an endpoint is offline (network/connectivity.py, docs/connectivity.md),
from what a gateway sends over RADIUS rather than the JSON API: every rule a
RADIUS exchange can produce, with the real packets sent by radclient to
``manage.py radius``, read back from the Connectivity card of the endpoint page
and ``GET /api/v1/endpoints/{iccid}/connectivity`` (which must agree).

Rules no RADIUS exchange can produce are left to tests/inventory/test_connectivity.py:
``never_attached`` (RADIUS only speaks of endpoints it has seen) and
``not_seen`` (RADIUS has no detach; an ended session leaves the endpoint
attached). An unknown IMSI has no endpoint, hence no card: its Access-Reject
and rejected network event are checked instead. RADIUS names the endpoint by
IMSI only, so there is no unknown-ICCID case."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.test import Client
from django.urls import reverse

from api.tokens import create_token
from inventory import lifecycle
from inventory.history import Actor
from inventory.models import (
    Connectivity,
    Endpoint,
    History,
    HistoryAction,
    NetworkEvent,
    OperatorPolicy,
    State,
)
from network.models import RadiusClient
from portal.models import Role
from tests.factories import EndpointFactory, GroupFactory, imei_for
from tests.inventory.test_connectivity import both, connectivity
from tests.network.radius_peers import SECRET, RadiusProcess, radclient

APN = "iot.vantiq.example"
#: Vodafone UK: what the gateway reports unless a case says otherwise.
HOME = "23415"


@pytest.fixture
def nas(transactional_db) -> RadiusClient:
    client = RadiusClient(name="pgw-1", address="127.0.0.1/32")
    client.set_secret(SECRET)
    client.save()
    return client


@pytest.fixture
def radius(nas, tmp_path):
    server = RadiusProcess(tmp_path / "radius.log")
    yield server
    server.stop()


@pytest.fixture
def api(account):
    token = create_token(
        account=account, name="reader", role=Role.VIEWER, created_by=None, creator_role=None
    )[1]
    client = Client()
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


@pytest.fixture
def reader(client, viewer):
    client.force_login(viewer)
    return client


# --- what the gateway sends -----------------------------------------------------------


def access(imsi: str, *, apn: str = APN, plmn: str = HOME, imeisv: str = "") -> list[str]:
    lines = [
        f'User-Name = "{imsi}"',
        f'3GPP-IMSI = "{imsi}"',
        f'Called-Station-Id = "{apn}"',
        f'3GPP-SGSN-MCC-MNC = "{plmn}"',
        "3GPP-RAT-Type = EUTRAN",
    ]
    if imeisv:
        lines.append(f'3GPP-IMEISV = "{imeisv}"')
    return lines


def accounting(imsi: str, status: str, *counters: str, plmn: str = HOME) -> list[str]:
    return [
        f'User-Name = "{imsi}"',
        f'3GPP-IMSI = "{imsi}"',
        f'Called-Station-Id = "{APN}"',
        f'3GPP-SGSN-MCC-MNC = "{plmn}"',
        "3GPP-RAT-Type = EUTRAN",
        f"Acct-Status-Type = {status}",
        'Acct-Session-Id = "why-1"',
        *counters,
    ]


def imeisv(n: int) -> str:
    """The IMEISV a device with ``imei_for(n)`` presents: 14 digits and a
    software version (the lock compares the first 14)."""
    return imei_for(n)[:14] + "07"


@dataclass(frozen=True)
class Case:
    """One rule: the endpoint as it is before, what the gateway sends (kind and
    attributes, the endpoint's IMSI given), the last answer, and the card."""

    rule: str
    status: str
    sends: Callable[[str], list[tuple[str, list[str]]]]
    answer: tuple[str, str | None]
    sentence: tuple[str, ...]
    evidence: str | None = None
    state: State = State.IDLE
    endpoint: dict = field(default_factory=dict)
    group: dict = field(default_factory=dict)
    before: str = ""


CASES = [
    Case(
        rule="suspended",
        status="offline",
        before="suspend",
        sends=lambda imsi: [("auth", access(imsi))],
        answer=("Access-Reject", "suspended"),
        sentence=("Suspended on ", "by op: stolen vehicle."),
        evidence="history",
    ),
    Case(
        rule="terminated",
        status="offline",
        before="terminate",
        sends=lambda imsi: [("auth", access(imsi))],
        answer=("Access-Reject", "terminated"),
        sentence=("Terminated on ", "by op."),
        evidence="history",
    ),
    Case(
        rule="pending",
        status="offline",
        state=State.PENDING,
        sends=lambda imsi: [("auth", access(imsi))],
        answer=("Access-Reject", "pending"),
        sentence=("Not in service yet: it is pending until it is assigned to a group.",),
    ),
    Case(
        rule="refused",
        status="attached",
        sends=lambda imsi: [("auth", access(imsi, apn="internet.other.example"))],
        answer=("Access-Reject", "unknown_apn"),
        sentence=(
            "Last session refused on ",
            "because the device asked for an APN none of its groups has.",
        ),
        evidence="network_event",
    ),
    Case(
        rule="refused",
        status="attached",
        endpoint={"imei_lock_enabled": True, "imei": imei_for(1)},
        sends=lambda imsi: [("auth", access(imsi, imeisv=imeisv(2)))],
        answer=("Access-Reject", "imei_mismatch"),
        sentence=(
            "Last session refused on ",
            "because the IMEI lock refused the device: IMEI ",
            " tried.",
        ),
        evidence="network_event",
    ),
    Case(
        rule="refused",
        status="attached",
        group={"operator_policy": OperatorPolicy.BLOCK, "policy_countries": ["DE"]},
        sends=lambda imsi: [("auth", access(imsi, plmn="26201"))],
        answer=("Access-Reject", "operator_not_allowed"),
        sentence=(
            "Last session refused on ",
            "because the group's operator policy does not allow the network: "
            "Telekom (Germany) (PLMN 26201).",
        ),
        evidence="network_event",
    ),
    Case(
        rule="refused",
        status="attached",
        group={"operator_policy": OperatorPolicy.ALLOW, "policy_plmns": ["23415"]},
        sends=lambda imsi: [("auth", access(imsi, plmn="20801"))],
        answer=("Access-Reject", "operator_not_allowed"),
        sentence=("Last session refused on ", ": Orange (France) (PLMN 20801)."),
        evidence="network_event",
    ),
    Case(
        rule="online",
        status="online",
        sends=lambda imsi: [
            ("auth", access(imsi)),
            ("acct", accounting(imsi, "Start")),
            (
                "acct",
                accounting(
                    imsi, "Interim-Update", "Acct-Input-Octets = 1500", "Acct-Output-Octets = 25000"
                ),
            ),
        ],
        answer=("Accounting-Response", None),
        sentence=("Online since ", " on Vodafone UK (United Kingdom) (4G)."),
    ),
    Case(
        rule="attached",
        status="attached",
        sends=lambda imsi: [
            ("acct", accounting(imsi, "Start")),
            (
                "acct",
                accounting(imsi, "Stop", "Acct-Input-Octets = 10", "Acct-Output-Octets = 20"),
            ),
        ],
        answer=("Accounting-Response", None),
        sentence=(
            "Attached on Vodafone UK (United Kingdom) (4G) since ",
            "without a data session.",
        ),
    ),
    Case(
        rule="data_limit",
        status="attached",
        group={"data_allowance_mb": 1},
        sends=lambda imsi: [
            ("acct", accounting(imsi, "Start")),
            (
                "acct",
                accounting(
                    imsi, "Stop", "Acct-Input-Octets = 400000", "Acct-Output-Octets = 700000"
                ),
            ),
        ],
        answer=("Accounting-Response", None),
        sentence=("Reached its monthly data allowance of 1.0 MB on ",),
    ),
]


def _id(case: Case) -> str:
    return case.answer[1] or case.rule


def prepare(case: Case, account, operator) -> Endpoint:
    group = GroupFactory(
        account=account, name="fleet", apn=APN, vslice__subnet="100.64.0.0/16", **case.group
    )
    endpoint = EndpointFactory(
        account=account,
        state=case.state,
        primary_group=None if case.state == State.PENDING else group,
        **case.endpoint,
    )
    if case.before:
        change = getattr(lifecycle, case.before)
        change(
            endpoints=Endpoint.objects.filter(pk=endpoint.pk),
            actor=Actor.for_user(operator),
            reason="stolen vehicle" if case.before == "suspend" else "",
        )
    return endpoint


def evidence_action(case: Case) -> HistoryAction:
    return HistoryAction.SUSPEND if case.before == "suspend" else HistoryAction.TERMINATE


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_the_card_says_why_from_what_radius_reported(
    case, account, operator, nas, radius, reader, api
):
    endpoint = prepare(case, account, operator)
    imsi = endpoint.imsis.first().imsi
    for kind, attributes in case.sends(imsi):
        answer = radclient(
            radius.auth_port if kind == "auth" else radius.acct_port, kind, attributes
        )
        assert answer is not None, (kind, attributes)
    assert (answer.code, answer.get("Reply-Message")) == case.answer
    assert answer.get("Message-Authenticator")

    shown, answered = both(reader, api, endpoint)

    assert (answered["status"], answered["rule"]) == (case.status, case.rule)
    assert answered["sentence"].startswith(case.sentence[0]), answered["sentence"]
    for fragment in case.sentence:
        assert fragment in answered["sentence"], answered["sentence"]
    evidence = answered["evidence"]
    assert (evidence or {}).get("kind") == case.evidence
    if case.evidence == "history":
        # The card links the History row that put the endpoint in its state.
        row = History.objects.get(endpoint=endpoint, action=evidence_action(case))
        assert evidence["id"] == str(row.pk)
        history_url = reverse("inventory:endpoint_history", args=[endpoint.iccid])
        assert f'{history_url}#history-{row.pk}"' in shown["html"]
    if case.evidence == "network_event":
        # The refusal rests on the RADIUS request's own network event, which
        # the card names and whose rejected events it links.
        event = NetworkEvent.objects.get(event_id=evidence["id"])
        assert event.event_id.startswith(f"radius-{nas.pk}-auth-")
        assert (event.status, event.reason) == ("rejected", case.answer[1])
        assert answered["last_refusal"]["reason"] == case.answer[1]
        assert f"See network event {event.event_id}" in shown["sentence"]
        assert f"?endpoint={endpoint.iccid}&amp;status=rejected" in shown["html"]
    if case.status == "online":
        session = answered["session"]
        assert session["ended_at"] is None and session["apn"] == APN
        assert (session["bytes_up"], session["bytes_down"]) == (1500, 25000)
    if case.rule in {"online", "attached"}:
        assert answered["rat"] == "4G"
        assert answered["network"] == {
            "plmn": HOME,
            "operator": "Vodafone UK",
            "country": "GB",
            "country_name": "United Kingdom",
        }


@pytest.mark.django_db(transaction=True)
def test_the_imei_that_tried_is_named_and_an_accepted_device_goes_online(
    account, operator, radius, api
):
    group = GroupFactory(account=account, apn=APN, vslice__subnet="100.64.0.0/16")
    endpoint = EndpointFactory(
        account=account,
        state=State.IDLE,
        primary_group=group,
        imei_lock_enabled=True,
        imei=imei_for(1),
    )
    imsi = endpoint.imsis.first().imsi
    refused = radclient(radius.auth_port, "auth", access(imsi, imeisv=imeisv(2)))
    assert refused.get("Reply-Message") == "imei_mismatch"
    answered = connectivity(api, endpoint)
    tried = answered["last_refusal"]["imei"]
    assert imeisv(2).startswith(tried[:14])
    assert f"IMEI {tried} tried" in answered["sentence"]

    # The right device then: online, the refusal kept beneath.
    accepted = radclient(radius.auth_port, "auth", access(imsi, imeisv=imeisv(1)))
    assert accepted.code == "Access-Accept"
    answered = connectivity(api, endpoint)
    assert answered["rule"] == "online"
    assert answered["last_refusal"]["reason"] == "imei_mismatch"
    assert answered["last_imei"][:14] == imei_for(1)[:14]


@pytest.mark.django_db(transaction=True)
def test_an_unknown_imsi_is_rejected_and_recorded_without_an_endpoint(radius):
    answer = radclient(radius.auth_port, "auth", access("001019999999999"))
    assert (answer.code, answer.get("Reply-Message")) == ("Access-Reject", "unknown_imsi")
    event = NetworkEvent.objects.get()
    assert (event.status, event.reason, event.endpoint_id) == ("rejected", "unknown_imsi", None)
    assert not Connectivity.objects.exists()
