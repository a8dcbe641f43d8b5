"""Account → Webhooks: admins only (anonymous → sign-in, lower roles → 403,
another account's webhook → 404, tests/test_cross_account.py), and each action
does what it says, as the database shows."""

from __future__ import annotations

import pytest
from django.urls import reverse

from events.models import AccountEvent, EventType
from portal.models import Role
from tests.factories import MemberFactory
from tests.webhooks.conftest import run_queue
from webhooks.models import Attempt, AttemptKind, Lane, Webhook

LIST = reverse("webhooks:webhook_list")
CREATE = reverse("webhooks:webhook_create")


def form(url, **extra):
    return {"url": url, "event_types": ["endpoint.state_changed", "job.finished"], "enabled": "on"}


@pytest.mark.django_db
def test_anonymous_goes_to_sign_in(client):
    response = client.get(LIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_lower_roles_are_refused(client, account, role):
    client.force_login(MemberFactory(account=account, role=role).user)
    assert client.get(LIST).status_code == 403
    assert client.post(CREATE, form("http://127.0.0.1:9/in")).status_code == 403
    assert not Webhook.objects.exists()


@pytest.mark.django_db
def test_the_menu_links_the_page_for_admins_only(client, account, admin_member, operator):
    client.force_login(admin_member)
    assert f'href="{LIST}"' in client.get(reverse("jobs:job_list")).content.decode()
    client.force_login(operator)
    assert f'href="{LIST}"' not in client.get(reverse("jobs:job_list")).content.decode()


@pytest.mark.django_db
def test_adding_shows_the_secret_once(client, account, admin_member):
    client.force_login(admin_member)
    response = client.post(CREATE, form("http://127.0.0.1:9/in"))
    webhook = Webhook.objects.get()
    assert response["Location"] == reverse("webhooks:webhook_detail", args=[webhook.pk])
    assert (webhook.account, webhook.url, webhook.enabled) == (
        account,
        "http://127.0.0.1:9/in",
        True,
    )
    assert webhook.event_types == ["endpoint.state_changed", "job.finished"]
    assert webhook.secret.startswith("whsec_")
    assert Lane.objects.filter(webhook=webhook).count() == 16

    first = client.get(response["Location"]).content.decode()
    assert webhook.secret in first
    again = client.get(response["Location"]).content.decode()
    assert webhook.secret not in again
    assert webhook.secret not in client.get(LIST).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (form("https://10.0.0.1/in"), "10.0.0.1, a private address: refused"),
        (form("https://169.254.169.254/"), "a link-local address: refused"),
        (form("not a url"), "may not contain spaces"),
        (form("javascript:alert(1)"), "must start with https://"),
        ({"url": "http://127.0.0.1:9/in", "event_types": ["nope"]}, "Select a valid choice"),
        ({"url": "http://127.0.0.1:9/in"}, "This field is required"),
        ({"url": "http://127.0.0.1:9/in\x00", "event_types": ["job.finished"]}, "Null characters"),
        ({"url": "x" * 3000, "event_types": ["job.finished"]}, "at most 2000"),
    ],
)
def test_bad_input_says_why_and_saves_nothing(client, admin_member, data, message):
    client.force_login(admin_member)
    response = client.post(CREATE, data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Webhook.objects.exists()


@pytest.mark.django_db
def test_edit_disable_and_enable_again(client, account, admin_member):
    client.force_login(admin_member)
    client.post(CREATE, form("http://127.0.0.1:9/in"))
    webhook = Webhook.objects.get()
    Webhook.objects.filter(pk=webhook.pk).update(enabled=False, disabled_reason="Failing")
    Lane.objects.filter(webhook=webhook).update(failures=9)
    edit = reverse("webhooks:webhook_edit", args=[webhook.pk])

    response = client.post(
        edit, {"url": "http://127.0.0.2:9/x", "event_types": ["job.finished"], "enabled": "on",
               "description": "ERP"}
    )  # fmt: skip

    assert response.status_code == 302
    webhook.refresh_from_db()
    assert (webhook.url, webhook.description, webhook.event_types) == (
        "http://127.0.0.2:9/x",
        "ERP",
        ["job.finished"],
    )
    assert (webhook.enabled, webhook.disabled_reason) == (True, "")
    assert not Lane.objects.filter(webhook=webhook, failures__gt=0).exists()


@pytest.mark.django_db
def test_a_disabled_webhook_shows_why(client, account, admin_member):
    client.force_login(admin_member)
    client.post(CREATE, form("http://127.0.0.1:9/in"))
    webhook = Webhook.objects.get()
    Webhook.objects.filter(pk=webhook.pk).update(
        enabled=False, disabled_reason="Disabled: every delivery failed since yesterday."
    )
    html = client.get(reverse("webhooks:webhook_detail", args=[webhook.pk])).content.decode()
    assert "every delivery failed since yesterday" in html
    assert "every delivery failed since yesterday" in client.get(LIST).content.decode()


@pytest.mark.django_db
def test_rotate_makes_a_new_secret_shown_once(client, admin_member):
    client.force_login(admin_member)
    client.post(CREATE, form("http://127.0.0.1:9/in"))
    webhook = Webhook.objects.get()
    detail = reverse("webhooks:webhook_detail", args=[webhook.pk])
    client.get(detail)
    old = webhook.secret

    response = client.post(reverse("webhooks:webhook_rotate", args=[webhook.pk]))

    webhook.refresh_from_db()
    assert webhook.secret != old and webhook.secret.startswith("whsec_")
    assert webhook.secret in client.get(response["Location"]).content.decode()
    assert webhook.secret not in client.get(detail).content.decode()
    assert client.get(reverse("webhooks:webhook_rotate", args=[webhook.pk])).status_code == 405


@pytest.mark.django_db
def test_delete_asks_then_deletes(client, admin_member):
    client.force_login(admin_member)
    client.post(CREATE, form("http://127.0.0.1:9/in"))
    webhook = Webhook.objects.get()
    url = reverse("webhooks:webhook_delete", args=[webhook.pk])
    assert "Delete webhook" in client.get(url).content.decode()
    assert Webhook.objects.exists()
    assert client.post(url)["Location"] == LIST
    assert not Webhook.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_send_test_event_and_redeliver_reach_the_receiver(client, admin_member, receiver):
    client.force_login(admin_member)
    client.post(CREATE, form(receiver.url))
    webhook = Webhook.objects.get()
    receiver.secret = webhook.secret

    client.post(reverse("webhooks:webhook_test", args=[webhook.pk]))
    run_queue()
    [(webhook_id, body)] = receiver.received
    event = AccountEvent.objects.get(type=EventType.TEST)
    assert webhook_id == event.webhook_id
    assert body["type"] == "webhook.test"
    assert body["data"]["webhook"]["id"] == webhook.pk

    client.post(reverse("webhooks:webhook_redeliver", args=[webhook.pk]), {"event": event.pk})
    run_queue()
    assert receiver.ids() == [event.webhook_id, event.webhook_id]
    kinds = list(Attempt.objects.order_by("pk").values_list("kind", "status_code"))
    assert kinds == [(AttemptKind.TEST, 200), (AttemptKind.REDELIVERY, 200)]
    html = client.get(reverse("webhooks:webhook_detail", args=[webhook.pk])).content.decode()
    assert html.count('data-testid="attempt-row"') == 2
    assert event.webhook_id in html


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["", "abc", "-1", "99999999999999999999", "١٢"])
def test_redeliver_of_a_bad_event_is_a_404(client, admin_member, value):
    client.force_login(admin_member)
    client.post(CREATE, form("http://127.0.0.1:9/in"))
    webhook = Webhook.objects.get()
    response = client.post(
        reverse("webhooks:webhook_redeliver", args=[webhook.pk]), {"event": value}
    )
    assert response.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["x", "-5", "١٢", "99999999999999999999"])
def test_the_log_ignores_a_bad_before(client, admin_member, value):
    client.force_login(admin_member)
    client.post(CREATE, form("http://127.0.0.1:9/in"))
    webhook = Webhook.objects.get()
    detail = reverse("webhooks:webhook_detail", args=[webhook.pk])
    assert client.get(detail, {"before": value}).status_code == 200


@pytest.mark.django_db
def test_redeliver_only_what_this_webhook_was_sent(client, account, admin_member):
    client.force_login(admin_member)
    client.post(CREATE, form("http://127.0.0.1:9/in"))
    webhook = Webhook.objects.get()
    other = AccountEvent.objects.create(account=account, type=EventType.TEST, payload={})
    response = client.post(
        reverse("webhooks:webhook_redeliver", args=[webhook.pk]), {"event": other.pk}
    )
    assert response.status_code == 404
