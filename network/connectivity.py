"""Whether an endpoint is online, where, and if not, why (docs/connectivity.md).

``connectivity_of`` reads what is known of one endpoint (its state, its
``Connectivity`` snapshot kept by the network batch, the History row of its
suspension, this month's usage limit) in a fixed number of queries, and
``explain`` turns it into one sentence by the first rule that applies, in the
order below. Each rule names the record it rests on: a History row or a
network event, so that the card and the API can link to it.

The rules, first match wins:

1. terminated — "Terminated on <when> by <who>."
2. suspended  — "Suspended on <when> by <who>: <why>."
3. pending    — "Not in service yet: assign it to a group."
4. data limit — "Reached its data allowance of <n> on <when>; sessions go on
   being refused or suspended by the group's setting."
5. refused    — the last session start was refused after the last accepted
   one: "Last session refused on <when> because <reason>" (IMEI lock: the IMEI
   that tried; operator policy: which network).
6. online     — a data session is open.
7. never      — the network has never reported the endpoint.
8. attached   — attached (Idle), no data session.
9. offline    — "Not seen since <when> on <operator, country>."
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from inventory.models import Connectivity, Endpoint, History, HistoryAction, State
from inventory.operators import Network, network
from inventory.reasons import Reason
from usage.models import UsageWarning, WarningKind
from usage.selectors import human_bytes, month_start

#: How the portal says each refusal reason code (docs/network-api.md).
REASON_WORDS = {
    Reason.UNKNOWN_IMSI: "the IMSI is not known",
    Reason.PENDING: "the SIM was not in service yet (pending)",
    Reason.SUSPENDED: "the endpoint is suspended",
    Reason.TERMINATED: "the endpoint is terminated",
    Reason.UNKNOWN_APN: "the device asked for an APN none of its groups has",
    Reason.IMEI_MISMATCH: "the IMEI lock refused the device",
    Reason.SUBNET_FULL: "its group's VSlice has no free address",
    Reason.OPERATOR_NOT_ALLOWED: "the group's operator policy does not allow the network",
}


class Status:
    """The card's headline: one word, as ``GET …/connectivity`` gives it."""

    ONLINE = "online"
    ATTACHED = "attached"
    OFFLINE = "offline"


@dataclass(frozen=True)
class Evidence:
    """The record a sentence rests on: a History row or a network event."""

    kind: str  # "history" or "network_event"
    id: str
    at: datetime


@dataclass(frozen=True)
class Refusal:
    reason: str
    words: str
    at: datetime
    event_id: str
    imei: str
    network: Network | None


@dataclass(frozen=True)
class Session:
    started_at: datetime
    ended_at: datetime | None
    ip: str | None
    apn: str
    bytes_up: int
    bytes_down: int


@dataclass(frozen=True)
class ConnectivityReport:
    """Everything the card and the API show."""

    status: str
    rule: str
    sentence: str
    evidence: Evidence | None
    session: Session | None
    network: Network | None
    rat: str
    network_seen_at: datetime | None
    imei: str
    refusal: Refusal | None
    since: datetime | None


@dataclass(frozen=True)
class Known:
    """What ``explain`` decides from; built by ``connectivity_of`` (and by tests)."""

    state: str
    state_changed_at: datetime
    last_activity: datetime | None
    snapshot: Connectivity | None
    #: The History row that put it in its current state (suspend, terminate).
    state_row: History | None
    #: This month's 100 % usage warning, if any: (at, allowance bytes).
    limit: tuple[datetime, int] | None


def connectivity_of(endpoint: Endpoint) -> ConnectivityReport:
    """The report of one endpoint (already scoped to the account by the
    caller): at most three queries."""
    snapshot = Connectivity.objects.filter(endpoint=endpoint).first()
    state_row = None
    if endpoint.state in (State.SUSPENDED, State.TERMINATED):
        action = (
            HistoryAction.SUSPEND if endpoint.state == State.SUSPENDED else HistoryAction.TERMINATE
        )
        state_row = (
            History.objects.filter(endpoint=endpoint, action=action).order_by("-at", "-id").first()
        )
    limit = None
    if endpoint.state != State.PENDING:
        warning = (
            UsageWarning.objects.filter(
                endpoint=endpoint, month=month_start(), kind=WarningKind.LIMIT
            )
            .values_list("at", "allowance_bytes")
            .first()
        )
        limit = tuple(warning) if warning else None
    return explain(
        Known(
            state=endpoint.state,
            state_changed_at=endpoint.state_changed_at,
            last_activity=endpoint.last_activity,
            snapshot=snapshot,
            state_row=state_row,
            limit=limit,
        )
    )


def explain(known: Known) -> ConnectivityReport:
    """Apply the rules (module docstring) in order."""
    snapshot = known.snapshot
    serving = network(snapshot.plmn) if snapshot and snapshot.plmn else None
    session = _session(snapshot)
    refusal = _refusal(snapshot)
    online = known.state == State.ACTIVE and session is not None and session.ended_at is None
    if online:
        status, since = Status.ONLINE, session.started_at
    elif known.state in (State.ACTIVE, State.IDLE):
        status, since = Status.ATTACHED, known.state_changed_at
    else:
        status = Status.OFFLINE
        since = known.last_activity if known.state == State.DETACHED else known.state_changed_at

    def report(rule: str, sentence: str, evidence: Evidence | None) -> ConnectivityReport:
        return ConnectivityReport(
            status=status,
            rule=rule,
            sentence=sentence,
            evidence=evidence,
            session=session,
            network=serving,
            rat=snapshot.rat if snapshot else "",
            network_seen_at=snapshot.network_seen_at if snapshot else None,
            imei=snapshot.imei if snapshot else "",
            refusal=refusal,
            since=since,
        )

    row = known.state_row
    if known.state == State.TERMINATED:
        when = row.at if row else known.state_changed_at
        return report(
            "terminated",
            f"Terminated on {_when(when)}{_by(row)}.",
            _history(row),
        )
    if known.state == State.SUSPENDED:
        when = row.at if row else known.state_changed_at
        why = f": {row.reason}" if row and row.reason else ""
        return report("suspended", f"Suspended on {_when(when)}{_by(row)}{why}.", _history(row))
    if known.state == State.PENDING:
        return report(
            "pending", "Not in service yet: it is pending until it is assigned to a group.", None
        )
    if known.limit and not online:
        at, allowance = known.limit
        return report(
            "data_limit",
            f"Reached its monthly data allowance of {_bytes(allowance)} on {_when(at)}.",
            None,
        )
    last_ok = session.started_at if session else None
    if refusal and (last_ok is None or refusal.at >= last_ok) and not online:
        return report(
            "refused",
            f"Last session refused on {_when(refusal.at)} because {_refusal_words(refusal)}.",
            Evidence(kind="network_event", id=refusal.event_id, at=refusal.at),
        )
    where = f" on {serving.label}" if serving else ""
    rat = f" ({snapshot.rat})" if snapshot and snapshot.rat else ""
    if online:
        return report(
            "online",
            f"Online since {_when(session.started_at)}{where}{rat}.",
            None,
        )
    if known.last_activity is None:
        return report("never_attached", "Never attached to the network.", None)
    if status == Status.ATTACHED:
        return report(
            "attached",
            f"Attached{where}{rat} since {_when(since)}, without a data session.",
            None,
        )
    return report("not_seen", f"Not seen since {_when(known.last_activity)}{where}.", None)


def _refusal_words(refusal: Refusal) -> str:
    words = refusal.words
    if refusal.reason == Reason.IMEI_MISMATCH:
        tried = refusal.imei or "no IMEI"
        return f"{words}: IMEI {tried} tried"
    if refusal.reason == Reason.OPERATOR_NOT_ALLOWED:
        tried = refusal.network.label if refusal.network else "an unreported network"
        plmn = f" (PLMN {refusal.network.plmn})" if refusal.network else ""
        return f"{words}: {tried}{plmn}"
    return words


def _session(snapshot: Connectivity | None) -> Session | None:
    if snapshot is None or snapshot.session_started_at is None:
        return None
    return Session(
        started_at=snapshot.session_started_at,
        ended_at=snapshot.session_ended_at,
        ip=snapshot.session_ip,
        apn=snapshot.session_apn,
        bytes_up=snapshot.session_bytes_up,
        bytes_down=snapshot.session_bytes_down,
    )


def _refusal(snapshot: Connectivity | None) -> Refusal | None:
    if snapshot is None or snapshot.refused_at is None:
        return None
    return Refusal(
        reason=snapshot.refused_reason,
        words=REASON_WORDS.get(snapshot.refused_reason, snapshot.refused_reason),
        at=snapshot.refused_at,
        event_id=snapshot.refused_event_id,
        imei=snapshot.refused_imei,
        network=network(snapshot.refused_plmn) if snapshot.refused_plmn else None,
    )


def _history(row: History | None) -> Evidence | None:
    return Evidence(kind="history", id=str(row.pk), at=row.at) if row else None


def _by(row: History | None) -> str:
    if row is None:
        return ""
    return f" by {row.actor_label}" if row.actor_label else ""


def _when(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z")


def _bytes(value: int) -> str:
    return human_bytes(value)
