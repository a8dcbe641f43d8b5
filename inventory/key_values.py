"""What a change to endpoints' key values writes (docs/key-values.md).

``change_key_values`` is one endpoint's edit (the Key Values tab; the API's
PATCH replaces or merges); ``set_key_value`` sets one pair on a selection
(the list's bulk action, as a job's chunks). Both lock the endpoint rows first
(``FOR NO KEY UPDATE``, in id order, as the lifecycle does), so the "before"
values in History are the ones replaced and a concurrent terminate either
comes first (the change is refused or skipped) or waits; both write one
"key_values" History row per endpoint changed, ``{"key_values": {key: [old,
new]}}`` (None for a key added or removed). A terminated endpoint's key values
are frozen, as the rest of it is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from events import outbox
from events.models import EventType as AccountEventType
from inventory import history
from inventory.history import Actor
from inventory.identifiers import (
    MAX_KEY_VALUES,
    clean_key,
    clean_key_values,
    clean_value,
)
from inventory.models import (
    Endpoint,
    History,
    HistoryAction,
    KeyValue,
    KeyValueDigest,
    State,
)

_quote = connection.ops.quote_name
_ENDPOINTS = _quote(Endpoint._meta.db_table)
_KEY_VALUES = _quote(KeyValue._meta.db_table)
_HISTORY = _quote(History._meta.db_table)

TERMINATED_MESSAGE = "A terminated endpoint's key values cannot be changed."

# Skip reasons of the bulk action, as users read them.
TERMINATED = "terminated"
ALREADY_SET = "already set to this value"
FULL = f"already has {MAX_KEY_VALUES} key values"


class KeyValuesRefused(Exception):
    """Nothing was saved; ``messages`` says why."""

    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


def key_values_of(endpoint: Endpoint) -> dict[str, str]:
    """The endpoint's pairs by key (one query)."""
    return dict(
        KeyValue.objects.filter(endpoint=endpoint, account=endpoint.account_id)
        .order_by("key")
        .values_list("key", "value")
    )


def matching(*, account_id: int, key: str, value: str) -> QuerySet[KeyValue]:
    """The pairs ``key`` = ``value`` of the account, by ``keyvalue_acct_digest``
    (the list's and the API's ``kv`` filter: ``Exists`` of this per endpoint)."""
    return KeyValue.objects.alias(digest=KeyValueDigest(F("key"), F("value"))).filter(
        account_id=account_id, digest=KeyValueDigest(Value(key), Value(value))
    )


def change_key_values(
    *, endpoint: Endpoint, actor: Actor, pairs: dict, replace: bool
) -> dict[str, list]:
    """Make the endpoint's key values ``pairs`` (``replace``) or apply ``pairs``
    on top of them (merge: a value of None removes its key). Returns the
    changes as recorded in History ({} when nothing changed, and then no row is
    written); raises ``KeyValuesRefused`` (nothing saved) for invalid pairs,
    more than 50, or a terminated endpoint."""
    removals = {key for key, value in pairs.items() if value is None and not replace}
    try:
        given = clean_key_values({k: v for k, v in pairs.items() if v is not None})
        removals = {clean_key(key) for key in removals}
    except ValidationError as exc:
        raise KeyValuesRefused(exc.messages) from exc
    with transaction.atomic():
        current_endpoint = Endpoint.objects.select_for_update(no_key=True).get(
            pk=endpoint.pk, account_id=endpoint.account_id
        )
        if current_endpoint.state == State.TERMINATED:
            raise KeyValuesRefused([TERMINATED_MESSAGE])
        current = key_values_of(current_endpoint)
        wanted = dict(given) if replace else {**current, **given}
        for key in removals:
            wanted.pop(key, None)
        if len(wanted) > MAX_KEY_VALUES:
            raise KeyValuesRefused(
                [
                    f"An endpoint has at most {MAX_KEY_VALUES} key values; this would be "
                    f"{len(wanted)}."
                ]
            )
        changes = {
            key: [current.get(key), wanted.get(key)]
            for key in sorted(current.keys() | wanted.keys())
            if current.get(key) != wanted.get(key)
        }
        if not changes:
            return {}
        removed = [key for key, (_, new) in changes.items() if new is None]
        if removed:
            KeyValue.objects.filter(endpoint=current_endpoint, key__in=removed).delete()
        upserts = [
            KeyValue(account_id=endpoint.account_id, endpoint=current_endpoint, key=key, value=new)
            for key, (_, new) in changes.items()
            if new is not None
        ]
        if upserts:
            KeyValue.objects.bulk_create(
                upserts,
                update_conflicts=True,
                unique_fields=["endpoint", "key"],
                update_fields=["value"],
            )
        history.record(
            endpoint=current_endpoint,
            actor=actor,
            action=HistoryAction.KEY_VALUES,
            changes={"key_values": changes},
        )
        outbox.emit(
            account_id=current_endpoint.account_id,
            type=AccountEventType.KEY_VALUES_CHANGED,
            endpoint_id=current_endpoint.pk,
            data={
                "endpoint": {"id": current_endpoint.pk, "iccid": current_endpoint.iccid},
                "changes": changes,
                "actor": {"kind": actor.kind, "label": actor.label},
                "at": timezone.now(),
            },
        )
        return changes


@dataclass
class SetResult:
    """What ``set_key_value`` did or would do (the shape a job adds up)."""

    changed: int
    skipped: dict[str, int] = field(default_factory=dict)

    def summary(self, *, key: str, done: bool = True) -> str:
        """ "1,204 endpoints set fleet, 3 skipped: 2 terminated, 1 already set to this value"."""
        verb = "set" if done else "will be set"
        text = f"{self.changed:,} endpoint{'' if self.changed == 1 else 's'} {verb} {key}"
        if self.skipped:
            reasons = ", ".join(
                f"{n:,} {reason}"
                for reason, n in sorted(self.skipped.items(), key=lambda item: (-item[1], item[0]))
            )
            text += f", {sum(self.skipped.values()):,} skipped: {reasons}"
        return text


def preview_set_key_value(*, endpoints: QuerySet[Endpoint], key: str, value: str) -> SetResult:
    """What ``set_key_value`` would do to ``endpoints`` now (one query, nothing
    written), for the confirmation page."""
    current = KeyValue.objects.filter(endpoint=OuterRef("pk"), key=key).values("value")[:1]
    pairs = (
        KeyValue.objects.filter(endpoint=OuterRef("pk"))
        .order_by()
        .values("endpoint")
        .annotate(n=Count("id"))
        .values("n")
    )
    rows = (
        endpoints.order_by()
        .annotate(current=Subquery(current), pairs=Coalesce(Subquery(pairs), 0))
        .annotate(
            reason=Case(
                When(state=State.TERMINATED, then=Value(TERMINATED)),
                When(current=value, then=Value(ALREADY_SET)),
                When(current__isnull=True, pairs__gte=MAX_KEY_VALUES, then=Value(FULL)),
                default=Value(""),
                output_field=CharField(),
            )
        )
        .values("reason")
        .annotate(n=Count("id"))
    )
    counts = {row["reason"]: row["n"] for row in rows}
    return SetResult(counts.pop("", 0), counts)


def set_key_value(
    *,
    endpoint_ids: list[int],
    account_id: int,
    key: str,
    value: str,
    actor: Actor,
    batch: UUID | None = None,
) -> SetResult:
    """Set ``key`` to ``value`` on the account's endpoints ``endpoint_ids``, in
    the caller's transaction (a job's chunk): three statements whatever the
    number of endpoints: lock and classify, upsert the pairs, insert History.
    Skipped: terminated, already set to this value, already at 50 pairs
    without this key."""
    key = clean_key(key)
    value = clean_value(value, key=key)
    batch = batch or uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT e.id, e.state, kv.value,"
            f" (SELECT count(*) FROM {_KEY_VALUES} n WHERE n.endpoint_id = e.id)"
            f" FROM {_ENDPOINTS} e"
            f" LEFT JOIN {_KEY_VALUES} kv ON kv.endpoint_id = e.id AND kv.key = %(key)s"
            " WHERE e.account_id = %(account)s AND e.id = ANY(%(ids)s::bigint[])"
            " ORDER BY e.id FOR NO KEY UPDATE OF e",
            {"key": key, "account": account_id, "ids": list(endpoint_ids)},
        )
        skipped: dict[str, int] = {}
        targets: list[tuple[int, str | None]] = []
        for endpoint_id, state, old, count in cursor.fetchall():
            reason = (
                TERMINATED
                if state == State.TERMINATED
                else ALREADY_SET
                if old == value
                else FULL
                if old is None and count >= MAX_KEY_VALUES
                else ""
            )
            if reason:
                skipped[reason] = skipped.get(reason, 0) + 1
            else:
                targets.append((endpoint_id, old))
        if not targets:
            return SetResult(0, skipped)
        ids = [endpoint_id for endpoint_id, _ in targets]
        cursor.execute(
            f"INSERT INTO {_KEY_VALUES} (account_id, endpoint_id, key, value)"
            " SELECT %(account)s, id, %(key)s, %(value)s FROM unnest(%(ids)s::bigint[]) AS id"
            " ON CONFLICT (endpoint_id, key) DO UPDATE SET value = EXCLUDED.value",
            {"account": account_id, "key": key, "value": value, "ids": ids},
        )
        cursor.execute(
            f"INSERT INTO {_HISTORY} ({history.COLUMN_LIST})"
            " SELECT %(account)s, t.id, %(now)s, %(kind)s, %(user)s, %(label)s, %(action)s,"
            " '', '', jsonb_build_object('key_values', jsonb_build_object(%(key)s::text,"
            " jsonb_build_array(t.old, %(value)s::text))), '', %(batch)s"
            " FROM unnest(%(ids)s::bigint[], %(olds)s::text[]) AS t(id, old)",
            {
                "account": account_id,
                "now": timezone.now(),
                "kind": actor.kind,
                "user": actor.user_id,
                "label": actor.label,
                "action": HistoryAction.KEY_VALUES.value,
                "key": key,
                "value": value,
                "batch": batch,
                "ids": ids,
                "olds": [old for _, old in targets],
            },
        )
    at = timezone.now()
    outbox.emit_rows(
        [
            {
                "account_id": account_id,
                "type": str(AccountEventType.KEY_VALUES_CHANGED),
                "endpoint_id": endpoint_id,
                "data": {
                    "changes": {key: [old, value]},
                    "actor": {"kind": actor.kind, "label": actor.label},
                    "at": at,
                },
            }
            for endpoint_id, old in targets
        ],
        endpoints=Endpoint,
    )
    return SetResult(len(targets), skipped)
