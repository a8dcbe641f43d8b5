"""A stand-in for the packet core: realistic network traffic for a running portal.

Devices attach, open and close data sessions, drift out of coverage (detach,
sometimes in the middle of a session) and come back; now and then a locked
device shows up with the wrong IMEI, an unlocked one with a new IMEI (its
modem swapped), or a device roams onto another network, some of them in
countries its group's operator policy refuses. Each device has a home network
(PLMN) and radio (RAT) of its own, from the networks of its APN's region.
Each device follows the state the portal answered for its last event, so a
rejected session start is retried later, as a real modem would.

Posting uses only the standard library (urllib). Devices are split between the
sending threads, so one device's events always go out in the order they were
made and none comes back ``stale`` because of the simulator itself.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import connection

from inventory.identifiers import luhn_ok
from inventory.models import (
    IMSI,
    IN_SERVICE_STATES,
    Endpoint,
    EventStatus,
    EventType,
    Group,
    SecondaryMembership,
    State,
)
from portal.models import Account

# Table names for the SQL below, quoted, from the models (never spelled out).
_quote = connection.ops.quote_name
_ENDPOINTS = _quote(Endpoint._meta.db_table)
_IMSIS = _quote(IMSI._meta.db_table)
_GROUPS = _quote(Group._meta.db_table)
_MEMBERSHIPS = _quote(SecondaryMembership._meta.db_table)
_ACCOUNTS = _quote(Account._meta.db_table)

EVENTS_PATH = "/api/v1/network/events"

#: Share of a locked device's session starts made with a foreign IMEI.
WRONG_IMEI_SHARE = 0.03
#: Share of session starts over a secondary APN, when the device has one.
SECONDARY_APN_SHARE = 0.2
#: Share of attaches on another network than the device's home one.
ROAMING_SHARE = 0.05
#: Share of an unlocked device's attaches with a new IMEI (modem swapped).
NEW_IMEI_SHARE = 0.01
#: Home networks (MCC+MNC) by region of the APN, and where devices roam.
HOME_PLMNS = {
    "eu": ("23415", "23410", "26201", "26202", "20801", "22210", "21407", "20404"),
    "us": ("310410", "311480", "302720", "334020"),
}
ROAMING_PLMNS = ("23415", "26201", "20801", "310410", "302720", "46000")
RATS = ("4G", "4G", "LTE-M", "NB-IoT", "5G", "3G", "2G")


@dataclass
class Device:
    imsi: str
    imei: str
    locked: bool
    #: APNs of the endpoint's groups, primary first.
    apns: list[str]
    state: str
    plmn: str = ""
    rat: str = ""
    home: str = ""


def imei_with_check_digit(body: str) -> str:
    """``body`` (14 digits) with the Luhn digit that makes a valid IMEI."""
    return next(body + digit for digit in "0123456789" if luhn_ok(body + digit))


def load_devices(*, account_slug: str, limit: int) -> list[Device]:
    """Up to ``limit`` in-service endpoints of the account, picked at random,
    each with one of its IMSIs and the APNs of its groups."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH picked AS (
                SELECT e.id, e.imei_lock_enabled, e.imei, e.state, e.primary_group_id
                  FROM {_ENDPOINTS} e
                  JOIN {_ACCOUNTS} a ON a.id = e.account_id
                 WHERE a.slug = %(account)s AND e.state = ANY(%(states)s::text[])
                 ORDER BY random()
                 LIMIT %(limit)s
            )
            SELECT (SELECT min(i.imsi) FROM {_IMSIS} i WHERE i.endpoint_id = p.id),
                   p.imei_lock_enabled, p.imei, p.state, g.apn,
                   ARRAY(SELECT sg.apn
                           FROM {_MEMBERSHIPS} m
                           JOIN {_GROUPS} sg ON sg.id = m.group_id
                          WHERE m.endpoint_id = p.id
                          ORDER BY sg.id)
              FROM picked p
              JOIN {_GROUPS} g ON g.id = p.primary_group_id
            """,
            {
                "account": account_slug,
                "states": [str(state) for state in IN_SERVICE_STATES],
                "limit": limit,
            },
        )
        rows = cursor.fetchall()
    rng = random.Random(len(rows))
    devices = []
    for imsi, locked, imei, state, apn, secondary in rows:
        if not imsi:
            continue
        if not locked or not imei:
            imei = imei_with_check_digit(f"35{rng.randrange(10**12):012d}")
        home = HOME_PLMNS["us" if apn.endswith(".us") else "eu"]
        devices.append(
            Device(
                imsi=imsi,
                imei=imei,
                locked=locked,
                apns=[apn, *secondary],
                state=state,
                plmn=(plmn := rng.choice(home)),
                rat=rng.choice(RATS),
                home=plmn,
            )
        )
    return devices


#: Most bytes one simulated usage report carries downstream (5 MB).
MAX_REPORT_BYTES = 5_000_000


class Traffic:
    """Makes the next events of a set of devices and learns from the answers."""

    def __init__(self, devices: list[Device], *, run_id: str, rng: random.Random):
        self.devices = devices
        self.run_id = run_id
        self.rng = rng
        self._sequence = 0
        self._sent: dict[str, Device] = {}

    def next_events(self, count: int) -> list[dict]:
        if not self.devices:
            return []
        picks = (
            self.rng.sample(self.devices, count)
            if count <= len(self.devices)
            else [self.rng.choice(self.devices) for _ in range(count)]
        )
        at = datetime.now(UTC).isoformat(timespec="microseconds")
        events = [self._event_for(device, at) for device in picks]
        return events

    def _event_for(self, device: Device, at: str) -> dict:
        self._sequence += 1
        event_id = f"{self.run_id}-{self._sequence}"
        event_type = self._next_type(device)
        event = {"id": event_id, "type": event_type, "imsi": device.imsi, "at": at}
        if event_type == EventType.ATTACH and device.plmn:
            # It moves (and stays until it moves again; home is the likeliest).
            if self.rng.random() < ROAMING_SHARE:
                device.plmn = self.rng.choice((*ROAMING_PLMNS, device.home, device.home))
            if not device.locked and self.rng.random() < NEW_IMEI_SHARE:
                device.imei = imei_with_check_digit(f"35{self.rng.randrange(10**12):012d}")
        if device.plmn:
            event["plmn"] = device.plmn
            event["rat"] = device.rat
        if event_type in (EventType.ATTACH, EventType.SESSION_START):
            event["imei"] = device.imei
        if event_type == EventType.SESSION_START:
            if len(device.apns) > 1 and self.rng.random() < SECONDARY_APN_SHARE:
                event["apn"] = self.rng.choice(device.apns[1:])
            if device.locked and self.rng.random() < WRONG_IMEI_SHARE:
                event["imei"] = imei_with_check_digit(f"86{self.rng.randrange(10**12):012d}")
        if event_type in (EventType.SESSION_UPDATE, EventType.SESSION_END):
            down = self.rng.randrange(MAX_REPORT_BYTES)
            event["bytes_down"] = down
            event["bytes_up"] = down // self.rng.randint(3, 12)
        self._sent[event_id] = device
        return event

    def _next_type(self, device: Device) -> str:
        roll = self.rng.random()
        if device.state == State.DETACHED:
            return EventType.ATTACH
        if device.state == State.IDLE:
            return EventType.SESSION_START if roll < 0.7 else EventType.DETACH
        if device.state == State.ACTIVE:
            # A session reports its usage while it lasts, and once more when it ends.
            if roll < 0.5:
                return EventType.SESSION_UPDATE
            return EventType.SESSION_END if roll < 0.85 else EventType.DETACH
        # Not in service (suspended or terminated meanwhile): the modem keeps trying.
        return EventType.SESSION_START if roll < 0.5 else EventType.ATTACH

    def learn(self, results: list[dict]) -> None:
        """Follow the state the portal answered for each device."""
        for result in results:
            device = self._sent.pop(result.get("id"), None)
            if device is not None and result.get("state"):
                device.state = result["state"]

    def forget(self, events: list[dict]) -> None:
        for event in events:
            self._sent.pop(event["id"], None)


@dataclass
class Totals:
    """Counts shared by the sending threads."""

    statuses: Counter = field(default_factory=Counter)
    events: int = 0
    requests: int = 0
    errors: int = 0
    last_error: str = ""
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, results: list[dict], latency: float) -> None:
        with self.lock:
            self.requests += 1
            self.events += len(results)
            self.statuses.update(result.get("status", "?") for result in results)
            self.latencies.append(latency)

    def fail(self, message: str) -> None:
        with self.lock:
            self.errors += 1
            self.last_error = message

    def snapshot(self) -> tuple[int, Counter, int]:
        with self.lock:
            return self.events, Counter(self.statuses), self.errors


class Unauthorized(Exception):
    pass


def post_batch(url: str, token: str, events: list[dict], timeout: float = 60.0) -> list[dict]:
    body = json.dumps({"events": events}).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())["results"]
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            raise Unauthorized("the portal refused the token (401)") from exc
        raise


def summary_line(elapsed: float, per_second: float, statuses: Counter, errors: int) -> str:
    counts = "  ".join(f"{status} {statuses.get(status, 0):,}" for status in EventStatus.values)
    line = f"{elapsed:6.1f}s  {per_second:8,.0f} events/s  {counts}"
    return line + (f"  http errors {errors:,}" if errors else "")


def run(
    *,
    base_url: str,
    token: str,
    devices: list[Device],
    rate: float,
    duration: float,
    batch: int,
    concurrency: int,
    write: Callable[[str], None],
    seed: int | None = None,
) -> Totals:
    """Post traffic for ``duration`` seconds at about ``rate`` events/s (0: as
    fast as the portal answers) and write a summary line every second."""
    url = base_url.rstrip("/") + EVENTS_PATH
    run_id = f"sim-{int(time.time() * 1000):x}-{random.Random(seed).randrange(16**6):06x}"
    totals = Totals()
    stop = threading.Event()
    started = time.monotonic()
    deadline = started + duration
    per_thread_rate = rate / concurrency if rate else 0.0
    shards = [devices[index::concurrency] for index in range(concurrency)]

    def sender(index: int) -> None:
        traffic = Traffic(shards[index], run_id=f"{run_id}-{index}", rng=random.Random(seed))
        sent = 0
        size = batch if not per_thread_rate else max(1, min(batch, int(per_thread_rate / 4)))
        while not stop.is_set() and time.monotonic() < deadline:
            events = traffic.next_events(size)
            if not events:
                return
            begun = time.monotonic()
            try:
                results = post_batch(url, token, events)
            except Unauthorized as exc:
                totals.fail(str(exc))
                stop.set()
                return
            except (OSError, ValueError, KeyError) as exc:
                traffic.forget(events)
                totals.fail(f"{type(exc).__name__}: {exc}")
                stop.wait(0.5)
                continue
            totals.add(results, time.monotonic() - begun)
            traffic.learn(results)
            sent += len(events)
            if per_thread_rate:
                pause = started + sent / per_thread_rate - time.monotonic()
                if pause > 0:
                    stop.wait(min(pause, max(0.0, deadline - time.monotonic())))

    threads = [
        threading.Thread(target=sender, args=(index,), daemon=True) for index in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    last_events, last_time = 0, started
    while any(thread.is_alive() for thread in threads):
        time.sleep(min(1.0, max(0.05, deadline - time.monotonic() + 0.05)))
        now = time.monotonic()
        events, statuses, errors = totals.snapshot()
        if now - last_time >= 0.5:
            per_second = (events - last_events) / (now - last_time)
            write(summary_line(now - started, per_second, statuses, errors))
            last_events, last_time = events, now
        if now > deadline + 120:
            stop.set()
            break
    stop.set()
    for thread in threads:
        thread.join(timeout=5)
    return totals
