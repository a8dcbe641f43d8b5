"""Reset connectivity (docs/connectivity.md): from the detail page, in bulk
from the list (a job), and through the API; the session ends through the
disconnects feed, with History, audit and ``endpoint.connectivity_reset``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from events.models import AccountEvent
from inventory.models import History, HistoryAction, SessionTeardown, State
from jobs.models import Action, Job
from network.tokens import create_token
from portal.models import Role
from tests.api.conftest import ApiClient, make_token
from tests.confirming import confirm, text
from tests.factories import EndpointFactory, GroupFactory

pytestmark = pytest.mark.django_db
T0 = (datetime.now(UTC) - timedelta(minutes=30)).replace(microsecond=0)


@pytest.fixture
def online(account, group):
    """An endpoint with a data session open, as the core reported it."""
    endpoint = EndpointFactory(account=account, primary_group=group, state=State.IDLE, imsis=2)
    (result,) = Core().post(
        {
            "id": f"start-{endpoint.pk}",
            "type": "session_start",
            "imsi": endpoint.imsis.first().imsi,
            "at": T0.isoformat(),
        }
    )
    assert result["status"] == "accepted"
    return endpoint


class Core:
    def __init__(self):
        self.client = Client()
        self.token = create_token(f"core-{id(self)}")[1]

    def post(self, *events):
        response = self.client.post(
            reverse("api:network_events"),
            data=json.dumps({"events": list(events)}),
            content_type="application/json",
            headers={"Authorization": f"Bearer {self.token}"},
        )
        return response.json()["results"]

    def disconnects(self) -> list[dict]:
        response = self.client.get(
            reverse("api:network_disconnects"), headers={"Authorization": f"Bearer {self.token}"}
        )
        return response.json()["disconnects"]


def url(endpoint) -> str:
    return reverse("inventory:endpoint_reset", args=[endpoint.iccid])


def assert_reset(endpoint, *, actor_label: str) -> None:
    """The session ends at the core, the endpoint is unchanged otherwise, and
    History, audit and the account event say so."""
    teardowns = SessionTeardown.objects.filter(endpoint=endpoint)
    assert sorted(teardowns.values_list("imsi", "reason")) == sorted(
        (imsi, "reset") for imsi in endpoint.imsis.values_list("imsi", flat=True)
    )
    feed = Core().disconnects()
    assert {d["imsi"] for d in feed if d["iccid"] == endpoint.iccid} == set(
        endpoint.imsis.values_list("imsi", flat=True)
    )
    assert {d["reason"] for d in feed} == {"reset"}
    endpoint.refresh_from_db()
    assert endpoint.state == State.ACTIVE
    row = History.objects.get(endpoint=endpoint, action=HistoryAction.RESET)
    assert (row.from_state, row.to_state, row.actor_label) == ("active", "active", actor_label)
    event = AccountEvent.objects.get(type="endpoint.connectivity_reset")
    assert event.endpoint_id == endpoint.pk
    assert event.payload["action"] == "reset"
    assert event.payload["endpoint"]["iccid"] == endpoint.iccid
    assert AuditEvent.objects.filter(details__action="reset").exists()


def test_operator_resets_from_the_detail_page_and_the_device_connects_again(
    client, operator, online
):
    client.force_login(operator)
    detail = client.get(reverse("inventory:endpoint_detail", args=[online.iccid]))
    assert url(online) in detail.content.decode()
    page = client.get(url(online))
    assert "ends the current data session" in text(page)

    response = confirm(client, url(online), reason="modem hung")

    assert response.status_code == 302
    assert response["Location"] == reverse("inventory:endpoint_detail", args=[online.iccid])
    assert_reset(online, actor_label="op")
    assert History.objects.get(endpoint=online, action=HistoryAction.RESET).reason == "modem hung"
    # The core ends the session and the device's next one is accepted.
    imsi = online.imsis.first().imsi
    results = Core().post(
        {
            "id": "end-1",
            "type": "session_end",
            "imsi": imsi,
            "at": (T0 + timedelta(1 / 24 / 60)).isoformat(),
        },
        {
            "id": "start-2",
            "type": "session_start",
            "imsi": imsi,
            "at": (T0 + timedelta(2 / 24 / 60)).isoformat(),
        },
    )
    assert [r["status"] for r in results] == ["accepted", "accepted"]


def test_viewer_cannot_reset_and_sees_no_menu_entry(client, viewer, online):
    client.force_login(viewer)
    assert (
        url(online)
        not in client.get(
            reverse("inventory:endpoint_detail", args=[online.iccid])
        ).content.decode()
    )
    assert client.get(url(online)).status_code == 403
    assert client.post(url(online), {"confirm": "1"}).status_code == 403
    assert not SessionTeardown.objects.exists()


@pytest.mark.parametrize("state", [State.PENDING, State.SUSPENDED, State.TERMINATED])
def test_endpoints_out_of_service_are_not_reset(client, operator, account, group, state):
    from django.utils import timezone

    endpoint = EndpointFactory(
        account=account,
        state=state,
        primary_group=None if state == State.PENDING else group,
        terminated_at=timezone.now() if state == State.TERMINATED else None,
    )
    client.force_login(operator)
    detail = client.get(reverse("inventory:endpoint_detail", args=[endpoint.iccid]))
    assert url(endpoint) not in detail.content.decode()
    client.post(url(endpoint), {"confirm": "1"})
    assert not SessionTeardown.objects.exists()
    assert not History.objects.filter(action=HistoryAction.RESET).exists()


def test_another_accounts_endpoint_is_a_404(client, operator, other_account):
    group = GroupFactory(account=other_account)
    foreign = EndpointFactory(account=other_account, primary_group=group, state=State.ACTIVE)
    client.force_login(operator)
    assert client.get(url(foreign)).status_code == 404
    assert client.post(url(foreign), {"confirm": "1"}).status_code == 404
    assert not SessionTeardown.objects.exists()


def test_bulk_reset_from_the_list_is_a_job(client, operator, account, group, online):
    idle = EndpointFactory(account=account, primary_group=group, state=State.IDLE)
    pending = EndpointFactory(account=account)
    client.force_login(operator)
    response = confirm(
        client,
        reverse("inventory:endpoint_bulk_reset"),
        {"ids": [online.iccid, idle.iccid, pending.iccid]},
    )
    assert response.status_code == 302
    job = Job.objects.get(action=Action.RESET)
    assert (job.changed, job.total) == (2, 3)
    assert job.skipped == {"pending (not in a group)": 1}
    assert set(SessionTeardown.objects.values_list("endpoint_id", flat=True)) == {
        online.pk,
        idle.pk,
    }
    assert History.objects.filter(action=HistoryAction.RESET, batch=job.batch).count() == 2


# --- the API ------------------------------------------------------------------------


def test_api_resets_one_endpoint_and_refuses_a_suspended_one(account, group, online):
    api = ApiClient(make_token(account, Role.OPERATOR)[1])
    response = api.post(f"/api/v1/endpoints/{online.iccid}/reset", {"reason": "api reset"})
    assert response.status_code == 200, response.content
    assert response.json()["changed"] == 1
    assert_reset(online, actor_label="api:operator-token")

    suspended = EndpointFactory(account=account, primary_group=group, state=State.SUSPENDED)
    refused = api.post(f"/api/v1/endpoints/{suspended.iccid}/reset", {})
    assert refused.status_code == 409
    assert "skipped: suspended" in refused.json()["detail"]


def test_api_bulk_reset_is_a_job(account, group, online):
    api = ApiClient(make_token(account, Role.OPERATOR)[1])
    other = EndpointFactory(account=account, primary_group=group, state=State.DETACHED)
    response = api.post("/api/v1/bulk/reset", {"iccids": [online.iccid, other.iccid]})
    assert response.status_code == 202, response.content
    assert response.json()["action"] == "reset"
    assert response.json()["changed"] == 2
    assert SessionTeardown.objects.filter(reason="reset").count() == 3  # online has 2 IMSIs


def test_api_viewer_is_refused(account, online):
    api = ApiClient(make_token(account, Role.VIEWER)[1])
    assert api.post(f"/api/v1/endpoints/{online.iccid}/reset", {}).status_code == 403
    assert api.post("/api/v1/bulk/reset", {"iccids": [online.iccid]}).status_code == 403
    assert not SessionTeardown.objects.exists()
