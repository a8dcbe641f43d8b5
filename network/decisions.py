"""What each network event does to its endpoint (docs/product.md "Network events").

Decided in memory on the snapshot of the batch's locked endpoints, so that a
batch of thousands of events costs a few statements, not one per event: each
endpoint's events in the order they happened, stale ones (older than the last
activity applied) changing nothing; attach → Idle, session start → Active,
session end → Idle, detach → Detached for endpoints in service, and a session
start refused with a reason code (not in service, unknown APN, IMEI lock,
full subnet). Nothing here writes: ``network_writes`` stores the outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from inventory.identifiers import imei_matches
from inventory.models import (
    IN_SERVICE_STATES,
    EventType,
    HistoryAction,
    OperatorPolicy,
    State,
)
from inventory.operators import country_of, network
from network.contract import (
    ACCEPTED,
    REJECTED,
    SESSION_START,
    STALE,
    Event,
    Reason,
)

_ALLOW = OperatorPolicy.ALLOW.value
_BLOCK = OperatorPolicy.BLOCK.value
_SESSION_UPDATE = EventType.SESSION_UPDATE.value
_SESSION_END = EventType.SESSION_END.value
_DETACH = EventType.DETACH.value

#: A plain string: it goes into every refused event's History row.
SESSION_REJECTED = HistoryAction.SESSION_REJECTED.value
_IN_SERVICE = frozenset(state.value for state in IN_SERVICE_STATES)

_NEXT_STATE = {
    EventType.ATTACH.value: State.IDLE.value,
    EventType.SESSION_START.value: State.ACTIVE.value,
    EventType.SESSION_UPDATE.value: State.ACTIVE.value,
    EventType.SESSION_END.value: State.IDLE.value,
    EventType.DETACH.value: State.DETACHED.value,
}


#: The rejection reason of a session start, by endpoint state.
_NOT_IN_SERVICE = {
    State.PENDING.value: Reason.PENDING,
    State.SUSPENDED.value: Reason.SUSPENDED,
    State.TERMINATED.value: Reason.TERMINATED,
}


@dataclass
class Snapshot:
    """An endpoint's ``Connectivity`` row, as loaded and as events leave it
    (the same fields; compared to the loaded one to know whether to write)."""

    session_started_at: datetime | None = None
    session_ended_at: datetime | None = None
    session_ip: str | None = None
    session_apn: str = ""
    session_bytes_up: int = 0
    session_bytes_down: int = 0
    plmn: str = ""
    rat: str = ""
    network_seen_at: datetime | None = None
    imei: str = ""
    refused_at: datetime | None = None
    refused_reason: str = ""
    refused_event_id: str = ""
    refused_imei: str = ""
    refused_plmn: str = ""

    def copy(self) -> Snapshot:
        return Snapshot(**self.__dict__)


@dataclass(frozen=True)
class Policy:
    """A group's operator policy, as the decision reads it."""

    mode: str
    countries: frozenset[str]
    plmns: frozenset[str]

    def refuses(self, plmn: str) -> bool:
        """An allow list refuses a network it does not list (and a session
        whose network is not reported); a block list refuses the listed."""
        if self.mode == _ALLOW:
            return not plmn or not (plmn in self.plmns or country_of(plmn) in self.countries)
        if self.mode == _BLOCK:
            return bool(plmn) and (plmn in self.plmns or country_of(plmn) in self.countries)
        return False


@dataclass
class LoadedEndpoint:
    """The locked endpoint as loaded, then as the batch's events leave it."""

    id: int
    account_id: int
    #: For the account events' payloads (``events.outbox.emit_payloads``).
    iccid: str
    state: str
    primary_group_id: int | None
    imei_lock_enabled: bool
    imei: str
    last_activity: datetime | None
    state_changed_at: datetime | None = None
    #: group id -> APN, primary group first.
    apns: dict[int, str] = field(default_factory=dict)
    #: group id -> group name, for the history.
    group_names: dict[int, str] = field(default_factory=dict)
    #: group id -> address held in that group (static or auto).
    addresses: dict[int, str] = field(default_factory=dict)
    #: group id -> its operator policy, for the groups that have one.
    policies: dict[int, Policy] = field(default_factory=dict)
    #: What the network last told (``Connectivity``).
    snapshot: Snapshot = field(default_factory=Snapshot)

    def copy(self) -> LoadedEndpoint:
        """A copy to decide on (addresses change; APNs and names do not).
        Built field by field: ``dataclasses.replace`` introspects the fields
        on every call, which showed in the profile of a 500-event batch."""
        return LoadedEndpoint(
            id=self.id,
            account_id=self.account_id,
            iccid=self.iccid,
            state=self.state,
            primary_group_id=self.primary_group_id,
            imei_lock_enabled=self.imei_lock_enabled,
            imei=self.imei,
            last_activity=self.last_activity,
            state_changed_at=self.state_changed_at,
            apns=self.apns,
            group_names=self.group_names,
            addresses=dict(self.addresses),
            policies=self.policies,
            snapshot=self.snapshot.copy(),
        )


@dataclass
class Outcome:
    """What one event did, before it is written."""

    event: Event
    status: str
    reason: str = ""
    endpoint: LoadedEndpoint | None = None
    state: str = ""
    group_id: int | None = None
    ip: str | None = None
    history: dict | None = None
    #: (before, after) when the event moved the endpoint to another operator
    #: or country, or showed another IMEI than the last seen.
    network_change: tuple[str, str] | None = None
    imei_change: tuple[str, str] | None = None


def decide(
    events: list[Event],
    by_imsi: dict[str, int],
    loaded: dict[int, LoadedEndpoint],
    *,
    allocated: dict[tuple[int, int], str | None],
) -> tuple[list[Outcome], set[tuple[int, int]]]:
    """Decide every event on a copy of the loaded endpoints. Returns the outcomes
    and the (endpoint, group) memberships that need an automatic address and
    were not in ``allocated`` (an address, or None for a full subnet)."""
    endpoints = {pk: endpoint.copy() for pk, endpoint in loaded.items()}
    outcomes: list[Outcome] = []
    wanted: set[tuple[int, int]] = set()
    per_endpoint: dict[int, list[Event]] = {}
    for event in events:
        endpoint_id = by_imsi.get(event.imsi)
        if endpoint_id is None:
            outcomes.append(Outcome(event=event, status=REJECTED, reason=Reason.UNKNOWN_IMSI))
        else:
            per_endpoint.setdefault(endpoint_id, []).append(event)
    for endpoint_id, endpoint_events in per_endpoint.items():
        endpoint = endpoints[endpoint_id]
        # Each endpoint's events in the order they happened (ties: request order).
        for event in sorted(endpoint_events, key=lambda e: (e.at, e.index)):
            outcomes.append(_decide_one(event, endpoint, allocated, wanted))
    return outcomes, wanted


def _decide_one(
    event: Event,
    endpoint: LoadedEndpoint,
    allocated: dict[tuple[int, int], str | None],
    wanted: set[tuple[int, int]],
) -> Outcome:
    outcome = Outcome(event=event, status=ACCEPTED, endpoint=endpoint)
    outcome.group_id = endpoint.primary_group_id
    if endpoint.last_activity is not None and event.at < endpoint.last_activity:
        outcome.status, outcome.reason = STALE, Reason.OLDER_THAN_LAST_ACTIVITY
        outcome.state = endpoint.state
        return outcome

    from_state = endpoint.state
    new_address = False
    if event.type == SESSION_START:
        reason, group_id = _session_refusal(event, endpoint)
        outcome.group_id = group_id if group_id is not None else outcome.group_id
        if not reason:
            pair = (endpoint.id, group_id)
            if group_id in endpoint.addresses:
                outcome.ip = endpoint.addresses[group_id]
            elif pair in allocated:
                outcome.ip = allocated[pair]
                if outcome.ip is None:
                    reason = Reason.SUBNET_FULL
                else:
                    endpoint.addresses[group_id] = outcome.ip
                    new_address = True
            else:
                wanted.add(pair)
        if reason:
            outcome.status, outcome.reason, outcome.state = (
                REJECTED,
                reason,
                endpoint.state,
            )
            snapshot = endpoint.snapshot
            snapshot.refused_at = event.at
            snapshot.refused_reason = reason
            snapshot.refused_event_id = event.id
            snapshot.refused_imei = event.imei
            snapshot.refused_plmn = event.plmn
            outcome.history = {
                "action": SESSION_REJECTED,
                "from_state": "",
                "to_state": "",
                "reason": reason,
                "changes": _event_changes(event),
            }
            return outcome

    if endpoint.state in _IN_SERVICE:
        endpoint.state = _NEXT_STATE[event.type]
    endpoint.last_activity = event.at
    _follow(event, outcome, endpoint)
    outcome.state = endpoint.state
    if endpoint.state != from_state or new_address:
        if endpoint.state != from_state:
            endpoint.state_changed_at = event.at
        changes = _event_changes(event)
        if new_address:
            changes["group"] = endpoint.group_names.get(outcome.group_id, "")
            changes["ip"] = [None, outcome.ip]
        outcome.history = {
            "action": event.type,
            "from_state": from_state,
            "to_state": endpoint.state,
            "reason": "",
            "changes": changes,
        }
    return outcome


def _session_refusal(event: Event, endpoint: LoadedEndpoint) -> tuple[str, int | None]:
    """(reason code or "", the group the session would use)."""
    if endpoint.state in _NOT_IN_SERVICE:
        return _NOT_IN_SERVICE[endpoint.state], None
    if event.apn:
        wanted = event.apn.lower()
        group_id = next(
            (pk for pk, apn in endpoint.apns.items() if apn.lower() == wanted),
            None,
        )
        if group_id is None:
            return Reason.UNKNOWN_APN, None
    else:
        group_id = endpoint.primary_group_id
    policy = endpoint.policies.get(group_id)
    if policy is not None and policy.refuses(event.plmn):
        return Reason.OPERATOR_NOT_ALLOWED, group_id
    if endpoint.imei_lock_enabled and not imei_matches(endpoint.imei, event.imei):
        return Reason.IMEI_MISMATCH, group_id
    return "", group_id


def _follow(event: Event, outcome: Outcome, endpoint: LoadedEndpoint) -> None:
    """Move the endpoint's snapshot with an accepted event: the session, the
    serving network, the IMEI; note a change of operator, country or IMEI
    (the first network or IMEI ever seen is not a change)."""
    snapshot = endpoint.snapshot
    if event.plmn and event.plmn != snapshot.plmn:
        if snapshot.plmn and _network_key(snapshot.plmn) != _network_key(event.plmn):
            outcome.network_change = (snapshot.plmn, event.plmn)
        snapshot.plmn = event.plmn
    if event.plmn or event.rat:
        snapshot.network_seen_at = event.at
    if event.rat:
        snapshot.rat = event.rat
    if event.imei and event.imei[:14] != snapshot.imei[:14]:
        if snapshot.imei:
            outcome.imei_change = (snapshot.imei, event.imei)
        snapshot.imei = event.imei
    kind = event.type
    if kind == SESSION_START:
        snapshot.session_started_at = event.at
        snapshot.session_ended_at = None
        snapshot.session_ip = outcome.ip
        snapshot.session_apn = event.apn or endpoint.apns.get(outcome.group_id, "")
        snapshot.session_bytes_up = snapshot.session_bytes_down = 0
    elif kind in (_SESSION_UPDATE, _SESSION_END):
        if snapshot.session_started_at is None or snapshot.session_ended_at is not None:
            # A session whose start the core never reported: it began by now.
            snapshot.session_started_at = event.at
            snapshot.session_ended_at = None
            snapshot.session_bytes_up = snapshot.session_bytes_down = 0
        snapshot.session_bytes_up += event.bytes_up
        snapshot.session_bytes_down += event.bytes_down
        if kind == _SESSION_END:
            snapshot.session_ended_at = event.at
    elif kind == _DETACH and snapshot.session_ended_at is None and snapshot.session_started_at:
        snapshot.session_ended_at = event.at


def _network_key(plmn: str) -> tuple[str, str]:
    """What "another network" means to the customer: the operator or the country."""
    found = network(plmn)
    return (found.operator or plmn, found.country_code)


def _event_changes(event: Event) -> dict:
    changes: dict = {"event": event.id}
    if event.apn:
        changes["apn"] = event.apn
    if event.imei:
        changes["imei"] = event.imei
    if event.plmn:
        changes["plmn"] = event.plmn
    if event.rat:
        changes["rat"] = event.rat
    return changes
