"""What a batch of network events does (docs/product.md "Network events").

The packet core reports what devices do: attach → Idle, session start → Active
(with an automatic address on the first session in a group), session end →
Idle, detach → Detached. A session start is refused with a reason code for an
unknown IMSI, a Pending/Suspended/Terminated endpoint, an unknown APN, a broken
IMEI lock or a full subnet. Every accepted event moves the endpoint's last
activity forward, never back; an older event is ``stale`` and a repeated id a
``duplicate``: both change nothing.

A batch is processed set-based, because the core sends thousands of events a
second against a million endpoints: one statement locks and reads the
endpoints of all the batch's IMSIs (in id order, so that two batches never
deadlock), one loads the groups and addresses of those with a session start,
the decisions are made in Python on that snapshot (``network_decisions``), and
then one UPDATE moves all changed endpoints, one INSERT writes their history
and one INSERT stores the events (``network_writes``). The reads are sent
together, and so are the writes (psycopg's pipeline mode): a batch waits for
PostgreSQL about five times, not a dozen. Addresses come from
``addressing.allocate_auto`` in one call. Parsing and the answer's vocabulary
are in ``network_events``.

Replays are applied once even when two clients post the same event at the same
moment: ids already stored are looked up only after the endpoints are locked,
and the final INSERT of the events skips ids that another transaction stored
meanwhile (``ON CONFLICT DO NOTHING``); if any was skipped, the whole batch is
rolled back and decided again, now seeing those ids as duplicates.
"""

from __future__ import annotations

import uuid

from django.db import transaction

from inventory import addressing
from network import writes
from network.contract import (
    DUPLICATE,
    MAX_EVENTS,
    SESSION_START,
    Event,
    EventResult,
    Reason,
    parse_event,
)
from network.decisions import LoadedEndpoint, Outcome, decide
from usage.rollup import record_usage

__all__ = ["MAX_EVENTS", "Event", "EventResult", "Reason", "apply_events", "parse_event"]

#: Times a batch is decided again after losing a race on an event id.
_ATTEMPTS = 3


def apply_events(*, events: list) -> list[EventResult]:
    """Apply a batch of raw (decoded JSON) events; one result per event, in
    request order. Invalid events are answered and not stored; the others are
    decided and stored with their outcome in one transaction."""
    if len(events) > MAX_EVENTS:
        raise ValueError(f"at most {MAX_EVENTS} events per batch")
    results: list[EventResult | None] = [None] * len(events)
    valid: list[Event] = []
    seen: set[str] = set()
    for index, raw in enumerate(events):
        parsed = parse_event(raw, index)
        if isinstance(parsed, EventResult):
            results[index] = parsed
        elif parsed.id in seen:
            results[index] = EventResult(
                id=parsed.id, status=DUPLICATE, reason=Reason.DUPLICATE_IN_BATCH
            )
        else:
            seen.add(parsed.id)
            valid.append(parsed)

    if valid:
        for attempt in range(_ATTEMPTS):
            try:
                outcomes = _apply(valid)
                break
            except writes.LostRace:
                if attempt == _ATTEMPTS - 1:
                    raise
        for outcome in outcomes:
            results[outcome.event.index] = EventResult(
                id=outcome.event.id,
                status=outcome.status,
                reason=outcome.reason,
                state=outcome.state,
                ip=outcome.ip,
            )
    return [result for result in results if result is not None]


def _apply(events: list[Event]) -> list[Outcome]:
    with transaction.atomic():
        by_imsi, endpoints, stored = writes.lock_and_load(
            imsis={event.imsi for event in events},
            session_imsis={event.imsi for event in events if event.type == SESSION_START},
            event_ids=[event.id for event in events],
        )

        fresh = [event for event in events if event.id not in stored]
        outcomes = [
            Outcome(
                event=event,
                status=DUPLICATE,
                reason=Reason.ALREADY_RECEIVED,
                state=_state_of(endpoints, by_imsi, event),
            )
            for event in events
            if event.id in stored
        ]
        # Decide, allocate the first addresses the accepted sessions need, and
        # decide again knowing which subnets were full (that never asks for more).
        allocated: dict[tuple[int, int], str | None] = {}
        while True:
            decided, wanted = decide(fresh, by_imsi, endpoints, allocated=allocated)
            missing = wanted - allocated.keys()
            if not missing:
                break
            addresses = addressing.allocate_auto(memberships=sorted(missing))
            allocated.update({pair: addresses.get(pair) for pair in missing})
        outcomes.extend(decided)

        batch = uuid.uuid4()
        # The writes travel together (two round trips, not five). The rows
        # every batch of an account shares (its state counts, kept by a
        # trigger on the endpoints' UPDATE, and its daily usage) are written
        # last, so that concurrent batches hold them for as short a time as
        # possible. The usage runs outside the pipeline: a limit it crosses
        # suspends through the ORM, which reads row counts as it goes.
        with writes.pipelined():
            writes.insert_history(decided, batch)
            stored_all = writes.insert_events(decided)
            writes.insert_account_events(decided)
            writes.update_connectivity(endpoints, decided)
            writes.update_endpoints(endpoints, decided)
        stored_all()
        record_usage(outcomes=decided, batch=batch)
    return outcomes


def _state_of(endpoints: dict[int, LoadedEndpoint], by_imsi: dict[str, int], event: Event) -> str:
    endpoint = endpoints.get(by_imsi.get(event.imsi, 0))
    return endpoint.state if endpoint else ""
