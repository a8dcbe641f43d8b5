"""manage.py purge_terminated: 90 days after termination the record goes, with
everything hanging off it; the day before, it stays; a rerun deletes nothing."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from inventory.models import (
    IMSI,
    Endpoint,
    EventStatus,
    EventType,
    History,
    IPAllocation,
    NetworkEvent,
    SecondaryMembership,
    SessionTeardown,
    State,
)
from inventory.retention import purge_terminated
from tests.factories import EndpointFactory, GroupFactory

pytestmark = pytest.mark.django_db


def purge(*args) -> str:
    out = StringIO()
    call_command("purge_terminated", *args, stdout=out)
    return out.getvalue()


def terminated(account, group, *, days: float, address: str | None = None) -> Endpoint:
    """A terminated endpoint with an IMSI, a static address, a secondary group,
    history, a pending teardown and a network event."""
    at = timezone.now() - timedelta(days=days)
    endpoint = EndpointFactory(
        account=account, state=State.TERMINATED, terminated_at=at, primary_group=group, imsis=2
    )
    if address:
        IPAllocation.objects.create(
            account=account,
            endpoint=endpoint,
            group=group,
            vslice=group.vslice,
            address=address,
            kind="static",
        )
    secondary = GroupFactory(account=account)
    SecondaryMembership.objects.create(account=account, endpoint=endpoint, group=secondary)
    History.objects.create(
        account=account,
        endpoint=endpoint,
        actor_kind="system",
        action="terminate",
        from_state="active",
        to_state="terminated",
    )
    imsi = endpoint.imsis.first().imsi
    SessionTeardown.objects.create(
        account=account, endpoint=endpoint, imsi=imsi, reason="terminated"
    )
    NetworkEvent.objects.create(
        event_id=f"ev-{endpoint.pk}",
        account=account,
        endpoint=endpoint,
        type=EventType.DETACH,
        imsi=imsi,
        at=at,
        status=EventStatus.ACCEPTED,
    )
    return endpoint


def test_expired_endpoints_go_with_all_their_rows_and_89_days_survive(account, group):
    old = terminated(account, group, days=91, address="100.64.0.10")
    recent = terminated(account, group, days=89, address="100.64.0.11")
    active = EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)
    old_imsis = list(old.imsis.values_list("imsi", flat=True))

    output = purge()

    assert "vantiq: 1 endpoints deleted" in output
    assert "2 imsis, 1 addresses, 1 memberships, 1 history, 1 teardowns" in output
    assert not Endpoint.objects.filter(pk=old.pk).exists()
    assert not IMSI.objects.filter(imsi__in=old_imsis).exists()
    assert not IPAllocation.objects.filter(address="100.64.0.10").exists()
    assert not SecondaryMembership.objects.filter(endpoint_id=old.pk).exists()
    assert not History.objects.filter(endpoint_id=old.pk).exists()
    assert not SessionTeardown.objects.filter(endpoint_id=old.pk).exists()
    event = NetworkEvent.objects.get(event_id=f"ev-{old.pk}")
    assert event.endpoint_id is None and event.imsi == old_imsis[0]

    assert set(Endpoint.objects.values_list("pk", flat=True)) == {recent.pk, active.pk}
    assert recent.imsis.count() == 2
    assert IPAllocation.objects.filter(endpoint=recent, address="100.64.0.11").exists()
    assert History.objects.filter(endpoint=recent).count() == 1
    assert NetworkEvent.objects.get(event_id=f"ev-{recent.pk}").endpoint_id == recent.pk


def test_a_second_run_deletes_nothing(account, group):
    terminated(account, group, days=120)
    assert "1 endpoints deleted" in purge()
    remaining = Endpoint.objects.count()

    output = purge()

    assert output.startswith("No endpoints terminated before")
    assert "nothing deleted" in output
    assert Endpoint.objects.count() == remaining


def test_dry_run_counts_per_account_and_deletes_nothing(account, other_account, group):
    other_group = GroupFactory(account=other_account)
    for _ in range(3):
        terminated(account, group, days=100)
    terminated(other_account, other_group, days=95)
    terminated(other_account, other_group, days=30)

    output = purge("--dry-run")

    assert "northwind: 1 endpoints would be deleted" in output
    assert "vantiq: 3 endpoints would be deleted" in output
    assert "4 endpoints terminated before" in output
    assert Endpoint.objects.count() == 5
    assert History.objects.count() == 5


def test_batches_cover_everything_and_count_per_account(account, other_account, group):
    other_group = GroupFactory(account=other_account)
    for _ in range(5):
        terminated(account, group, days=200)
    for _ in range(2):
        terminated(other_account, other_group, days=91)

    result = purge_terminated(batch_size=2)

    assert result.by_account == {"vantiq": 5, "northwind": 2}
    assert result.rows["imsis"] == 14
    assert not Endpoint.objects.exists()
    assert not IMSI.objects.exists()


def test_the_boundary_is_exactly_90_days(account, group):
    now = timezone.now()
    inside = EndpointFactory(
        account=account, state=State.TERMINATED, terminated_at=now - timedelta(days=90, seconds=-5)
    )
    past = EndpointFactory(
        account=account, state=State.TERMINATED, terminated_at=now - timedelta(days=90, seconds=5)
    )

    result = purge_terminated(now=now)

    assert result.endpoints == 1
    assert list(Endpoint.objects.values_list("pk", flat=True)) == [inside.pk]
    assert not Endpoint.objects.filter(pk=past.pk).exists()


def test_a_non_terminated_endpoint_is_never_purged_whatever_its_dates(account, group):
    # Reinstated endpoints are Pending with terminated_at cleared; nothing old stays behind.
    pending = EndpointFactory(
        account=account, state=State.PENDING, created_at=timezone.now() - timedelta(days=400)
    )
    purge()
    assert Endpoint.objects.filter(pk=pending.pk).exists()


def test_one_definition_of_each_retention_period():
    """Reinstating is possible exactly as long as the purge keeps the endpoint,
    and the network API accepts events exactly as old as the purge keeps them."""
    from inventory import lifecycle, retention
    from network import contract

    assert lifecycle.REINSTATE_WINDOW is retention.RETENTION
    assert contract.MAX_AGE is retention.EVENT_RETENTION
    assert retention.EVENT_RETENTION_DAYS == retention.EVENT_RETENTION.days == 30


def test_an_endpoint_that_was_used_goes_with_its_snapshot_key_values_and_usage(account, group):
    """An endpoint that had sessions has a connectivity snapshot, usage days and
    months, perhaps a usage warning and key values: all go with it."""
    from datetime import date

    from inventory.models import Connectivity, KeyValue
    from usage.models import EndpointDailyUsage, EndpointMonthlyUsage, UsageWarning

    old = terminated(account, group, days=91)
    kept = terminated(account, group, days=10)
    for endpoint in (old, kept):
        Connectivity.objects.create(endpoint=endpoint, plmn="26201", rat="LTE")
        KeyValue.objects.create(account=account, endpoint=endpoint, key="site", value="north")
        EndpointDailyUsage.objects.create(
            account=account, endpoint=endpoint, day=date(2026, 8, 1), bytes_up=1, bytes_down=2
        )
        EndpointMonthlyUsage.objects.create(
            account=account, endpoint=endpoint, month=date(2026, 8, 1), bytes_total=3
        )
        UsageWarning.objects.create(
            account=account,
            endpoint=endpoint,
            group=group,
            month=date(2026, 8, 1),
            kind="warning",
            at=timezone.now(),
            used_bytes=3,
            allowance_bytes=4,
        )

    result = purge_terminated()

    assert result.endpoints == 1
    for model in (Connectivity, KeyValue, EndpointDailyUsage, EndpointMonthlyUsage, UsageWarning):
        assert not model.objects.filter(endpoint_id=old.pk).exists(), model
        assert model.objects.filter(endpoint_id=kept.pk).exists(), model
