"""What the demo fleet looks like: a mix of states with the history that led
to each, IMSIs, IMEI locks, secondary groups, IP addresses and the network
events of the last 30 days (``demo_events``), as rows ready for COPY.
Deterministic for a given seed, so a benchmark run can be repeated.

Addresses are handed out the way ``addressing.allocate_auto`` would:
sequentially from the start of each VSlice, after which ``VSlice.alloc_cursor``
is moved past them.
"""

from __future__ import annotations

import bisect
import ipaddress
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection

from demo.accounts import SECONDARY_SHARE, AccountContext
from demo.events import WINDOW, Device, EventTrail, active_event, idle_event
from demo.writers import Rows
from inventory import lifecycle
from inventory.addressing import last_host_offset
from inventory.identifiers import luhn_check_digit
from inventory.models import (
    IN_SERVICE_STATES,
    Endpoint,
    EventType,
    Group,
    HistoryAction,
    IPAllocation,
    State,
    VSlice,
)

# Table names for the SQL below, quoted, from the models (never spelled out).
_quote = connection.ops.quote_name
_ENDPOINTS = _quote(Endpoint._meta.db_table)
_ALLOCATIONS = _quote(IPAllocation._meta.db_table)

#: ICCIDs ``893144`` + 12-digit serial + Luhn digit, IMSIs ``90128`` + 10 digits:
#: prefixes no test factory uses, so demo rows never collide with other data.
CREATED = HistoryAction.CREATED.value
ICCID_PREFIX = "893144"
IMSI_PREFIX = "90128"

#: State mix of the fleet (cumulative weights are built from this).
STATE_MIX = (
    (State.ACTIVE, 0.55),
    (State.IDLE, 0.15),
    (State.DETACHED, 0.08),
    (State.PENDING, 0.12),
    (State.SUSPENDED, 0.05),
    (State.TERMINATED, 0.05),
)
#: Of every 5 terminated endpoints, this many are past their 90 days (the purge
#: removes them).
TERMINATED_EXPIRED_OF_5 = 2
STATIC_SHARE = 0.02
#: How strongly in-service endpoints' last activity leans toward now.
RECENT_SKEW = 2
IMEI_LOCK_SHARE = 0.05


@dataclass
class SeedResult:
    endpoints: int = 0
    imsis: int = 0
    addresses: int = 0
    memberships: int = 0
    history: int = 0
    events: int = 0
    usage_days: int = 0
    no_address: int = 0
    seconds: float = 0.0
    by_state: dict[str, int] = field(default_factory=dict)


def iccid(serial: int) -> str:
    body = f"{ICCID_PREFIX}{serial:012d}"
    return body + luhn_check_digit(body)


def next_serial(cursor) -> int:
    """The serial after the highest demo ICCID, so a top-up never collides."""
    cursor.execute(
        f"SELECT max(iccid) FROM {_ENDPOINTS} WHERE iccid LIKE %(prefix)s",
        {"prefix": ICCID_PREFIX + "%"},
    )
    (highest,) = cursor.fetchone()
    return int(highest[len(ICCID_PREFIX) : -1]) + 1 if highest else 1


class Addresses:
    """Sequential host addresses per VSlice, continuing after what is in use."""

    def __init__(self, groups: list[Group]):
        self.next: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.base: dict[int, int] = {}
        self.vslices: dict[int, VSlice] = {}
        for group in groups:
            vslice = group.vslice
            if vslice.id in self.vslices:
                continue
            network = ipaddress.IPv4Network(vslice.subnet)
            self.vslices[vslice.id] = vslice
            self.base[vslice.id] = int(network.network_address)
            self.last[vslice.id] = last_host_offset(vslice.subnet)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT max(address) FROM {_ALLOCATIONS} WHERE vslice_id = %(vslice)s",
                    {"vslice": vslice.id},
                )
                (highest,) = cursor.fetchone()
            used = int(ipaddress.IPv4Address(highest)) - self.base[vslice.id] if highest else 0
            self.next[vslice.id] = max(vslice.alloc_cursor, used + 1)

    def take(self, vslice_id: int) -> str | None:
        offset = self.next[vslice_id]
        if offset > self.last[vslice_id]:
            return None
        self.next[vslice_id] = offset + 1
        return str(ipaddress.IPv4Address(self.base[vslice_id] + offset))

    def save_cursors(self) -> None:
        for vslice_id, vslice in self.vslices.items():
            VSlice.objects.filter(pk=vslice_id).update(
                alloc_cursor=min(self.next[vslice_id], max(self.last[vslice_id], 1))
            )
            vslice.alloc_cursor = self.next[vslice_id]


class Fleet:
    """Generates endpoints and their rows; deterministic for a given seed."""

    def __init__(self, *, now: datetime, addresses: Addresses, result: SeedResult, seed: int):
        self.now = now
        self.rng = random.Random(seed)
        self.addresses = addresses
        self.result = result
        self.terminated = 0
        self.trail = EventTrail(now=now, rng=self.rng)
        states, weights = zip(*STATE_MIX, strict=True)
        self.states = states
        self.state_cumulative = [sum(weights[: i + 1]) for i in range(len(weights))]

    def _state(self) -> State:
        index = bisect.bisect(self.state_cumulative, self.rng.random() * self.state_cumulative[-1])
        return self.states[min(index, len(self.states) - 1)]

    def _ago(self, low_days: float, high_days: float) -> datetime:
        return self.now - timedelta(days=self.rng.uniform(low_days, high_days))

    def _between(self, start: datetime, end: datetime) -> datetime:
        return start + (end - start) * self.rng.random()

    def _label(self, ctx: AccountContext, n: int) -> tuple[str, str]:
        rng = self.rng
        vin = f"WVQ{rng.randrange(16**14):014X}"
        name = rng.choice(ctx.spec.name_patterns).format(vin=vin, n=n) if rng.random() < 0.7 else ""
        reference = ctx.spec.reference_pattern.format(vin=vin, n=n) if rng.random() < 0.5 else ""
        return name, reference

    def rows(self, ctx: AccountContext, endpoint_id: int, serial: int, out: Rows) -> None:
        rng = self.rng
        now = self.now
        state = self._state()
        self.result.by_state[state] = self.result.by_state.get(state, 0) + 1
        name, reference = self._label(ctx, serial)
        tags = "{" + ",".join(rng.sample(ctx.spec.tags, rng.choice((0, 1, 1, 2, 2, 3)))) + "}"
        account_id = ctx.account.id
        group = None
        assigned = stopped = None
        last_activity = None
        last_event = None
        terminated_at = None
        history = out.history

        if state == State.PENDING:
            created = self._ago(0, 60)
            changed = created
        elif state == State.TERMINATED:
            # Spread evenly rather than drawn, so even a small seed has both kinds.
            self.terminated += 1
            if self.terminated % 5 < TERMINATED_EXPIRED_OF_5:
                terminated_at = self._ago(91, 200)
            else:
                terminated_at = self._ago(1, 89)
            created = terminated_at - timedelta(days=rng.uniform(10, 300))
            changed = terminated_at
        else:
            created = self._ago(1, 540)
            changed = None  # set below
        history.append(
            (account_id, endpoint_id, created, "system", None, "system", CREATED, "", "pending")
        )

        had_group = state != State.PENDING and not (
            state == State.TERMINATED and rng.random() < 0.2
        )
        if had_group:
            group = rng.choices(ctx.primary, ctx.primary_weights)[0]
            until = terminated_at or now
            assigned = self._between(created, min(created + timedelta(days=30), until))
            history.append(
                (
                    account_id,
                    endpoint_id,
                    assigned,
                    "user",
                    ctx.operator.id,
                    ctx.operator.username,
                    lifecycle.ASSIGN,
                    "pending",
                    "active",
                )
            )
            if state in IN_SERVICE_STATES:
                # Most were active lately; one skew for every state, so that
                # the newest events mix their types as live traffic does.
                window = min(now - assigned, WINDOW)
                last_activity = now - window * (rng.random() ** RECENT_SKEW)
                changed = last_activity
                last_event = {
                    # An active session's newest event is its start or a usage report.
                    State.ACTIVE: active_event(rng),
                    State.IDLE: idle_event(rng),
                    State.DETACHED: EventType.DETACH,
                }[state]
                if state != State.ACTIVE:
                    history.append(
                        (account_id, endpoint_id, changed, "network", None, "network")
                        + (last_event.value, "active", state.value)
                    )
            else:
                stopped = terminated_at or self._between(assigned, now)
                last_activity = self._between(assigned, stopped)
                last_event = EventType.SESSION_START  # it was active until stopped
                if state == State.SUSPENDED:
                    changed = stopped
                    history.append(
                        (account_id, endpoint_id, changed, "user", ctx.operator.id)
                        + (ctx.operator.username, lifecycle.SUSPEND, "active", "suspended")
                    )
        if state == State.TERMINATED:
            history.append(
                (account_id, endpoint_id, terminated_at, "user", ctx.admin.id, ctx.admin.username)
                + (lifecycle.TERMINATE, "active" if had_group else "pending", "terminated")
            )

        imei_lock = state in IN_SERVICE_STATES and rng.random() < IMEI_LOCK_SHARE
        imei = ""
        if imei_lock:
            body = f"35{rng.randrange(10**12):012d}"
            imei = body + luhn_check_digit(body)
        out.endpoints.append(
            (
                endpoint_id,
                account_id,
                iccid(serial),
                name,
                reference,
                tags,
                state.value,
                group.id if group else None,
                imei_lock,
                imei,
                last_activity,
                changed,
                terminated_at,
                created,
            )
        )
        for k in range(1 if rng.random() < 0.7 else 2):
            out.imsis.append((account_id, endpoint_id, f"{IMSI_PREFIX}{serial * 2 + k:010d}"))

        ip = None
        if group is not None:
            keeps_addresses = state in IN_SERVICE_STATES or state == State.SUSPENDED
            static = rng.random() < STATIC_SHARE
            if keeps_addresses or static:
                kind = "static" if static else "auto"
                ip = self._address(account_id, endpoint_id, group, kind, out)
            if rng.random() < SECONDARY_SHARE:
                out.memberships.append((account_id, endpoint_id, ctx.secondary.id))
                if keeps_addresses:
                    self._address(account_id, endpoint_id, ctx.secondary, "auto", out)
        device = Device(
            account_id=account_id,
            endpoint_id=endpoint_id,
            serial=serial,
            state=state,
            imsi=f"{IMSI_PREFIX}{serial * 2:010d}",
            group_id=group.id if group else None,
            created=created,
            assigned=assigned,
            stopped=terminated_at or stopped,
            last_activity=last_activity,
            last_event=last_event,
            lock_imei=imei,
            ip=ip,
        )
        self.trail.add(device, out)

    def _address(self, account_id, endpoint_id, group: Group, kind: str, out: Rows) -> str | None:
        address = self.addresses.take(group.vslice_id)
        if address is None:
            self.result.no_address += 1
            return None
        out.addresses.append((account_id, endpoint_id, group.id, group.vslice_id, address, kind))
        return address
