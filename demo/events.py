"""What the packet core reported about the demo fleet: network events of the
last 30 days, stored as ``network_writes`` stores them, so that the Network
events page and the endpoints' last activity are filled from the start.

Consistent with each endpoint: its newest accepted event is at its last
activity and of the type that left it in its state (session start: Active;
session end or attach: Idle; detach: Detached; a session start before an
endpoint was suspended or terminated), and none is accepted after that. A
few session starts are rejected, with their reason and the history row the
network API writes for them: from suspended, terminated and pending
endpoints (their modems keep trying) and from IMEI-locked endpoints in a
foreign device. Events are only seeded as far back as the network API
accepts them, less a day, so none is purged the day after the seed.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from inventory.identifiers import luhn_check_digit
from inventory.models import EventStatus, EventType, HistoryAction, State
from network.contract import MAX_AGE, Reason
from network.writes import NETWORK_LABEL

if TYPE_CHECKING:
    from demo.writers import Rows

#: How far back events are seeded (and in-service endpoints were last active).
WINDOW = MAX_AGE - timedelta(days=1)
#: Shares of endpoints whose modem had a session start refused.
REFUSED_SHARE = {
    State.SUSPENDED: 0.5,
    State.TERMINATED: 0.3,
    State.PENDING: 0.05,
}
#: Share of IMEI-locked endpoints that were tried in a foreign device.
FOREIGN_DEVICE_SHARE = 0.3
#: An active endpoint's last event: a usage report, else its session start.
ACTIVE_REPORTED_SHARE = 0.5
#: An idle endpoint's last event: a session end, else an attach.
IDLE_AFTER_SESSION_SHARE = 0.6

_ACCEPTED = EventStatus.ACCEPTED.value
_REJECTED = EventStatus.REJECTED.value
_REFUSAL_REASON = {
    State.SUSPENDED: Reason.SUSPENDED,
    State.TERMINATED: Reason.TERMINATED,
    State.PENDING: Reason.PENDING,
}


@dataclass
class Device:
    """What the events of one endpoint depend on."""

    account_id: int
    endpoint_id: int
    serial: int
    state: State
    imsi: str
    group_id: int | None
    created: datetime
    #: When it was assigned to its group, if it was.
    assigned: datetime | None
    #: When it was suspended or terminated, if it was.
    stopped: datetime | None
    last_activity: datetime | None
    #: The type of the event at its last activity.
    last_event: EventType | None
    lock_imei: str
    #: Its address in its primary group, if it holds one.
    ip: str | None
    #: Events made for it so far (numbers its event ids).
    sent: int = 0


def idle_event(rng: random.Random) -> EventType:
    """The event that left an Idle endpoint idle."""
    return EventType.SESSION_END if rng.random() < IDLE_AFTER_SESSION_SHARE else EventType.ATTACH


def active_event(rng: random.Random) -> EventType:
    """The newest event of an Active endpoint: its session's start, or a usage
    report of that session."""
    return (
        EventType.SESSION_UPDATE
        if rng.random() < ACTIVE_REPORTED_SHARE
        else EventType.SESSION_START
    )


def device_imei(serial: int) -> str:
    """The IMEI of the demo device holding SIM ``serial`` (valid, unique)."""
    body = f"35{serial % 10**12:012d}"
    return body + luhn_check_digit(body)


def foreign_imei(rng: random.Random) -> str:
    body = f"86{rng.randrange(10**12):012d}"
    return body + luhn_check_digit(body)


class EventTrail:
    """Appends the events of each endpoint, and the history rows of the
    refused ones, to a chunk's rows."""

    def __init__(self, *, now: datetime, rng: random.Random):
        self.now = now
        self.rng = rng
        self.oldest = now - WINDOW

    def add(self, device: Device, out: Rows) -> None:
        if device.last_activity is not None and device.last_activity >= self.oldest:
            self._accepted(device, out)
        refused = self._refusal(device)
        if refused is not None:
            at, reason, imei = refused
            self._rejected(device, at, reason, imei, out)

    def _refusal(self, device: Device) -> tuple[datetime, str, str] | None:
        """(when, why, with which IMEI) of a refused session start, or None."""
        rng = self.rng
        if device.state in REFUSED_SHARE:
            since = max(device.stopped or device.created, self.oldest)
            if since < self.now and rng.random() < REFUSED_SHARE[device.state]:
                at = self._between(since, self.now)
                return at, _REFUSAL_REASON[device.state], device_imei(device.serial)
        elif device.lock_imei and rng.random() < FOREIGN_DEVICE_SHARE:
            at = self._between(max(device.assigned or device.created, self.oldest), self.now)
            return at, Reason.IMEI_MISMATCH, foreign_imei(rng)
        return None

    def _between(self, start: datetime, end: datetime) -> datetime:
        return start + (end - start) * self.rng.random()

    def _accepted(self, device: Device, out: Rows) -> None:
        event_type = device.last_event
        imei = ""
        if event_type in (EventType.ATTACH, EventType.SESSION_START):
            imei = device.lock_imei or device_imei(device.serial)
        ip = device.ip if event_type == EventType.SESSION_START else None
        self._event(
            device,
            out,
            event_type=event_type,
            imei=imei,
            at=device.last_activity,
            status=_ACCEPTED,
            ip=ip,
        )

    def _rejected(self, device: Device, at: datetime, reason: str, imei: str, out: Rows) -> None:
        event_id = self._event(
            device,
            out,
            event_type=EventType.SESSION_START,
            imei=imei,
            at=at,
            status=_REJECTED,
            reason=reason,
        )
        changes = json.dumps({"event": event_id, "imei": imei})
        out.history.append(
            (device.account_id, device.endpoint_id, at, "network", None, NETWORK_LABEL)
            + (HistoryAction.SESSION_REJECTED.value, "", "", changes, reason)
        )

    def _event(
        self,
        device: Device,
        out: Rows,
        *,
        event_type: EventType,
        imei: str,
        at: datetime,
        status: str,
        reason: str = "",
        ip: str | None = None,
    ) -> str:
        """One stored event, received as it happened; returns its id."""
        device.sent += 1
        event_id = f"demo-{device.endpoint_id}-{device.sent}"
        out.events.append(
            (event_id, device.account_id, device.endpoint_id, device.group_id, event_type.value)
            + (device.imsi, imei, "", at, at, status, reason, ip)
        )
        return event_id
