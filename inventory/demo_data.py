"""Demo data: two accounts with groups, users of every role and a realistic fleet.

The portal is demonstrated and benchmarked on this data, so it has to look like a
real fleet (a mix of states, IMSIs, IP addresses, history) and it has to load a
million endpoints in a few minutes. Accounts, users, VSlices and groups go through
the ORM; endpoints and everything hanging off them are streamed with COPY, a
chunk at a time, with no index dropped: in one transaction for a small seed, on
parallel connections for a large one.

Addresses are handed out the way ``addressing.allocate_auto`` would: sequentially
from the start of each VSlice, after which ``VSlice.alloc_cursor`` is moved past
them. At large sizes a VSlice gets a wider prefix than /16 so that every
in-service endpoint can have its address.
"""

from __future__ import annotations

import bisect
import ipaddress
import math
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

from inventory.models import IN_SERVICE_STATES, Group, State, VSlice
from inventory.sim_import import copy_rows, reserve_endpoint_ids
from portal.models import Account, Member, Role

DEFAULT_PASSWORD = "demo-portal-2026"
CHUNK = 20_000
#: From this many endpoints on, the fleet is written by WRITERS parallel connections.
PARALLEL_FROM = 100_000
WRITERS = 2

#: ICCIDs ``893144`` + 12-digit serial + Luhn digit, IMSIs ``90128`` + 10 digits:
#: prefixes no test factory uses, so demo rows never collide with other data.
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
#: Of the endpoints with a primary group, about 10 % of the whole fleet.
SECONDARY_SHARE = 0.12
STATIC_SHARE = 0.02
IMEI_LOCK_SHARE = 0.05


@dataclass(frozen=True)
class GroupSpec:
    name: str
    apn: str
    vslice: str
    share: float  # share of the account's endpoints with this primary group


@dataclass(frozen=True)
class AccountSpec:
    slug: str
    name: str
    share: float
    first_subnet: str
    vslices: tuple[str, ...]
    groups: tuple[GroupSpec, ...]
    secondary_group: str
    tags: tuple[str, ...]
    name_patterns: tuple[str, ...]
    reference_pattern: str


ACCOUNTS = (
    AccountSpec(
        slug="vantiq",
        name="Vantiq Connect",
        share=0.6,
        first_subnet="100.64.0.0",
        vslices=("vantiq-eu", "vantiq-us", "vantiq-telematics", "vantiq-lab"),
        groups=(
            GroupSpec("vantiq-connect-eu", "vantiq.eu", "vantiq-eu", 0.62),
            GroupSpec("vantiq-connect-us", "vantiq.us", "vantiq-us", 0.30),
            GroupSpec("vantiq-lab", "lab.vantiq", "vantiq-lab", 0.08),
            GroupSpec("vantiq-telematics-apn2", "telematics.vantiq", "vantiq-telematics", 0.0),
        ),
        secondary_group="vantiq-telematics-apn2",
        tags=("fleet:a", "fleet:b", "model:x1", "model:x3", "eu", "us", "ota:beta", "test"),
        name_patterns=("Vantiq X1 {vin}", "Vantiq X3 {vin}", "Test car {n}"),
        reference_pattern="VIN-{vin}",
    ),
    AccountSpec(
        slug="northwind",
        name="Northwind Logistics",
        share=0.4,
        first_subnet="100.80.0.0",
        vslices=("northwind-fleet", "northwind-depots", "northwind-sensors"),
        groups=(
            GroupSpec("northwind-trucks", "fleet.northwind", "northwind-fleet", 0.55),
            GroupSpec("northwind-trailers", "fleet.northwind", "northwind-fleet", 0.30),
            GroupSpec("northwind-depots", "depot.northwind", "northwind-depots", 0.15),
            GroupSpec("northwind-sensors-apn2", "sensors.northwind", "northwind-sensors", 0.0),
        ),
        secondary_group="northwind-sensors-apn2",
        tags=("truck", "trailer", "depot:leeds", "depot:bristol", "cold-chain", "test"),
        name_patterns=("Truck NW-{n}", "Trailer NW-{n}", "Depot gateway {n}"),
        reference_pattern="PO-2026-{n}",
    ),
)

MULTI_USER = "multi"
SUPPORT_USER = "support"


@dataclass(frozen=True)
class Login:
    username: str
    role: str
    account: str


def logins() -> list[Login]:
    """Every demo login, in the order the command prints them."""
    rows = [Login(SUPPORT_USER, "staff superuser", "Django admin, all accounts")]
    for spec in ACCOUNTS:
        for role in (Role.ADMIN, Role.OPERATOR, Role.VIEWER):
            rows.append(Login(f"{spec.slug}-{role}", role.value, spec.name))
    rows.append(Login(MULTI_USER, "operator", " + ".join(spec.name for spec in ACCOUNTS)))
    return rows


def demo_accounts_exist() -> bool:
    return Account.objects.filter(slug__in=[spec.slug for spec in ACCOUNTS]).exists()


@dataclass
class SeedResult:
    endpoints: int = 0
    imsis: int = 0
    addresses: int = 0
    memberships: int = 0
    history: int = 0
    no_address: int = 0
    seconds: float = 0.0
    by_state: dict[str, int] = field(default_factory=dict)


def luhn_digit(body: str) -> str:
    total = 0
    for position, char in enumerate(reversed(body)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def iccid(serial: int) -> str:
    body = f"{ICCID_PREFIX}{serial:012d}"
    return body + luhn_digit(body)


# --- accounts, users, network configuration ------------------------------------


def _ensure_users(password: str) -> dict[str, object]:
    """Create (or reset the password of) every demo user; members per account."""
    user_model = get_user_model()
    hashed = make_password(password)  # hashed once: PBKDF2 per user is slow
    users = {}
    for login in logins():
        user, _ = user_model.objects.get_or_create(username=login.username)
        user.password = hashed
        if login.username == SUPPORT_USER:
            user.is_staff = user.is_superuser = True
        user.save()
        users[login.username] = user
    for spec in ACCOUNTS:
        account = Account.objects.get(slug=spec.slug)
        for role in (Role.ADMIN, Role.OPERATOR, Role.VIEWER):
            Member.objects.update_or_create(
                user=users[f"{spec.slug}-{role}"], account=account, defaults={"role": role}
            )
        Member.objects.update_or_create(
            user=users[MULTI_USER], account=account, defaults={"role": Role.OPERATOR}
        )
    return users


def _prefix_for(hosts: float) -> int:
    """The longest prefix (at most /16) whose host range holds ``hosts``."""
    bits = max(16, math.ceil(math.log2(hosts * 1.1 + 2)))
    return 32 - min(bits, 22)


def _ensure_network(spec: AccountSpec, account: Account, endpoints: int) -> dict[str, Group]:
    """VSlices sized for this run (reused if present) and the account's groups."""
    needed: dict[str, float] = dict.fromkeys(spec.vslices, 0.0)
    for group in spec.groups:
        needed[group.vslice] += group.share * endpoints * 0.9
    secondary = next(g for g in spec.groups if g.name == spec.secondary_group)
    needed[secondary.vslice] += SECONDARY_SHARE * endpoints
    existing = {v.name: v for v in VSlice.objects.filter(account=account)}
    base = int(ipaddress.IPv4Address(spec.first_subnet))
    sized = sorted(spec.vslices, key=lambda name: _prefix_for(needed[name]))  # widest first
    for name in sized:
        if name in existing:
            continue
        prefix = _prefix_for(needed[name])
        size = 2 ** (32 - prefix)
        base = -(-base // size) * size  # align the network to its size
        network = ipaddress.IPv4Network((base, prefix))
        existing[name] = VSlice.objects.create(account=account, name=name, subnet=str(network))
        base += size
    groups = {}
    for group in spec.groups:
        groups[group.name], _ = Group.objects.get_or_create(
            account=account,
            name=group.name,
            defaults={"vslice": existing[group.vslice], "apn": group.apn},
        )
    return groups


# --- addresses -------------------------------------------------------------------


class _Addresses:
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
            self.last[vslice.id] = network.num_addresses - 2
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT max(address) FROM inventory_ipallocation WHERE vslice_id = %s",
                    [vslice.id],
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


# --- the fleet -------------------------------------------------------------------


@dataclass
class _Context:
    account: Account
    spec: AccountSpec
    primary: list[Group]
    primary_weights: list[float]
    secondary: Group
    operator: object
    admin: object


@dataclass
class _Rows:
    endpoints: list[tuple] = field(default_factory=list)
    imsis: list[tuple] = field(default_factory=list)
    addresses: list[tuple] = field(default_factory=list)
    memberships: list[tuple] = field(default_factory=list)
    history: list[tuple] = field(default_factory=list)


class _Fleet:
    """Generates endpoints and their rows; deterministic for a given seed."""

    def __init__(self, *, now: datetime, addresses: _Addresses, result: SeedResult, seed: int):
        self.now = now
        self.rng = random.Random(seed)
        self.addresses = addresses
        self.result = result
        self.terminated = 0
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

    def _label(self, ctx: _Context, n: int) -> tuple[str, str]:
        rng = self.rng
        vin = f"WVQ{rng.randrange(16**14):014X}"
        name = rng.choice(ctx.spec.name_patterns).format(vin=vin, n=n) if rng.random() < 0.7 else ""
        reference = ctx.spec.reference_pattern.format(vin=vin, n=n) if rng.random() < 0.5 else ""
        return name, reference

    def rows(self, ctx: _Context, endpoint_id: int, serial: int, out: _Rows) -> None:
        rng = self.rng
        now = self.now
        state = self._state()
        self.result.by_state[state] = self.result.by_state.get(state, 0) + 1
        name, reference = self._label(ctx, serial)
        tags = "{" + ",".join(rng.sample(ctx.spec.tags, rng.choice((0, 1, 1, 2, 2, 3)))) + "}"
        account_id = ctx.account.id
        group = None
        last_activity = None
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
            (account_id, endpoint_id, created, "system", None, "system", "created", "", "pending")
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
                    "assign",
                    "pending",
                    "active",
                )
            )
            if state in IN_SERVICE_STATES:
                skew = {State.ACTIVE: 3, State.IDLE: 2, State.DETACHED: 1}[state]
                window = min(now - assigned, timedelta(days=30))
                last_activity = now - window * (rng.random() ** skew)
                changed = last_activity
                if state != State.ACTIVE:
                    action = "attach" if state == State.IDLE else "detach"
                    history.append(
                        (account_id, endpoint_id, changed, "network", None, "network", action)
                        + ("active", state.value)
                    )
            else:
                stopped = terminated_at or self._between(assigned, now)
                last_activity = self._between(assigned, stopped)
                if state == State.SUSPENDED:
                    changed = stopped
                    history.append(
                        (account_id, endpoint_id, changed, "user", ctx.operator.id)
                        + (ctx.operator.username, "suspend", "active", "suspended")
                    )
        if state == State.TERMINATED:
            history.append(
                (account_id, endpoint_id, terminated_at, "user", ctx.admin.id, ctx.admin.username)
                + ("terminate", "active" if had_group else "pending", "terminated")
            )

        imei_lock = state in IN_SERVICE_STATES and rng.random() < IMEI_LOCK_SHARE
        imei = ""
        if imei_lock:
            body = f"35{rng.randrange(10**12):012d}"
            imei = body + luhn_digit(body)
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

        if group is None:
            return
        keeps_addresses = state in IN_SERVICE_STATES or state == State.SUSPENDED
        static = rng.random() < STATIC_SHARE
        if keeps_addresses or static:
            self._address(account_id, endpoint_id, group, "static" if static else "auto", out)
        if rng.random() < SECONDARY_SHARE:
            out.memberships.append((account_id, endpoint_id, ctx.secondary.id))
            if keeps_addresses:
                self._address(account_id, endpoint_id, ctx.secondary, "auto", out)

    def _address(self, account_id, endpoint_id, group: Group, kind: str, out: _Rows) -> None:
        address = self.addresses.take(group.vslice_id)
        if address is None:
            self.result.no_address += 1
            return
        out.addresses.append((account_id, endpoint_id, group.id, group.vslice_id, address, kind))


_COPY = {
    "endpoints": (
        "COPY inventory_endpoint (id, account_id, iccid, name, reference, tags, state,"
        " primary_group_id, imei_lock_enabled, imei, last_activity, state_changed_at,"
        " terminated_at, created_at) FROM STDIN"
    ),
    "imsis": "COPY inventory_imsi (account_id, endpoint_id, imsi) FROM STDIN",
    "addresses": (
        "COPY inventory_ipallocation (account_id, endpoint_id, group_id, vslice_id, address,"
        " kind, created_at) FROM STDIN"
    ),
    "memberships": (
        "COPY inventory_secondarymembership (account_id, endpoint_id, group_id) FROM STDIN"
    ),
    "history": (
        "COPY inventory_history (account_id, endpoint_id, at, actor_kind, actor_id,"
        " actor_label, action, from_state, to_state, changes, reason) FROM STDIN"
    ),
}


def _copy(cursor, table: str, rows: Iterator[tuple]) -> None:
    copy_rows(cursor, _COPY[table], rows)


def _next_serial(cursor) -> int:
    cursor.execute(
        "SELECT max(iccid) FROM inventory_endpoint WHERE iccid LIKE %s", [ICCID_PREFIX + "%"]
    )
    (highest,) = cursor.fetchone()
    return int(highest[len(ICCID_PREFIX) : -1]) + 1 if highest else 1


def _write_rows(cursor, rows: _Rows, now: datetime) -> None:
    _copy(cursor, "endpoints", iter(rows.endpoints))
    _copy(cursor, "imsis", iter(rows.imsis))
    _copy(cursor, "addresses", (row + (now,) for row in rows.addresses))
    _copy(cursor, "memberships", iter(rows.memberships))
    _copy(cursor, "history", (row + ("{}", "") for row in rows.history))


class _ParallelWriter:
    """COPY on several connections at once.

    Generating rows costs far less than the server's work of checking foreign
    keys and maintaining a dozen indexes per row, so a large seed keeps every
    core of the database busy with its own COPY stream. Each writer has one
    transaction for all its chunks and commits only after every writer has
    written its share; if one fails, the others roll back."""

    def __init__(self, *, count: int, now: datetime, on_written: Callable[[_Rows], None]):
        self.now = now
        self.on_written = on_written
        self.queue: queue.Queue[_Rows | None] = queue.Queue(maxsize=count)
        self.barrier = threading.Barrier(count)
        self.lock = threading.Lock()
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(count)]
        for thread in self.threads:
            thread.start()

    def _run(self) -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                while (rows := self.queue.get()) is not None:
                    _write_rows(cursor, rows, self.now)
                    with self.lock:
                        self.on_written(rows)
                self.barrier.wait()
        except BaseException as exc:  # reported by finish() in the calling thread
            self.errors.append(exc)
            self.barrier.abort()
        finally:
            connection.close()

    def put(self, rows: _Rows) -> None:
        while not self.errors:
            try:
                self.queue.put(rows, timeout=0.5)
                return
            except queue.Full:
                continue
        self.finish()

    def finish(self) -> None:
        if self.errors:  # make room for the stop signals; nothing more is written
            while not self.queue.empty():
                self.queue.get_nowait()
        for _ in self.threads:
            self.queue.put(None)
        for thread in self.threads:
            thread.join()
        real = [e for e in self.errors if not isinstance(e, threading.BrokenBarrierError)]
        if real or self.errors:
            raise (real or self.errors)[0]


def _prepare(endpoints: int, password: str) -> tuple[list[_Context], list[Group]]:
    for spec in ACCOUNTS:
        Account.objects.get_or_create(slug=spec.slug, defaults={"name": spec.name})
    users = _ensure_users(password)
    contexts = []
    all_groups: list[Group] = []
    for spec in ACCOUNTS:
        account = Account.objects.get(slug=spec.slug)
        created = _ensure_network(spec, account, round(endpoints * spec.share))
        groups = {
            name: Group.objects.select_related("vslice").get(pk=g.pk) for name, g in created.items()
        }
        all_groups.extend(groups.values())
        contexts.append(
            _Context(
                account=account,
                spec=spec,
                primary=[groups[g.name] for g in spec.groups if g.share > 0],
                primary_weights=[g.share for g in spec.groups if g.share > 0],
                secondary=groups[spec.secondary_group],
                operator=users[f"{spec.slug}-operator"],
                admin=users[f"{spec.slug}-admin"],
            )
        )
    return contexts, all_groups


def seed(
    *,
    endpoints: int,
    password: str = DEFAULT_PASSWORD,
    progress: Callable[[int, int, float], None] | None = None,
    seed_value: int = 2026,
    writers: int | None = None,
) -> SeedResult:
    """Create (or top up) the demo accounts and add ``endpoints`` endpoints,
    split between the accounts by their share.

    Up to ``PARALLEL_FROM`` endpoints everything is one transaction. Larger
    seeds commit the accounts, users and groups first and then write the fleet
    through ``writers`` parallel connections (see ``_ParallelWriter``)."""
    started = time.monotonic()
    result = SeedResult()
    now = timezone.now()
    if writers is None:
        writers = WRITERS if endpoints >= PARALLEL_FROM else 0

    def written(rows: _Rows) -> None:
        result.endpoints += len(rows.endpoints)
        result.imsis += len(rows.imsis)
        result.addresses += len(rows.addresses)
        result.memberships += len(rows.memberships)
        result.history += len(rows.history)
        if progress:
            progress(result.endpoints, endpoints, time.monotonic() - started)

    with transaction.atomic():
        contexts, all_groups = _prepare(endpoints, password)
        if endpoints <= 0:
            result.seconds = time.monotonic() - started
            return result
        addresses = _Addresses(all_groups)
        with connection.cursor() as cursor:
            first_id = reserve_endpoint_ids(cursor, endpoints)
            first_serial = _next_serial(cursor)
        fleet = _Fleet(now=now, addresses=addresses, result=result, seed=seed_value)
        shares = [spec.share for spec in ACCOUNTS]
        cumulative = [sum(shares[: i + 1]) for i in range(len(shares))]

        def chunks() -> Iterator[_Rows]:
            for start in range(0, endpoints, CHUNK):
                rows = _Rows()
                for i in range(start, min(start + CHUNK, endpoints)):
                    # Interleave accounts by position so every chunk holds both.
                    share = (i % 100 + 0.5) / 100 * cumulative[-1]
                    ctx = contexts[bisect.bisect(cumulative, share)]
                    fleet.rows(ctx, first_id + i, first_serial + i, rows)
                yield rows

        if not writers:
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                for rows in chunks():
                    _write_rows(cursor, rows, now)
                    written(rows)
            addresses.save_cursors()
    if writers:
        writer = _ParallelWriter(count=writers, now=now, on_written=written)
        for rows in chunks():
            writer.put(rows)
        writer.finish()
        with transaction.atomic():
            addresses.save_cursors()
    with connection.cursor() as cursor:
        for table in ("endpoint", "imsi", "ipallocation", "secondarymembership", "history"):
            cursor.execute(f"ANALYZE inventory_{table}")
    result.seconds = time.monotonic() - started
    return result
