"""The lifecycle rules: every action from every state, what is skipped and why,
the history each change leaves, and the side effects (addresses, sessions,
memberships)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory import lifecycle
from inventory.history import Actor
from inventory.lifecycle import Preview, TransitionResult
from inventory.models import (
    AllocationKind,
    Endpoint,
    History,
    IPAllocation,
    SecondaryMembership,
    SessionTeardown,
    State,
)
from tests.factories import EndpointFactory, GroupFactory

IN_SERVICE = {State.ACTIVE, State.IDLE, State.DETACHED}
STATES = list(State)
ACTIONS = ["assign", "suspend", "terminate", "reinstate"]

#: (from state, action) -> new state, or the skip reason the user reads.
EXPECTED: dict[tuple[str, str], tuple[str | None, str | None]] = {
    (State.PENDING, "assign"): (State.ACTIVE, None),
    (State.ACTIVE, "assign"): (State.ACTIVE, None),
    (State.IDLE, "assign"): (State.IDLE, None),
    (State.DETACHED, "assign"): (State.DETACHED, None),
    (State.SUSPENDED, "assign"): (None, "suspended"),
    (State.TERMINATED, "assign"): (None, "terminated"),
    (State.PENDING, "suspend"): (None, "pending (not in a group)"),
    (State.ACTIVE, "suspend"): (State.SUSPENDED, None),
    (State.IDLE, "suspend"): (State.SUSPENDED, None),
    (State.DETACHED, "suspend"): (State.SUSPENDED, None),
    (State.SUSPENDED, "suspend"): (None, "already suspended"),
    (State.TERMINATED, "suspend"): (None, "terminated"),
    (State.PENDING, "terminate"): (State.TERMINATED, None),
    (State.ACTIVE, "terminate"): (State.TERMINATED, None),
    (State.IDLE, "terminate"): (State.TERMINATED, None),
    (State.DETACHED, "terminate"): (State.TERMINATED, None),
    (State.SUSPENDED, "terminate"): (State.TERMINATED, None),
    (State.TERMINATED, "terminate"): (None, "already terminated"),
    (State.PENDING, "reinstate"): (None, "not terminated"),
    (State.ACTIVE, "reinstate"): (None, "not terminated"),
    (State.IDLE, "reinstate"): (None, "not terminated"),
    (State.DETACHED, "reinstate"): (None, "not terminated"),
    (State.SUSPENDED, "reinstate"): (None, "not terminated"),
    (State.TERMINATED, "reinstate"): (State.PENDING, None),
}

PAST = {"assign": "assigned", "suspend": "suspended", "terminate": "terminated"}
PAST["reinstate"] = "reinstated"


@pytest.fixture
def actor(operator):
    return Actor.for_user(operator)


@pytest.fixture
def other_group(account, group):
    return GroupFactory(account=account, name="vantiq-connect-us", vslice=group.vslice)


def make(account, state, group, **kwargs):
    """An endpoint in ``state``; all but Pending ones have been in ``group``."""
    long_ago = timezone.now() - timedelta(days=3)
    return EndpointFactory(
        account=account,
        state=state,
        primary_group=None if state == State.PENDING else group,
        terminated_at=long_ago if state == State.TERMINATED else None,
        state_changed_at=long_ago,
        **kwargs,
    )


def run(action, endpoints, actor, group=None, reason=""):
    if action == "assign":
        return lifecycle.assign_to_group(
            endpoints=endpoints, group=group, actor=actor, reason=reason
        )
    function = getattr(lifecycle, action)
    return function(endpoints=endpoints, actor=actor, reason=reason)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("state", STATES)
def test_every_action_from_every_state(account, group, other_group, actor, state, action):
    endpoint = make(account, state, group)
    before = endpoint.state_changed_at
    new_state, skip_reason = EXPECTED[(state, action)]

    result = run(action, Endpoint.objects.filter(pk=endpoint.pk), actor, group=other_group)

    endpoint.refresh_from_db()
    history = list(History.objects.filter(endpoint=endpoint))
    if skip_reason:
        assert result.changed == 0
        assert result.skipped == {skip_reason: 1}
        assert result.summary() == f"No endpoints {PAST[action]}; 1 skipped: {skip_reason}"
        assert endpoint.state == state
        assert endpoint.state_changed_at == before
        assert history == []
        return
    assert result.changed == 1
    assert result.skipped == {}
    assert result.summary() == f"1 {PAST[action]}"
    assert endpoint.state == new_state
    assert (endpoint.terminated_at is not None) == (new_state == State.TERMINATED)
    if new_state != state:
        assert endpoint.state_changed_at > before
    else:  # a move to another group keeps the state and its timestamp
        assert endpoint.state_changed_at == before
    [row] = history
    assert (row.action, row.from_state, row.to_state) == (action, state, new_state)
    assert (row.actor_kind, row.actor_id, row.actor_label) == ("user", actor.user.pk, "op")
    assert row.batch == result.batch
    assert row.account_id == account.pk


def test_assign_moves_in_service_endpoints_and_releases_old_group_addresses(
    account, group, other_group, actor
):
    third = GroupFactory(account=account, name="vantiq-backup", vslice=group.vslice)
    endpoint = make(account, State.ACTIVE, group)
    SecondaryMembership.objects.create(account=account, endpoint=endpoint, group=other_group)
    SecondaryMembership.objects.create(account=account, endpoint=endpoint, group=third)
    for n, (grp, kind) in enumerate(
        [(group, "auto"), (other_group, "auto"), (third, "static")], start=1
    ):
        IPAllocation.objects.create(
            account=account,
            endpoint=endpoint,
            group=grp,
            vslice=grp.vslice,
            address=f"100.64.0.{n}",
            kind=kind,
        )
    IPAllocation.objects.filter(group=group).update(kind=AllocationKind.STATIC)

    result = lifecycle.assign_to_group(
        endpoints=Endpoint.objects.filter(pk=endpoint.pk), group=other_group, actor=actor
    )

    assert result.summary() == "1 assigned"
    endpoint.refresh_from_db()
    assert (endpoint.state, endpoint.primary_group) == (State.ACTIVE, other_group)
    # All addresses of the old primary group go (static too); the new group's
    # address and the other secondary group's stay.
    assert sorted(endpoint.ip_allocations.values_list("group__name", "address")) == [
        ("vantiq-backup", "100.64.0.3"),
        ("vantiq-connect-us", "100.64.0.2"),
    ]
    # The new primary group is no longer a secondary one.
    assert list(endpoint.secondary_groups.all()) == [third]
    [row] = endpoint.history.all()
    assert row.changes == {"group": ["vantiq-connect-eu", "vantiq-connect-us"]}


def test_moving_an_active_endpoint_ends_its_session_but_not_an_idle_ones(
    account, group, other_group, actor
):
    active = make(account, State.ACTIVE, group)
    idle = make(account, State.IDLE, group)
    pending = make(account, State.PENDING, None)

    lifecycle.assign_to_group(
        endpoints=Endpoint.objects.filter(pk__in=[active.pk, idle.pk, pending.pk]),
        group=other_group,
        actor=actor,
    )

    assert (
        list(SessionTeardown.objects.values_list("endpoint_id", "reason"))
        == [(active.pk, "moved")] * active.imsis.count()
    )


def test_assign_pending_records_no_old_group(account, group, actor):
    endpoint = make(account, State.PENDING, None)
    lifecycle.assign_to_group(endpoints=Endpoint.objects.all(), group=group, actor=actor)
    [row] = endpoint.history.all()
    assert row.changes == {"group": [None, "vantiq-connect-eu"]}


def test_assign_skips_endpoints_already_in_the_group(account, group, actor):
    make(account, State.ACTIVE, group)
    make(account, State.IDLE, group)
    make(account, State.PENDING, None)

    result = lifecycle.assign_to_group(endpoints=Endpoint.objects.all(), group=group, actor=actor)

    assert result.changed == 1
    assert result.skipped == {"already in this group": 2}
    assert result.summary() == "1 assigned, 2 skipped: already in this group"
    assert History.objects.count() == 1


def test_assign_never_touches_another_accounts_endpoints(account, other_account, group, actor):
    mine = make(account, State.PENDING, None)
    theirs = make(other_account, State.PENDING, None)

    result = lifecycle.assign_to_group(endpoints=Endpoint.objects.all(), group=group, actor=actor)

    assert result.changed == 1
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.state, mine.primary_group) == (State.ACTIVE, group)
    assert (theirs.state, theirs.primary_group) == (State.PENDING, None)
    assert not theirs.history.exists()


@pytest.mark.parametrize("action", ["suspend", "terminate"])
def test_suspend_and_terminate_end_the_data_sessions_of_active_endpoints(
    account, group, actor, action
):
    active = make(account, State.ACTIVE, group, imsis=2)
    idle = make(account, State.IDLE, group)

    result = run(action, Endpoint.objects.all(), actor)

    assert result.changed == 2
    teardowns = SessionTeardown.objects.order_by("imsi")
    assert [t.endpoint_id for t in teardowns] == [active.pk, active.pk]
    assert sorted(t.imsi for t in teardowns) == sorted(active.imsis.values_list("imsi", flat=True))
    assert {t.reason for t in teardowns} == {PAST[action]}
    assert not SessionTeardown.objects.filter(endpoint=idle).exists()


def test_terminate_releases_automatic_addresses_and_keeps_static_ones(account, group, actor):
    endpoint = make(account, State.ACTIVE, group)
    other = GroupFactory(account=account, vslice=group.vslice)
    for address, grp, kind in [("100.64.0.1", group, "auto"), ("100.64.0.2", other, "static")]:
        IPAllocation.objects.create(
            account=account,
            endpoint=endpoint,
            group=grp,
            vslice=grp.vslice,
            address=address,
            kind=kind,
        )

    lifecycle.terminate(endpoints=Endpoint.objects.all(), actor=actor, reason="vehicle scrapped")

    endpoint.refresh_from_db()
    assert endpoint.state == State.TERMINATED
    assert endpoint.terminated_at is not None
    assert list(endpoint.ip_allocations.values_list("address", "kind")) == [
        ("100.64.0.2", "static")
    ]
    assert endpoint.history.get().reason == "vehicle scrapped"


@pytest.mark.parametrize(
    ("days_ago", "reinstated"),
    [(1, True), (89, True), (90, True), (91, False), (400, False)],
)
def test_reinstate_only_within_90_days(account, group, days_ago, reinstated):
    endpoint = make(account, State.TERMINATED, group)
    Endpoint.objects.filter(pk=endpoint.pk).update(
        terminated_at=timezone.now() - timedelta(days=days_ago) + timedelta(minutes=1)
    )
    support = Actor(kind="support", label="support")

    result = lifecycle.reinstate(endpoints=Endpoint.objects.all(), actor=support)

    endpoint.refresh_from_db()
    if reinstated:
        assert result.summary() == "1 reinstated"
        assert endpoint.state == State.PENDING
    else:
        assert (
            result.summary()
            == "No endpoints reinstated; 1 skipped: terminated more than 90 days ago"
        )
        assert endpoint.state == State.TERMINATED


def test_reinstate_leaves_all_groups_and_keeps_static_addresses(account, group, other_group):
    endpoint = make(account, State.TERMINATED, group)
    SecondaryMembership.objects.create(account=account, endpoint=endpoint, group=other_group)
    IPAllocation.objects.create(
        account=account,
        endpoint=endpoint,
        group=group,
        vslice=group.vslice,
        address="100.64.0.9",
        kind="static",
    )

    lifecycle.reinstate(endpoints=Endpoint.objects.all(), actor=Actor.SYSTEM)

    endpoint.refresh_from_db()
    assert (endpoint.state, endpoint.primary_group, endpoint.terminated_at) == (
        State.PENDING,
        None,
        None,
    )
    assert not endpoint.secondary_groups.exists()
    assert list(endpoint.ip_allocations.values_list("address", flat=True)) == ["100.64.0.9"]
    row = endpoint.history.get()
    assert (row.actor_kind, row.actor_label, row.actor_id) == ("system", "system", None)
    assert row.changes == {"group": ["vantiq-connect-eu", None]}


def test_a_mixed_selection_changes_what_it_may_and_counts_the_rest(account, group, actor):
    for state in [State.ACTIVE, State.IDLE, State.SUSPENDED, State.TERMINATED, State.TERMINATED]:
        make(account, state, group)
    make(account, State.PENDING, None)
    qs = Endpoint.objects.filter(account=account)

    expected = lifecycle.preview(action="suspend", endpoints=qs)
    result = lifecycle.suspend(endpoints=qs, actor=actor)

    assert result.changed == expected.will_change == 2
    assert result.skipped == expected.skipped
    assert result.skipped == {
        "terminated": 2,
        "already suspended": 1,
        "pending (not in a group)": 1,
    }
    assert result.summary() == (
        "2 suspended, 4 skipped: 2 terminated, 1 already suspended, 1 pending (not in a group)"
    )
    assert History.objects.filter(batch=result.batch).count() == 2
    assert Endpoint.objects.filter(state=State.SUSPENDED).count() == 3


def test_preview_writes_nothing(account, group, django_assert_num_queries):
    make(account, State.ACTIVE, group)
    make(account, State.TERMINATED, group)

    with django_assert_num_queries(1):
        preview = lifecycle.preview(action="terminate", endpoints=Endpoint.objects.all())

    assert (preview.will_change, preview.skipped) == (1, {"already terminated": 1})
    assert preview.summary() == "1 will be terminated, 1 skipped: already terminated"
    assert Endpoint.objects.filter(state=State.TERMINATED).count() == 1
    assert not History.objects.exists()


def test_an_action_runs_a_constant_number_of_queries(
    account, group, actor, django_assert_max_num_queries
):
    for _ in range(20):
        make(account, State.ACTIVE, group)
    with django_assert_max_num_queries(4):  # savepoint/commit + transition + count
        result = lifecycle.suspend(endpoints=Endpoint.objects.all(), actor=actor)
    assert result.changed == 20


def test_a_sliced_queryset_acts_on_its_slice_only(account, group, actor):
    endpoints = [make(account, State.ACTIVE, group) for _ in range(5)]

    result = lifecycle.suspend(endpoints=Endpoint.objects.order_by("iccid")[:2], actor=actor)

    assert result.changed == 2
    suspended = Endpoint.objects.filter(state=State.SUSPENDED).order_by("iccid")
    assert [e.pk for e in suspended] == [e.pk for e in sorted(endpoints, key=str)[:2]]


def test_an_empty_selection_changes_nothing(actor, db):
    result = lifecycle.terminate(endpoints=Endpoint.objects.none(), actor=actor)
    assert (result.changed, result.skipped, result.summary()) == (0, {}, "No endpoints terminated")


def test_unknown_action_and_assign_without_group_are_programming_errors(db):
    with pytest.raises(ValueError, match="Unknown lifecycle action"):
        lifecycle.preview(action="delete", endpoints=Endpoint.objects.all())
    with pytest.raises(ValueError, match="needs a group"):
        lifecycle.preview(action="assign", endpoints=Endpoint.objects.all())


@pytest.mark.parametrize(
    ("changed", "skipped", "text"),
    [
        (1204, {"already terminated": 3}, "1,204 suspended, 3 skipped: already terminated"),
        (0, {"already terminated": 3}, "No endpoints suspended; 3 skipped: already terminated"),
        (1_000_000, {}, "1,000,000 suspended"),
        (
            5,
            {"terminated": 1200, "already suspended": 3},
            "5 suspended, 1,203 skipped: 1,200 terminated, 3 already suspended",
        ),
    ],
)
def test_summary_text(changed, skipped, text):
    result = TransitionResult(action="suspend", changed=changed, skipped=skipped)
    assert result.summary() == text
    preview = Preview(action="suspend", will_change=changed, skipped=skipped)
    assert preview.summary() == text.replace("suspended", "will be suspended", 1)


def test_endpoint_ids_are_accepted_instead_of_a_queryset(account, group, actor):
    one, two = make(account, State.IDLE, group), make(account, State.PENDING, None)
    result = lifecycle.suspend(endpoints=[one.pk, two.pk], actor=actor)
    assert result.summary() == "1 suspended, 1 skipped: pending (not in a group)"


def test_preview_of_assign_counts_only_the_groups_account(
    account, other_account, group, other_group
):
    make(account, State.PENDING, None)
    make(account, State.DETACHED, other_group)
    make(account, State.ACTIVE, group)
    make(account, State.SUSPENDED, group)
    make(other_account, State.PENDING, None)

    preview = lifecycle.preview(action="assign", endpoints=Endpoint.objects.all(), group=group)

    assert preview.will_change == 2
    assert preview.skipped == {"already in this group": 1, "suspended": 1}
    assert preview.summary() == (
        "2 will be assigned, 2 skipped: 1 already in this group, 1 suspended"
    )


def test_actors(operator):
    assert Actor.for_support(operator) == Actor(kind="support", user=operator, label="op")
    assert (Actor.NETWORK.kind, Actor.NETWORK.label, Actor.NETWORK.user) == (
        "network",
        "network",
        None,
    )
    assert (Actor.SYSTEM.kind, Actor.SYSTEM.label) == ("system", "system")


def test_history_writers_list_every_column_of_the_model():
    """The set-based writers fill every History column but the id; a new field
    fails here until they give it a value."""
    from inventory.history import COLUMNS
    from inventory.models import History

    columns = tuple(f.column for f in History._meta.concrete_fields if not f.primary_key)
    assert columns == COLUMNS


def test_the_skip_reasons_are_counted_only_when_something_was_skipped(account, group, actor):
    active = [EndpointFactory(account=account, state=State.ACTIVE, primary_group=group)]
    active.append(EndpointFactory(account=account, state=State.IDLE, primary_group=group))
    pending = EndpointFactory(account=account, state=State.PENDING)

    def suspend(endpoints):
        with CaptureQueriesContext(connection) as queries:
            result = lifecycle.suspend(
                endpoints=Endpoint.objects.filter(pk__in=[e.pk for e in endpoints]), actor=actor
            )
        return result, sum("GROUP BY" in q["sql"] for q in queries.captured_queries)

    result, classified = suspend(active)
    assert (result.changed, result.skipped, classified) == (2, {}, 0)
    result, classified = suspend([*active, pending])
    assert result.changed == 0
    assert result.skipped == {"already suspended": 2, "pending (not in a group)": 1}
    assert classified == 1
