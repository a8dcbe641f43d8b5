"""The benchmark's own moving parts: the stock admin it compares against, the
Next-link walk to the deep page, and the SQL restore that makes reruns start
from the same data. (The full harness runs in CI as ``make bench-smoke``.)"""

from __future__ import annotations

import pytest
from django.test import override_settings

from bench.measure import percentile, summarise
from bench.pages import next_link, with_params
from bench.snapshot import Snapshot
from inventory import lifecycle
from inventory.history import Actor
from inventory.models import Endpoint, History, SessionTeardown, State
from tests.factories import EndpointFactory, UserFactory


def test_percentile_is_nearest_rank_and_summary_in_ms():
    values = [float(n) for n in range(1, 16)]
    assert percentile(values, 0.95) == 15.0
    assert percentile(values, 0.5) == 8.0
    timing = summarise([0.010, 0.020, 0.030])
    assert (timing.median_ms, timing.p95_ms, timing.min_ms, timing.runs) == (20.0, 30.0, 10.0, 3)


def test_next_link_prefers_rel_next_and_unescapes():
    page = (
        '<a href="/inventory/endpoints/?before=x">Previous</a>'
        '<a rel="next" href="/inventory/endpoints/?after=abc&amp;per_page=250">›</a>'
    )
    assert next_link(page) == "/inventory/endpoints/?after=abc&per_page=250"
    assert next_link('<a href="?after=z">Next page</a>') == "?after=z"
    assert next_link('<a href="?before=z">Previous</a>') is None
    assert with_params("/inventory/endpoints/?after=abc&per_page=250", per_page=50) == (
        "/inventory/endpoints/?after=abc&per_page=50"
    )


@pytest.mark.django_db
@override_settings(ROOT_URLCONF="bench.urls")
def test_stock_admin_searches_all_endpoints_by_iccid(client, account):
    wanted = EndpointFactory(account=account, name="wanted car")
    EndpointFactory(account=account, name="other car")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.get("/stock-admin/inventory/endpoint/", {"q": wanted.iccid})
    body = response.content.decode()
    assert response.status_code == 200
    assert "wanted car" in body
    assert "other car" not in body


@pytest.mark.django_db
def test_snapshot_restores_endpoints_history_and_teardowns_after_a_bulk_suspend(
    account, group, operator
):
    endpoints = [
        EndpointFactory(account=account, state=State.ACTIVE, primary_group=group) for _ in range(5)
    ]
    before = {e.pk: (e.state, e.state_changed_at) for e in endpoints}
    history_before = History.objects.count()
    snapshot = Snapshot("e.account_id = %s", [account.pk])
    assert snapshot.take() == 5

    result = lifecycle.suspend(
        endpoints=Endpoint.objects.filter(account=account), actor=Actor.for_user(operator)
    )
    assert result.changed == 5
    assert History.objects.count() == history_before + 5
    assert SessionTeardown.objects.count() == 5

    snapshot.restore(vacuum=False)
    snapshot.drop()
    after = {e.pk: (e.state, e.state_changed_at) for e in Endpoint.objects.filter(account=account)}
    assert after == before
    assert History.objects.count() == history_before
    assert SessionTeardown.objects.count() == 0


@pytest.mark.django_db
def test_the_audit_load_writes_once_and_the_pages_answer(account, admin_member):
    from audit.models import AuditAction, AuditEvent
    from bench.audit import RARE, load, measure_audit

    class Picked:  # the one field of Picks the audit section reads
        pass

    picked = Picked()
    picked.account = account
    assert load(p=picked, rows=300, actor=admin_member) == 300
    assert load(p=picked, rows=300, actor=admin_member) == 300
    assert AuditEvent.objects.filter(account=account, action=RARE).count() == 3
    assert AuditEvent.objects.filter(account=None, action=AuditAction.SIGN_IN).count() >= 30

    rows = measure_audit(p=picked, rows=300, runs=1)
    assert [row.error for row in rows] == [""] * len(rows)
    assert rows[-1].value == "3 rows of 300"


@pytest.mark.django_db
def test_the_event_log_is_filled_once_with_ten_events_per_endpoint(account, group):
    from bench.connectivity import EVENTS_PER_ENDPOINT, fill_event_log
    from events.models import AccountEvent

    endpoints = [EndpointFactory(account=account, primary_group=group) for _ in range(3)]
    assert fill_event_log(len(endpoints)) == 3 * EVENTS_PER_ENDPOINT
    assert fill_event_log(len(endpoints)) == 3 * EVENTS_PER_ENDPOINT  # not twice
    per_endpoint = AccountEvent.objects.filter(endpoint_id=endpoints[0].pk)
    assert per_endpoint.count() == EVENTS_PER_ENDPOINT
    assert per_endpoint.first().payload["endpoint"]["iccid"] == endpoints[0].iccid
