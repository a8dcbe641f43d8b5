"""Many people acting on the same endpoints at the same moment: real threads,
real transactions. Whatever the interleaving, every endpoint's history must be
a legal chain of transitions ending in its current state, and there must be
exactly one history row per change reported."""

from __future__ import annotations

import random
import threading
from collections import defaultdict

import pytest
from django.db import connection

from inventory import addressing, lifecycle
from inventory.history import Actor
from inventory.models import Endpoint, History, IPAllocation, SessionTeardown, State
from tests.factories import EndpointFactory, GroupFactory

THREADS = 20
ROUNDS = 8
IN_SERVICE = {State.ACTIVE, State.IDLE, State.DETACHED}

#: (action, from state) -> the only state it may lead to.
LEGAL = {
    **{("assign", State.PENDING): State.ACTIVE},
    **{("assign", s): s for s in IN_SERVICE},
    **{("suspend", s): State.SUSPENDED for s in IN_SERVICE},
    **{("terminate", s): State.TERMINATED for s in State if s != State.TERMINATED},
    **{("reinstate", State.TERMINATED): State.PENDING},
}


@pytest.mark.django_db(transaction=True)
def test_racing_actions_never_make_an_illegal_transition_or_lose_history(account, operator):
    groups = [
        GroupFactory(account=account, vslice__subnet=f"100.{64 + n}.0.0/16") for n in range(2)
    ]
    start_states = [State.PENDING, State.ACTIVE, State.IDLE, State.DETACHED, State.SUSPENDED]
    endpoints = [
        EndpointFactory(
            account=account,
            state=state,
            primary_group=None if state == State.PENDING else groups[0],
            imsis=1,
        )
        for state in start_states * 6
    ]
    addressing.allocate_auto(
        memberships=[(e.pk, groups[0].pk) for e in endpoints if e.state != State.PENDING]
    )
    initial = {e.pk: e.state for e in endpoints}
    ids = list(initial)
    barrier = threading.Barrier(THREADS)
    changed = defaultdict(int)
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        rnd = random.Random(n)
        actor = Actor.for_user(operator)
        try:
            barrier.wait()
            for _ in range(ROUNDS):
                action = rnd.choice(["assign", "suspend", "terminate", "reinstate"])
                chosen = Endpoint.objects.filter(pk__in=rnd.sample(ids, rnd.randint(1, len(ids))))
                if action == "assign":
                    result = lifecycle.assign_to_group(
                        endpoints=chosen, group=rnd.choice(groups), actor=actor
                    )
                else:
                    result = getattr(lifecycle, action)(endpoints=chosen, actor=actor)
                with lock:
                    changed[result.batch] = result.changed
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(changed) == THREADS * ROUNDS
    history = list(History.objects.order_by("id"))
    # One history row per change each call reported, under that call's batch.
    rows_per_batch = defaultdict(int)
    for row in history:
        rows_per_batch[row.batch] += 1
    assert dict(rows_per_batch) == {b: n for b, n in changed.items() if n}
    assert sum(changed.values()) == len(history) > len(ids)

    chains = defaultdict(list)
    for row in history:
        chains[row.endpoint_id].append(row)
    final = dict(Endpoint.objects.values_list("pk", "state"))
    for pk, start in initial.items():
        state = start
        for row in chains[pk]:
            assert row.from_state == state, f"endpoint {pk}: history chain broken at {row.pk}"
            assert LEGAL.get((row.action, row.from_state)) == row.to_state, (
                f"endpoint {pk}: illegal {row.action} {row.from_state} -> {row.to_state}"
            )
            state = row.to_state
        assert final[pk] == state

    # The database's own invariants hold too.
    assert not Endpoint.objects.filter(state__in=IN_SERVICE, primary_group=None).exists()
    assert not Endpoint.objects.filter(state=State.TERMINATED, terminated_at=None).exists()
    assert not Endpoint.objects.exclude(state=State.TERMINATED).exclude(terminated_at=None).exists()
    # Automatic addresses survive only in the current primary group of an
    # endpoint that is not terminated (moves and terminations released them).
    for allocation in IPAllocation.objects.select_related("endpoint"):
        assert allocation.group_id == allocation.endpoint.primary_group_id
        assert allocation.endpoint.state != State.TERMINATED
    # A teardown for each change out of Active by suspend or terminate, and for
    # each move of an Active endpoint to another group.
    ended_sessions = sum(
        1
        for row in history
        if row.from_state == State.ACTIVE and row.action in ("suspend", "terminate", "assign")
    )
    assert SessionTeardown.objects.count() == ended_sessions
