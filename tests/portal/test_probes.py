"""/healthz, /readyz and /metrics (portal/health.py, portal/metrics.py), and
which database failures count as "unavailable" (portal/database_unavailable.py).

The database restart itself, with real processes, is
tests/topology/test_database_restart.py."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.backends.postgresql.base import DatabaseWrapper

from portal.database_unavailable import is_unavailable
from tests.factories import EndpointFactory
from tests.topology.cluster import free_port


def test_healthz_answers_without_the_database(client):
    # No django_db mark: a query here would fail the test.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"


@pytest.mark.django_db
def test_readyz_is_ready_when_the_database_answers_and_migrations_are_applied(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.content == b"ready"


@pytest.mark.django_db
def test_metrics_are_prometheus_text_for_this_host(client, account, group):
    EndpointFactory(account=account, primary_group=group)
    client.get("/healthz")
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    body = response.content.decode()
    for name in (
        'portal_request_duration_seconds_bucket{le="0.005",method="GET",view="healthz"}',
        "portal_database_up 1.0",
        "portal_jobs_unfinished",
        "portal_webhook_backlog_events",
        "portal_webhooks_failing",
    ):
        assert name in body
    # Aggregates only: no account, user or endpoint anywhere.
    assert account.slug not in body and account.name not in body
    assert 'account="' not in body and "user=" not in body and "iccid" not in body


@pytest.mark.django_db
@pytest.mark.parametrize("address", ["203.0.113.5", "10.0.0.7", "2001:db8::1"])
def test_metrics_refuse_other_networks(client, address):
    response = client.get("/metrics", REMOTE_ADDR=address)
    assert response.status_code == 403
    assert b"portal_" not in response.content


@pytest.mark.django_db
def test_metrics_behind_a_proxy_judge_the_client_not_the_proxy(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    refused = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert refused.status_code == 403
    allowed = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert allowed.status_code == 200


def _error_of(action) -> BaseException:
    try:
        action()
    except DatabaseError as exc:
        return exc
    raise AssertionError("no database error")


def test_a_refused_connection_is_unavailable(django_db_blocker):
    settings_dict = {**connection.settings_dict, "HOST": "127.0.0.1", "PORT": str(free_port())}
    settings_dict["OPTIONS"] = {}
    wrapper = DatabaseWrapper(settings_dict)
    with django_db_blocker.unblock():
        assert is_unavailable(_error_of(wrapper.ensure_connection))


@pytest.mark.django_db(transaction=True)
def test_a_statement_refused_by_a_live_server_is_not_unavailable():
    def cancelled():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = '10ms'")
            cursor.execute("SELECT pg_sleep(1)")

    def violated():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("CREATE TEMP TABLE probe (id int PRIMARY KEY)")
            cursor.execute("INSERT INTO probe VALUES (1), (1)")

    assert not is_unavailable(_error_of(cancelled))
    error = _error_of(violated)
    assert isinstance(error, IntegrityError) and not is_unavailable(error)
