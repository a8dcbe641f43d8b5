"""Suspend and terminate one endpoint from its detail page: GET confirms, POST
acts and returns to the detail page; another account's ICCID is a 404."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from inventory.models import Endpoint, History, State
from tests.confirming import hidden_fields, text
from tests.factories import EndpointFactory, GroupFactory


def url(name: str, endpoint) -> str:
    return reverse(f"inventory:endpoint_{name}", args=[endpoint.iccid])


def state_of(endpoint) -> str:
    return Endpoint.objects.get(pk=endpoint.pk).state


@pytest.fixture
def endpoint(account, group):
    return EndpointFactory(account=account, primary_group=group, state=State.ACTIVE)


@pytest.fixture
def foreign(other_account):
    group = GroupFactory(account=other_account)
    return EndpointFactory(account=other_account, primary_group=group, state=State.ACTIVE)


@pytest.mark.parametrize("action", ["suspend", "terminate"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_goes_to_login(client, endpoint, action, method):
    response = getattr(client, method)(url(action, endpoint), {"confirm": "1"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert state_of(endpoint) == State.ACTIVE


@pytest.mark.parametrize("action", ["suspend", "terminate"])
def test_viewer_is_refused(client, viewer, endpoint, action):
    client.force_login(viewer)
    assert client.get(url(action, endpoint)).status_code == 403
    assert client.post(url(action, endpoint), {"confirm": "1"}).status_code == 403
    assert state_of(endpoint) == State.ACTIVE


def test_operator_may_suspend_but_not_terminate(client, operator, endpoint):
    client.force_login(operator)
    assert client.post(url("terminate", endpoint), {"confirm": "1"}).status_code == 403
    assert state_of(endpoint) == State.ACTIVE
    assert client.get(url("suspend", endpoint)).status_code == 200


@pytest.mark.parametrize("action", ["suspend", "terminate"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_other_accounts_endpoint_is_404(client, admin_member, foreign, action, method):
    client.force_login(admin_member)
    response = getattr(client, method)(url(action, foreign), {"confirm": "1"})
    assert response.status_code == 404
    assert state_of(foreign) == State.ACTIVE
    assert not History.objects.filter(endpoint=foreign).exists()


def test_unknown_iccid_is_404(client, admin_member, account):
    client.force_login(admin_member)
    response = client.get("/inventory/endpoints/8900000000000000000/suspend/")
    assert response.status_code == 404
    assert "There is nothing at this address in your current account." in response.content.decode()


def test_suspend_confirmation_then_post(client, operator, endpoint):
    client.force_login(operator)
    page = client.get(url("suspend", endpoint))
    assert "1 endpoint will be suspended" in text(page)
    assert endpoint.iccid in text(page)
    assert state_of(endpoint) == State.ACTIVE
    response = client.post(url("suspend", endpoint), {**hidden_fields(page), "reason": "lost"})
    assert response.status_code == 302
    assert response["Location"] == url("detail", endpoint)
    assert state_of(endpoint) == State.SUSPENDED
    history = History.objects.get(endpoint=endpoint)
    assert (history.reason, history.to_state, history.actor_label) == (
        "lost",
        State.SUSPENDED,
        "op",
    )
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["1 suspended"]


def test_post_without_confirm_only_shows_the_page(client, operator, endpoint):
    client.force_login(operator)
    assert client.post(url("suspend", endpoint)).status_code == 200
    assert state_of(endpoint) == State.ACTIVE


def test_terminate_confirmation_is_plain_about_consequences(client, admin_member, endpoint):
    client.force_login(admin_member)
    shown = client.get(url("terminate", endpoint))
    assert "Termination cannot be undone through the portal." in text(shown)
    assert "after 90 days they are deleted permanently" in text(shown)
    assert 'name="typed_count"' not in shown.content.decode()
    response = client.post(url("terminate", endpoint), hidden_fields(shown))
    assert response.status_code == 302
    refreshed = Endpoint.objects.get(pk=endpoint.pk)
    assert refreshed.state == State.TERMINATED and refreshed.terminated_at is not None


def test_already_terminated_changes_nothing_and_says_so(client, admin_member, account):
    gone = EndpointFactory(account=account, state=State.TERMINATED, terminated_at=timezone.now())
    client.force_login(admin_member)
    page = client.get(url("terminate", gone))
    assert "nothing will change" in text(page)
    assert "1 already terminated" in text(page)
    response = client.post(url("terminate", gone), hidden_fields(page))
    assert response.status_code == 200
    assert not History.objects.filter(endpoint=gone).exists()


def test_csrf_is_enforced(operator, endpoint):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    fields = hidden_fields(client.get(url("suspend", endpoint)))
    without_token = {k: v for k, v in fields.items() if k != "csrfmiddlewaretoken"}
    assert client.post(url("suspend", endpoint), without_token).status_code == 403
    assert state_of(endpoint) == State.ACTIVE
    response = client.post(url("suspend", endpoint), fields)
    assert response.status_code == 302
    assert state_of(endpoint) == State.SUSPENDED
