"""The exact counts (usage_statecount) equal COUNT(*) after every kind of write,
including a randomised mixed run of concurrent writers; drift in any derived
table is found and repaired by ``rebuild_derived``."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from inventory import addressing, lifecycle, retention
from inventory.history import Actor
from inventory.models import AddressBlock, Endpoint, EndpointSearch, State
from inventory.sim_import import import_sims
from network import batch as network
from tests.factories import EndpointFactory, GroupFactory, iccid_for, imsi_for
from usage import counts
from usage.derived import rebuild_all
from usage.models import EndpointDailyUsage, EndpointMonthlyUsage, StateCount


def true_counts() -> Counter:
    return Counter(
        {
            (a, s, g): n
            for a, s, g, n in _rows(
                "SELECT account_id, state, primary_group_id, count(*) FROM inventory_endpoint "
                "GROUP BY 1, 2, 3"
            )
        }
    )


def kept_counts() -> Counter:
    """The kept counts, their stripes summed; a count summing below zero is kept
    too, so that it fails the comparison."""
    return Counter(
        {
            (a, s, g): n
            for a, s, g, n in StateCount.objects.values("account_id", "state", "group_id")
            .annotate(n=Sum("count"))
            .exclude(n=0)
            .values_list("account_id", "state", "group_id", "n")
        }
    )


def _rows(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def assert_exact() -> None:
    assert kept_counts() == true_counts()


@pytest.mark.django_db
def test_counts_follow_every_kind_of_write(tmp_path, account, other_account):
    groups = [GroupFactory(account=account, vslice__subnet=f"10.{90 + n}.0.0/16") for n in range(2)]
    pending = [EndpointFactory(account=account) for _ in range(6)]
    EndpointFactory(account=other_account)
    assert_exact()
    # bulk assign, suspend, terminate, reinstate (lifecycle, as the jobs run them)
    lifecycle.assign_to_group(
        endpoints=Endpoint.objects.filter(pk__in=[e.pk for e in pending[:4]]),
        group=groups[0],
        actor=Actor.SYSTEM,
    )
    assert_exact()
    lifecycle.assign_to_group(
        endpoints=Endpoint.objects.filter(pk=pending[0].pk), group=groups[1], actor=Actor.SYSTEM
    )
    lifecycle.suspend(endpoints=Endpoint.objects.filter(pk=pending[1].pk), actor=Actor.SYSTEM)
    lifecycle.terminate(endpoints=Endpoint.objects.filter(pk=pending[2].pk), actor=Actor.SYSTEM)
    assert_exact()
    # a network batch
    imsi = pending[3].imsis.get().imsi
    now = timezone.now().isoformat()
    network.apply_events(events=[{"id": "c-1", "type": "detach", "imsi": imsi, "at": now}])
    assert Endpoint.objects.get(pk=pending[3].pk).state == State.DETACHED
    assert_exact()
    # an import by COPY
    path = tmp_path / "sims.csv"
    path.write_text(
        "iccid,imsis\n" + "".join(f"{iccid_for(9000 + n)},{imsi_for(9000 + n)}\n" for n in range(5))
    )
    with path.open("rb") as handle:
        import_sims(handle, account=account, actor=Actor.SYSTEM)
    assert_exact()
    # the purge of terminated endpoints, and a delete through the ORM (the admin)
    Endpoint.objects.filter(pk=pending[2].pk).update(
        terminated_at=timezone.now() - timedelta(days=400)
    )
    retention.purge_terminated()
    assert not Endpoint.objects.filter(pk=pending[2].pk).exists()
    pending[5].delete()
    assert_exact()
    assert counts.matching(account=account, states=[State.PENDING]) == 6
    assert counts.matching(account=account, group_id=groups[0].pk) == 2


@pytest.mark.django_db(transaction=True)
def test_counts_stay_exact_under_a_randomised_mixed_run_of_concurrent_writers(account):
    groups = [GroupFactory(account=account, vslice__subnet=f"10.{80 + n}.0.0/16") for n in range(3)]
    endpoints = [EndpointFactory(account=account, imsis=1) for _ in range(60)]
    ids = [e.pk for e in endpoints]
    imsis = {e.pk: e.imsis.get().imsi for e in endpoints}
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)
    clock = [timezone.now() - timedelta(hours=1)]
    clock_lock = threading.Lock()

    def tick() -> str:
        with clock_lock:
            clock[0] += timedelta(milliseconds=1)
            return clock[0].isoformat()

    def worker(n: int) -> None:
        rnd = random.Random(n)
        try:
            barrier.wait()
            for step in range(15):
                chosen = Endpoint.objects.filter(pk__in=rnd.sample(ids, 12))
                action = rnd.choice(["assign", "suspend", "terminate", "reinstate", "network"])
                if action == "assign":
                    lifecycle.assign_to_group(
                        endpoints=chosen, group=rnd.choice(groups), actor=Actor.SYSTEM
                    )
                elif action == "suspend":
                    lifecycle.suspend(endpoints=chosen, actor=Actor.SYSTEM)
                elif action == "terminate":
                    lifecycle.terminate(endpoints=chosen, actor=Actor.SYSTEM)
                elif action == "reinstate":
                    lifecycle.reinstate(endpoints=chosen, actor=Actor.SYSTEM)
                else:
                    events = [
                        {
                            "id": f"w{n}-{step}-{k}",
                            "type": rnd.choice(["attach", "session_start", "detach"]),
                            "imsi": imsis[pk],
                            "at": tick(),
                        }
                        for k, pk in enumerate(rnd.sample(ids, 20))
                    ]
                    network.apply_events(events=events)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert sum(kept_counts().values()) == 60
    assert_exact()
    assert [d.total for d in rebuild_all(repair=False)] == [0, 0, 0, 0]


@pytest.mark.django_db
def test_drift_in_every_derived_table_is_found_and_repaired(account):
    group = GroupFactory(account=account, vslice__subnet="10.70.0.0/16")
    endpoints = [
        EndpointFactory(account=account, state=State.ACTIVE, primary_group=group, name=f"n{n}")
        for n in range(4)
    ]
    addressing.allocate_auto(memberships=[(e.pk, group.pk) for e in endpoints])
    out = StringIO()
    call_command("rebuild_derived", "--check", stdout=out)
    assert "Every derived table is exact." in out.getvalue()

    # Break each one behind the triggers' back.
    StateCount.objects.filter(account=account, state=State.ACTIVE).update(count=99)
    StateCount.objects.create(account=account, state=State.SUSPENDED, group=group, count=3)
    AddressBlock.objects.filter(vslice=group.vslice).delete()
    EndpointSearch.objects.filter(endpoint_id=endpoints[0].pk).update(name="stale")
    EndpointSearch.objects.filter(endpoint_id=endpoints[1].pk).delete()
    today = timezone.now().date()
    EndpointDailyUsage.objects.create(
        account=account, endpoint=endpoints[2], day=today, bytes_up=5, bytes_down=6
    )

    out = StringIO()
    with pytest.raises(CommandError, match="differ"):
        call_command("rebuild_derived", "--check", stdout=out)
    report = out.getvalue()
    assert "usage_statecount: 0 missing, 1 wrong, 1 extra" in report
    assert "inventory_addressblock: 1 missing, 0 wrong, 0 extra" in report
    assert "inventory_endpointsearch: 1 missing, 1 wrong, 0 extra" in report
    assert "usage_endpointmonthlyusage: 1 missing, 0 wrong, 0 extra" in report
    assert StateCount.objects.get(account=account, state=State.ACTIVE).count == 99  # unchanged

    out = StringIO()
    call_command("rebuild_derived", stdout=out)
    assert "Repaired 6 derived row(s)." in out.getvalue()
    assert EndpointMonthlyUsage.objects.get(endpoint=endpoints[2]).bytes_total == 11
    assert_exact()
    assert AddressBlock.objects.get(vslice=group.vslice).used == 4
    assert EndpointSearch.objects.get(endpoint_id=endpoints[0].pk).name == "n0"
    assert EndpointSearch.objects.filter(endpoint_id=endpoints[1].pk).exists()
    out = StringIO()
    call_command("rebuild_derived", "--check", stdout=out)
    assert "Every derived table is exact." in out.getvalue()
