"""``/api/v1/webhooks``: admin tokens only, another account's webhook is a 404,
the SSRF rules of the portal, the secret shown once, the OpenAPI document
lists every operation."""

from __future__ import annotations

import pytest

from events.models import AccountEvent, EventType
from portal.models import Role
from tests.webhooks.conftest import run_queue
from tests.webhooks.receiver import Receiver
from webhooks.models import Webhook

BASE = "/api/v1/webhooks"


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


BODY = {"url": "http://127.0.0.1:9/in", "event_types": ["endpoint.state_changed"]}


@pytest.mark.django_db
def test_create_get_patch_delete(api):
    created = api.post(BASE, BODY)
    assert created.status_code == 201, created.content
    data = created.json()
    webhook = Webhook.objects.get()
    assert data["secret"] == webhook.secret and data["secret"].startswith("whsec_")
    assert (data["url"], data["event_types"], data["enabled"]) == (
        BODY["url"],
        BODY["event_types"],
        True,
    )

    got = api.get(f"{BASE}/{webhook.pk}").json()
    assert "secret" not in got
    assert [w["id"] for w in api.get(BASE).json()["results"]] == [webhook.pk]

    patched = api.patch(f"{BASE}/{webhook.pk}", {"enabled": False, "description": "ERP"})
    assert patched.status_code == 200
    webhook.refresh_from_db()
    assert (webhook.enabled, webhook.description, webhook.url) == (False, "ERP", BODY["url"])

    rotated = api.post(f"{BASE}/{webhook.pk}/rotate-secret").json()
    assert rotated["secret"] != data["secret"]
    webhook.refresh_from_db()
    assert webhook.secret == rotated["secret"]

    assert api.delete(f"{BASE}/{webhook.pk}").status_code == 204
    assert not Webhook.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**BODY, "url": "https://10.0.0.1/in"}, "body.url"),
        ({**BODY, "url": "https://169.254.169.254/"}, "body.url"),
        ({**BODY, "url": "https://[::ffff:127.0.0.1]/"}, "body.url"),
        ({**BODY, "event_types": []}, "body.event_types"),
        ({**BODY, "event_types": ["webhook.test"]}, "body.event_types"),
        ({**BODY, "extra": 1}, "body.extra"),
        ({**BODY, "url": "x" * 2001}, "body.url"),
    ],
)
def test_bad_bodies_are_422_and_save_nothing(api, settings, body, field):
    settings.WEBHOOK_ALLOWED_NETWORKS = ""
    response = api.post(BASE, body)
    assert response.status_code == 422, response.content
    errors = response.json()["errors"]
    assert any(field.split(".")[-1] in e["field"] for e in errors), errors
    assert not Webhook.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_lower_roles_get_403(api_as, role):
    client = api_as(role)
    assert client.get(BASE).status_code == 403
    assert client.post(BASE, BODY).status_code == 403
    assert not Webhook.objects.exists()


@pytest.mark.django_db
def test_another_accounts_webhook_is_a_404(api, api_as, other_account):
    theirs = api_as(Role.ADMIN, on=other_account).post(BASE, BODY).json()["id"]
    before = list(Webhook.objects.values_list("pk", "url", "enabled", "secret"))
    for method, path, body in [
        ("get", f"{BASE}/{theirs}", None),
        ("patch", f"{BASE}/{theirs}", {"enabled": False}),
        ("delete", f"{BASE}/{theirs}", None),
        ("post", f"{BASE}/{theirs}/test", None),
        ("post", f"{BASE}/{theirs}/rotate-secret", None),
    ]:
        response = getattr(api, method)(path, body) if body else getattr(api, method)(path)
        assert response.status_code == 404, (method, path)
    assert api.get(BASE).json()["results"] == []
    assert list(Webhook.objects.values_list("pk", "url", "enabled", "secret")) == before
    assert not AccountEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_test_operation_reaches_the_receiver(api, receiver):
    data = api.post(BASE, {**BODY, "url": receiver.url}).json()
    receiver.secret = data["secret"]
    response = api.post(f"{BASE}/{data['id']}/test")
    assert response.status_code == 202
    run_queue()
    [(webhook_id, body)] = receiver.received
    assert webhook_id == response.json()["event_id"]
    assert body["type"] == EventType.TEST


@pytest.mark.django_db
def test_every_operation_is_in_the_document(api):
    paths = api.client.get("/api/v1/openapi.json").json()["paths"]
    assert set(paths[BASE]) == {"get", "post"}
    assert set(paths[BASE + "/{webhook_id}"]) == {"get", "patch", "delete"}
    assert set(paths[BASE + "/{webhook_id}/test"]) == {"post"}
    assert set(paths[BASE + "/{webhook_id}/rotate-secret"]) == {"post"}


# What the portal's form and the API do with one URL: both refuse it with the
# same message, or both save the same spelling (webhooks.services, ssrf.normalise).
SAME_RULES = [
    ("http://127.0.0.1:9/in", "http://127.0.0.1:9/in"),
    ("  http://127.0.0.1:9/in\n", "http://127.0.0.1:9/in"),
    ("HTTP://127.0.0.1:9/Straße?q=ä ", "http://127.0.0.1:9/Stra%C3%9Fe?q=%C3%A4"),
    ("http://127.0.0.1:9/%7Eok/100%", "http://127.0.0.1:9/%7Eok/100%25"),
    ("http://127.0.0.1:9/a b", "may not contain spaces"),
    ("http://127.0.0.1:9/a\u00a0b", "may not contain spaces"),
    ("http://127.0.0.1:9/a\x7fb", "may not contain spaces"),
    ("http://127.0.0.1:0/in", "port must be from 1 to 65535"),
    ("https://[fec0::1]/in", "a site-local address: refused"),
    ("https://[3fff::1]/in", "a documentation address: refused"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "outcome"), SAME_RULES)
def test_the_form_and_the_api_follow_one_rule(api, client, admin_member, url, outcome):
    from django.urls import reverse

    client.force_login(admin_member)
    page = client.post(
        reverse("webhooks:webhook_create"), {"url": url, "event_types": ["job.finished"]}
    )
    from_form = list(Webhook.objects.values_list("url", flat=True))
    Webhook.objects.all().delete()
    answer = api.post(BASE, {"url": url, "event_types": ["job.finished"]})
    from_api = list(Webhook.objects.values_list("url", flat=True))
    if outcome.startswith("http"):
        assert page.status_code == 302 and answer.status_code == 201, answer.content
        assert from_form == from_api == [outcome]
        assert answer.json()["url"] == outcome
    else:
        assert page.status_code == 200 and answer.status_code == 422
        assert outcome in page.content.decode()
        assert outcome in answer.json()["detail"]
        assert from_form == from_api == []
