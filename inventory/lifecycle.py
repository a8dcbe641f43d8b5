"""Which lifecycle transitions are allowed, and how a set of endpoints moves.

One place for every rule of docs/product.md "Lifecycle", for one endpoint and for a
million alike. Each action is one transaction and ONE SQL statement that locks
the endpoints still in an allowed state, changes them, writes their History rows
and does the side effects (IP releases, session teardowns, membership changes):

    WITH target AS (SELECT ... WHERE id IN (<queryset>) AND <allowed> FOR NO KEY UPDATE),
         upd AS (UPDATE inventory_endpoint ... FROM target RETURNING ...),
         <side effects> AS (INSERT/DELETE ... FROM upd),
         hist AS (INSERT INTO inventory_history (...) SELECT ... FROM upd),
         events AS (INSERT INTO webhooks_accountevent (...) SELECT ... FROM upd
                    WHERE <a webhook of the account wants it>)
    SELECT <rows changed>, <accounts with events>, <endpoints selected>

The row lock re-checks the state of a row a concurrent transaction has just
changed (PostgreSQL re-evaluates the WHERE clause on the new row version), so two
people acting on the same endpoints never produce an illegal transition or lose
a history row. Rows are locked in id order so that concurrent bulk actions wait
for each other instead of deadlocking. ``NO KEY UPDATE`` is the lock an UPDATE
takes anyway; unlike ``FOR UPDATE`` it lets other transactions insert rows that
reference the endpoint (history, network events) meanwhile.

What is not allowed is skipped and counted by reason; the reason texts are shown
to users ("1,204 suspended, 3 skipped: already terminated"). The reasons are
counted (one GROUP BY) only when fewer endpoints changed than were selected. A
caller that acts in several calls (a background job's chunks) passes its own
``batch`` so that all their History rows share it.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Case, CharField, Count, Q, QuerySet, Value, When
from django.utils import timezone

from events import outbox
from events.models import EventType
from inventory import history
from inventory.history import Actor
from inventory.models import (
    IMSI,
    IN_SERVICE_STATES,
    Endpoint,
    Group,
    History,
    HistoryAction,
    IPAllocation,
    SecondaryMembership,
    SessionTeardown,
    State,
)
from inventory.retention import RETENTION

# Table names for the SQL below, quoted, from the models (never spelled out).
_quote = connection.ops.quote_name
_ENDPOINTS = _quote(Endpoint._meta.db_table)
_IMSIS = _quote(IMSI._meta.db_table)
_HISTORY = _quote(History._meta.db_table)
_GROUPS = _quote(Group._meta.db_table)
_ALLOCATIONS = _quote(IPAllocation._meta.db_table)
_MEMBERSHIPS = _quote(SecondaryMembership._meta.db_table)
_TEARDOWNS = _quote(SessionTeardown._meta.db_table)

STATE_CHANGED = EventType.STATE_CHANGED.value
UPDATED = EventType.UPDATED.value
CONNECTIVITY_RESET = EventType.CONNECTIVITY_RESET.value

# Plain strings: they are SQL parameters and dictionary keys throughout.
ASSIGN = HistoryAction.ASSIGN.value
SUSPEND = HistoryAction.SUSPEND.value
TERMINATE = HistoryAction.TERMINATE.value
REINSTATE = HistoryAction.REINSTATE.value
RESET = HistoryAction.RESET.value
ACTIONS = (ASSIGN, SUSPEND, TERMINATE, REINSTATE, RESET)

#: Support may reinstate a terminated endpoint this long after termination;
#: afterwards the purge command deletes it (one period, defined in retention).
REINSTATE_WINDOW = RETENTION

# Skip reasons, as users read them.
ALREADY_IN_GROUP = "already in this group"
SUSPENDED = "suspended"
TERMINATED = "terminated"
ALREADY_SUSPENDED = "already suspended"
PENDING_NO_GROUP = "pending (not in a group)"
ALREADY_TERMINATED = "already terminated"
TERMINATED_TOO_LONG_AGO = "terminated more than 90 days ago"
NOT_TERMINATED = "not terminated"

_PAST_TENSE = {
    ASSIGN: "assigned",
    SUSPEND: "suspended",
    TERMINATE: "terminated",
    REINSTATE: "reinstated",
    RESET: "reset",
}

#: After an action, the endpoints it changed fall into this skip bucket of the
#: same classification (a suspended endpoint is "already suspended").
_CHANGED_LAND_IN = {
    ASSIGN: ALREADY_IN_GROUP,
    SUSPEND: ALREADY_SUSPENDED,
    TERMINATE: ALREADY_TERMINATED,
    REINSTATE: NOT_TERMINATED,
    # A reset leaves the state as it was: what it reset could be reset again.
    RESET: "",
}

_IN_SERVICE = [str(s) for s in IN_SERVICE_STATES]


def _describe_skipped(skipped: dict[str, int]) -> str:
    total = sum(skipped.values())
    if len(skipped) == 1:
        reasons = next(iter(skipped))
    else:
        reasons = ", ".join(f"{n:,} {reason}" for reason, n in _ordered(skipped).items())
    return f"{total:,} skipped: {reasons}"


def _ordered(skipped: dict[str, int]) -> dict[str, int]:
    return dict(sorted(skipped.items(), key=lambda item: (-item[1], item[0])))


def _summary(count: int, verb: str, skipped: dict[str, int]) -> str:
    if count == 0:
        text = f"No endpoints {verb}"
        return f"{text}; {_describe_skipped(skipped)}" if skipped else text
    text = f"{count:,} {verb}"
    return f"{text}, {_describe_skipped(skipped)}" if skipped else text


@dataclass
class TransitionResult:
    """What an action did: how many endpoints changed, how many were skipped and
    why, and the batch id shared by its History rows."""

    action: str
    changed: int
    skipped: dict[str, int] = field(default_factory=dict)
    batch: UUID = field(default_factory=uuid.uuid4)

    def summary(self) -> str:
        """ "1,204 suspended, 3 skipped: already terminated"; with several reasons
        each gets its count: "5 skipped: 3 already suspended, 2 terminated"."""
        return _summary(self.changed, _PAST_TENSE[self.action], self.skipped)


@dataclass
class Preview:
    """What an action would do, for confirmation pages. Nothing is written."""

    action: str
    will_change: int
    skipped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        """ "1,204 will be suspended, 3 skipped: already terminated"."""
        return _summary(self.will_change, f"will be {_PAST_TENSE[self.action]}", self.skipped)


# -- classification -------------------------------------------------------------


def _skip_reason(action: str, group: Group | None, now: datetime) -> Case:
    """The skip reason of an endpoint for ``action`` as a SQL expression; ""
    means the action applies to it."""
    if action == ASSIGN:
        whens = [
            When(state=State.SUSPENDED, then=Value(SUSPENDED)),
            When(state=State.TERMINATED, then=Value(TERMINATED)),
            When(Q(state__in=_IN_SERVICE, primary_group_id=group.pk), then=Value(ALREADY_IN_GROUP)),
        ]
    elif action == SUSPEND:
        whens = [
            When(state=State.SUSPENDED, then=Value(ALREADY_SUSPENDED)),
            When(state=State.TERMINATED, then=Value(TERMINATED)),
            When(state=State.PENDING, then=Value(PENDING_NO_GROUP)),
        ]
    elif action == TERMINATE:
        whens = [When(state=State.TERMINATED, then=Value(ALREADY_TERMINATED))]
    elif action == RESET:
        whens = [
            When(state=State.SUSPENDED, then=Value(SUSPENDED)),
            When(state=State.TERMINATED, then=Value(TERMINATED)),
            When(state=State.PENDING, then=Value(PENDING_NO_GROUP)),
        ]
    else:
        whens = [
            When(~Q(state=State.TERMINATED), then=Value(NOT_TERMINATED)),
            When(terminated_at__lt=now - REINSTATE_WINDOW, then=Value(TERMINATED_TOO_LONG_AGO)),
        ]
    return Case(*whens, default=Value(""), output_field=CharField())


def _scoped(action: str, endpoints: QuerySet[Endpoint], group: Group | None) -> QuerySet:
    """The endpoints an action may touch at all, unordered (assign never
    crosses accounts). A sliced queryset ("the first 50") becomes a subquery;
    plain endpoint ids are accepted too."""
    if not isinstance(endpoints, QuerySet):
        endpoints = Endpoint.objects.filter(pk__in=list(endpoints))
    elif endpoints.query.is_sliced:
        endpoints = Endpoint.objects.filter(pk__in=endpoints.values("pk"))
    endpoints = endpoints.order_by()
    if action == ASSIGN:
        endpoints = endpoints.filter(account_id=group.account_id)
    return endpoints


def _classify(
    action: str, endpoints: QuerySet[Endpoint], group: Group | None, now: datetime
) -> dict[str, int]:
    """Count the endpoints by skip reason ("" = would change) in one GROUP BY."""
    rows = (
        _scoped(action, endpoints, group)
        .annotate(skip_reason=_skip_reason(action, group, now))
        .values("skip_reason")
        .annotate(n=Count("pk"))
        .values_list("skip_reason", "n")
    )
    return dict(rows)


def _check(action: str, group: Group | None) -> None:
    if action not in ACTIONS:
        raise ValueError(f"Unknown lifecycle action {action!r}.")
    if action == ASSIGN and group is None:
        raise ValueError("Assigning endpoints needs a group.")


def preview(*, action: str, endpoints: QuerySet[Endpoint], group: Group | None = None) -> Preview:
    """How many endpoints ``action`` would change and what it would skip, and
    why, without writing anything (one GROUP BY query)."""
    _check(action, group)
    counts = _classify(action, endpoints, group, timezone.now())
    will_change = counts.pop("", 0)
    return Preview(action=action, will_change=will_change, skipped=_ordered(counts))


# -- transitions ----------------------------------------------------------------


@dataclass
class _Statement:
    """The action-specific parts of the one transition statement."""

    allowed: str
    allowed_params: list
    set_clause: str
    set_params: list
    side_effects: list[tuple[str, list]] = field(default_factory=list)
    changes: str = "'{}'::jsonb"
    changes_params: list = field(default_factory=list)


_TEARDOWN = (
    f"INSERT INTO {_TEARDOWNS} (account_id, endpoint_id, imsi, reason, at) "
    "SELECT u.account_id, u.id, i.imsi, %s, %s FROM upd u "
    f"JOIN {_IMSIS} i ON i.endpoint_id = u.id WHERE u.old_state = 'active'"
)


# The account event of each changed endpoint (docs/webhooks.md): a state change,
# or for a move between groups that keeps the state, an update (a reset: its own
# type). Written for every account (the event log keeps them all); the accounts
# whose webhooks want them are woken (``outbox.wanted_by``).
@functools.cache
def _events_insert() -> str:
    """Built on first use: whether an event is wanted (``outbox.seq``) is SQL
    given by the subscribers the settings name.

    The payload's fields that are the same for every endpoint of the
    statement (version, action, reason, actor, time, group) are built once,
    in a sub-select PostgreSQL runs once (an InitPlan), and each row's own
    (endpoint, from and to state) are added to them with ``||``. Building
    every field per row cost 4.5 µs a payload, this 2.4 µs, for the same
    jsonb (docs/benchmark.md, "The ICCID's last digits moved to the search
    copy")."""
    return (
        f"INSERT INTO {outbox.EVENTS} ({outbox.COLUMN_LIST}) "
        "SELECT x.account_id, x.type, x.id, (SELECT jsonb_build_object("
        "'version', %s::int, 'action', %s::text, 'reason', %s::text, "
        "'actor', jsonb_build_object('kind', %s::text, 'label', %s::text), "
        "'at', %s::timestamptz, 'group', %s::text)) || jsonb_build_object("
        "'endpoint', jsonb_build_object('id', x.id, 'iccid', x.iccid), "
        "'from_state', x.old_state, 'to_state', x.new_state), %s, "
        f"{outbox.seq('x.account_id', 'x.type')} "
        "FROM (SELECT u.*, CASE WHEN u.old_state <> u.new_state THEN %s ELSE %s END AS type "
        f"FROM upd u) x {outbox.RETURNING}"
    )


_OLD_GROUP_CHANGE = (
    "CASE WHEN og.name IS NULL THEN '{}'::jsonb "
    "ELSE jsonb_build_object('group', jsonb_build_array(og.name, NULL)) END"
)


def _transition(
    *,
    action: str,
    endpoints: QuerySet[Endpoint],
    actor: Actor,
    reason: str,
    statement: _Statement,
    group: Group | None,
    now: datetime,
    batch: UUID | None,
) -> TransitionResult:
    batch = batch or uuid.uuid4()
    try:
        ids_sql, ids_params = _scoped(action, endpoints, group).values("id").query.sql_with_params()
    except EmptyResultSet:  # e.g. Endpoint.objects.none(): nothing to lock or count
        return TransitionResult(action=action, changed=0, skipped={}, batch=batch)

    ctes = [
        (
            f"target AS (SELECT e.id, e.state, e.primary_group_id FROM {_ENDPOINTS} e "
            f"WHERE e.id IN ({ids_sql}) AND {statement.allowed} "
            "ORDER BY e.id FOR NO KEY UPDATE OF e)",
            [*ids_params, *statement.allowed_params],
        ),
        (
            f"upd AS (UPDATE {_ENDPOINTS} e SET {statement.set_clause} "
            "FROM target t WHERE e.id = t.id "
            "RETURNING e.id, e.account_id, e.iccid, t.state AS old_state, e.state AS new_state, "
            "t.primary_group_id AS old_group_id)",
            statement.set_params,
        ),
        *(
            (f"side_effect_{n} AS ({sql})", params)
            for n, (sql, params) in enumerate(statement.side_effects)
        ),
    ]
    sql = (
        "WITH "
        + ", ".join(cte for cte, _ in ctes)
        + f", hist AS (INSERT INTO {_HISTORY} ({history.COLUMN_LIST})"
        " SELECT u.account_id, u.id, %s, %s, %s, %s, %s, u.old_state, u.new_state,"
        f" {statement.changes}, %s, %s"
        f" FROM upd u LEFT JOIN {_GROUPS} og ON og.id = u.old_group_id RETURNING 1)"
        f", events AS ({_events_insert()})"
        f" SELECT (SELECT count(*) FROM hist), ARRAY({outbox.wanted_by('events')}),"
        f" (SELECT count(*) FROM ({ids_sql}) scoped)"
    )
    # Positional: the selection's SQL comes compiled by Django with %s, and
    # psycopg cannot mix that with named parameters in one statement.
    params = [p for _, cte_params in ctes for p in cte_params]
    params += [now, actor.kind, actor.user_id, actor.label, action]
    params += [*statement.changes_params, reason, batch]
    params += [outbox.VERSION, action, reason, actor.kind, actor.label, now]
    # A reset is its own event; the others a state change, or an update when a
    # move between groups keeps the state.
    types = [CONNECTIVITY_RESET] * 2 if action == RESET else [STATE_CHANGED, UPDATED]
    params += [group.name if group else None, now, *types, *ids_params]

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            changed, event_accounts, scoped = cursor.fetchone()
        outbox.wake(event_accounts)
        if changed == scoped:
            # Every endpoint of the selection changed (as every chunk of a job
            # on a quiet fleet): nothing to classify. The count is of the
            # statement's snapshot; an endpoint gone meanwhile is not changed,
            # so the two differ and the GROUP BY below says why.
            return TransitionResult(action=action, changed=changed, skipped={}, batch=batch)
        # Counted after the change, in the same transaction: the endpoints just
        # changed now sit in the "already ..." bucket and are taken out of it.
        counts = _classify(action, endpoints, group, now)
    counts.pop("", None)
    landed = _CHANGED_LAND_IN[action]
    counts[landed] = counts.get(landed, 0) - changed
    skipped = {reason_: n for reason_, n in counts.items() if n > 0}
    return TransitionResult(action=action, changed=changed, skipped=_ordered(skipped), batch=batch)


def assign_to_group(
    *,
    endpoints: QuerySet[Endpoint],
    group: Group,
    actor: Actor,
    reason: str = "",
    batch: UUID | None = None,
) -> TransitionResult:
    """Put endpoints into ``group``: Pending ones become Active; in-service ones
    (Active, Idle, Detached) move to it and keep their state.

    A moved endpoint gives up all its addresses in its old primary group (and a
    moved Active one its data session, which used such an address), and
    if ``group`` was one of its secondary groups that membership ends (the
    group is its primary now; an address it had there stays). Suspended and
    terminated endpoints, those already in the group, and endpoints of other
    accounts than the group's are left alone.
    """
    now = timezone.now()
    statement = _Statement(
        allowed=(
            "(e.state = 'pending' OR "
            "(e.state = ANY(%s) AND e.primary_group_id IS DISTINCT FROM %s))"
        ),
        allowed_params=[_IN_SERVICE, group.pk],
        set_clause=(
            "state = CASE WHEN t.state = 'pending' THEN 'active' ELSE t.state END, "
            "primary_group_id = %s, "
            "state_changed_at = CASE WHEN t.state = 'pending' THEN %s "
            "ELSE e.state_changed_at END"
        ),
        set_params=[group.pk, now],
        side_effects=[
            (
                f"DELETE FROM {_ALLOCATIONS} a USING upd u "
                "WHERE a.endpoint_id = u.id AND a.group_id = u.old_group_id "
                "AND u.old_group_id <> %s",
                [group.pk],
            ),
            (
                f"DELETE FROM {_MEMBERSHIPS} s USING upd u "
                "WHERE s.endpoint_id = u.id AND s.group_id = %s",
                [group.pk],
            ),
            (_TEARDOWN, ["moved", now]),
        ],
        changes="jsonb_build_object('group', jsonb_build_array(og.name, %s::text))",
        changes_params=[group.name],
    )
    return _transition(
        action=ASSIGN,
        endpoints=endpoints,
        actor=actor,
        reason=reason,
        statement=statement,
        group=group,
        now=now,
        batch=batch,
    )


def suspend(
    *, endpoints: QuerySet[Endpoint], actor: Actor, reason: str = "", batch: UUID | None = None
) -> TransitionResult:
    """Active, Idle and Detached endpoints become Suspended (not reversible);
    the data sessions of the Active ones end at once (a SessionTeardown per
    IMSI for the packet core)."""
    now = timezone.now()
    statement = _Statement(
        allowed="e.state = ANY(%s)",
        allowed_params=[_IN_SERVICE],
        set_clause="state = 'suspended', state_changed_at = %s",
        set_params=[now],
        side_effects=[(_TEARDOWN, [State.SUSPENDED.value, now])],
    )
    return _transition(
        action=SUSPEND,
        endpoints=endpoints,
        actor=actor,
        reason=reason,
        statement=statement,
        group=None,
        now=now,
        batch=batch,
    )


#: A reset ends whatever session the core holds for each IMSI of the endpoint,
#: whatever state the portal last heard of (the reset exists for when the two
#: disagree): RADIUS sends a Disconnect-Request and the feed lists the IMSI.
_RESET_TEARDOWN = (
    f"INSERT INTO {_TEARDOWNS} (account_id, endpoint_id, imsi, reason, at) "
    "SELECT u.account_id, u.id, i.imsi, %s, %s FROM upd u "
    f"JOIN {_IMSIS} i ON i.endpoint_id = u.id"
)


def reset(
    *, endpoints: QuerySet[Endpoint], actor: Actor, reason: str = "", batch: UUID | None = None
) -> TransitionResult:
    """Reset the connectivity of in-service endpoints (docs/connectivity.md):
    their data sessions end (a SessionTeardown per IMSI, reason ``reset``) so
    that the devices connect again; the state stays as it is until the core
    reports the session's end. A History row and an
    ``endpoint.connectivity_reset`` event each. Pending, suspended and
    terminated endpoints have no session to reset and are skipped."""
    now = timezone.now()
    statement = _Statement(
        allowed="e.state = ANY(%s)",
        allowed_params=[_IN_SERVICE],
        # Nothing of the endpoint changes; the row is locked by ``target``.
        set_clause="state = e.state",
        set_params=[],
        side_effects=[(_RESET_TEARDOWN, [RESET, now])],
    )
    return _transition(
        action=RESET,
        endpoints=endpoints,
        actor=actor,
        reason=reason,
        statement=statement,
        group=None,
        now=now,
        batch=batch,
    )


def terminate(
    *, endpoints: QuerySet[Endpoint], actor: Actor, reason: str = "", batch: UUID | None = None
) -> TransitionResult:
    """Every endpoint not yet terminated becomes Terminated. Data sessions of
    Active ones end; automatic addresses are released, static ones stay
    reserved until the purge deletes the endpoint (or support reinstates it)."""
    now = timezone.now()
    statement = _Statement(
        allowed="e.state <> 'terminated'",
        allowed_params=[],
        set_clause="state = 'terminated', state_changed_at = %s, terminated_at = %s",
        set_params=[now, now],
        side_effects=[
            (_TEARDOWN, [State.TERMINATED.value, now]),
            (
                f"DELETE FROM {_ALLOCATIONS} a USING upd u "
                "WHERE a.endpoint_id = u.id AND a.kind = 'auto'",
                [],
            ),
        ],
    )
    return _transition(
        action=TERMINATE,
        endpoints=endpoints,
        actor=actor,
        reason=reason,
        statement=statement,
        group=None,
        now=now,
        batch=batch,
    )


def reinstate(
    *, endpoints: QuerySet[Endpoint], actor: Actor, reason: str = "", batch: UUID | None = None
) -> TransitionResult:
    """Support's undo of a termination, within 90 days of it: the endpoint is
    Pending again, out of all its groups, its static addresses kept."""
    now = timezone.now()
    statement = _Statement(
        allowed="e.state = 'terminated' AND e.terminated_at >= %s",
        allowed_params=[now - REINSTATE_WINDOW],
        set_clause=(
            "state = 'pending', state_changed_at = %s, terminated_at = NULL, "
            "primary_group_id = NULL"
        ),
        set_params=[now],
        side_effects=[
            (
                f"DELETE FROM {_MEMBERSHIPS} s USING upd u WHERE s.endpoint_id = u.id",
                [],
            )
        ],
        changes=_OLD_GROUP_CHANGE,
    )
    return _transition(
        action=REINSTATE,
        endpoints=endpoints,
        actor=actor,
        reason=reason,
        statement=statement,
        group=None,
        now=now,
        batch=batch,
    )
