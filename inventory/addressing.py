"""Which IP address an endpoint gets in a group (docs/product.md "Addressing").

Addresses live in ``IPAllocation.address`` (inet), unique per VSlice; that
constraint, not this code, is what guarantees no address is handed out twice.

The next free address is found by the database, never by a Python set over
the subnet: candidate host offsets are generated lazily from the VSlice's
``alloc_cursor`` and anti-joined against the unique (vslice, address) index,
stopping at the first gaps found. The cursor moves past each allocation and
wraps to the start of the subnet once the end is reached, so a subnet filled
from the front is not rescanned on every allocation. When the cursor sits in a
packed stretch (after the wrap, or behind static reservations and imports),
the search skips whole /24 blocks that ``AddressBlock`` counts as full (the
database keeps those counts) and probes only the first block with room; it
never counts the used addresses before the gap. Should the counts and the
allocations ever disagree, index-only range counts (doubling, then bisecting)
settle it.

Allocations in one VSlice serialise on its row (``SELECT ... FOR NO KEY
UPDATE``): narrower than a global lock, and it leaves foreign-key checks of
other transactions alone. /31 and /32 subnets have no usable host addresses
here and count as full.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet

from inventory.history import Actor, record
from inventory.identifiers import clean_ipv4_in_subnet, usable_hosts
from inventory.models import (
    AddressBlock,
    AllocationKind,
    Endpoint,
    Group,
    HistoryAction,
    IPAllocation,
    SecondaryMembership,
    VSlice,
)

# Table names for the SQL below, quoted, from the models (never spelled out).
_ALLOCATIONS = connection.ops.quote_name(IPAllocation._meta.db_table)
_BLOCKS_TABLE = connection.ops.quote_name(AddressBlock._meta.db_table)
_ENDPOINTS = connection.ops.quote_name(Endpoint._meta.db_table)
_VSLICES = connection.ops.quote_name(VSlice._meta.db_table)

#: The History action of a static address reserved or cleared.


class AddressingError(ValidationError):
    """An address that cannot be given: its message is shown to the user."""


class SubnetFull(AddressingError):
    """No free host address is left in a VSlice's subnet."""

    @classmethod
    def of(cls, vslice: VSlice) -> SubnetFull:
        return cls(f"Subnet {vslice.subnet} of VSlice {vslice.name} is full.", code="subnet_full")


def last_host_offset(subnet: str) -> int:
    """The offset of the last usable host address from the network address:
    hosts are offsets 1 .. usable_hosts(), so 0 means none (/31, /32)."""
    return usable_hosts(subnet)


# Host offsets from ``start`` to the last host, then from 1 up to ``start``,
# generated one at a time (a set-returning function in the SELECT list streams;
# in FROM it would be materialised whole first), skipping those in use.
_FREE_OFFSETS = f"""
    SELECT c.off FROM (
        SELECT mod(%(start)s - 1 + generate_series(0, %(last)s - 1), %(last)s) + 1 AS off
    ) c
    WHERE (
        SELECT a.id FROM {_ALLOCATIONS} a
        WHERE a.vslice_id = %(vslice)s AND a.address = %(base)s::inet + c.off
    ) IS NULL
    LIMIT (SELECT count(*) FROM want)
"""

# Where the next free offset is. Usually right at the cursor: a short probe
# finds it. Otherwise (the cursor is stale, or has wrapped into a packed part)
# count instead of probing: [lo, e] is full exactly when it holds e - lo + 1
# addresses, and counting a range is an index-only scan, an order of magnitude
# cheaper than probing each offset in it. Segments double in width from the
# start (w > 0), up to 4,096, until one is not full, which is then bisected
# (w = 0): the work grows with the distance to the gap (plus at most two
# segments), not with the size of the subnet.
# First from the cursor to the end, then from 1 up to the cursor.
_PROBE_WINDOW = 64
_SEARCH = f"""
    search_{{n}}(lo, hi, w) AS (
        SELECT %(lo_{{n}})s::bigint, %(hi_{{n}})s::bigint, 64::bigint
      UNION ALL
        SELECT CASE WHEN c.full THEN s.e + 1 ELSE b.lo END,
               CASE WHEN c.full THEN b.hi ELSE s.e END,
               CASE WHEN c.full AND b.w > 0 THEN least(b.w * 2, 4096) ELSE 0 END
        FROM search_{{n}} b
        CROSS JOIN LATERAL (
            SELECT CASE WHEN b.w > 0 THEN least(b.lo + b.w - 1, b.hi)
                        ELSE (b.lo + b.hi) / 2 END AS e
        ) s
        CROSS JOIN LATERAL (
            SELECT count(*) > s.e - b.lo AS full FROM {_ALLOCATIONS} a
            WHERE a.vslice_id = %(vslice)s
              AND a.address BETWEEN %(base)s::inet + b.lo AND %(base)s::inet + s.e
        ) c
        WHERE b.lo <= b.hi AND NOT (b.w = 0 AND b.lo = b.hi)
    )"""
# "Free" is a scalar subquery, not NOT EXISTS, on purpose: PostgreSQL 16+ may
# turn NOT EXISTS into a hash right anti join, which returns the candidates in
# hash order, so LIMIT would take an arbitrary free offset instead of the first.
# A subquery in WHERE stays a per-row index probe and the offsets keep the order
# in which they are generated.
_IS_FREE = (
    f"(SELECT a.id FROM {_ALLOCATIONS} a "
    "WHERE a.vslice_id = %(vslice)s AND a.address = %(base)s::inet + {off}) IS NULL"
)
_PROBE = f"""
    SELECT c.off FROM (SELECT generate_series(%(start)s, %(end)s) AS off) c
    WHERE {_IS_FREE.format(off="c.off")} LIMIT 1
"""
_SEARCH_BOTH = f"""
    WITH RECURSIVE {_SEARCH.format(n=0)}, {_SEARCH.format(n=1)}
    SELECT off FROM (
        (SELECT lo AS off FROM search_0
         WHERE w = 0 AND lo = hi AND {_IS_FREE.format(off="lo")})
        UNION ALL
        (SELECT lo FROM search_1 WHERE w = 0 AND lo = hi AND {_IS_FREE.format(off="lo")})
    ) found
    LIMIT 1
"""


# The first free offset from ``start`` on, going through the /24 blocks of the
# subnet in order from the cursor's block (its part from the cursor on first,
# the part before the cursor last, after the wrap) and only through blocks
# whose AddressBlock count is below the number of hosts they hold. Offsets are
# absolute here (the address as an integer); a few blocks are probed at most.
_BLOCKS = f"""
    WITH p AS (
        SELECT %(lo)s::bigint AS lo, %(hi)s::bigint AS hi, %(start)s::bigint AS start,
               %(start)s::bigint / 256 AS first_blk, %(blocks)s::bigint AS blocks
    ), blocks AS (
        SELECT g.blk, greatest(g.blk * 256, p.lo) AS lo, least(g.blk * 256 + 255, p.hi) AS hi
        FROM p CROSS JOIN generate_series(p.lo / 256, p.hi / 256) AS g(blk)
        LEFT JOIN {_BLOCKS_TABLE} ab ON ab.vslice_id = %(vslice)s AND ab.block = g.blk
        WHERE coalesce(ab.used, 0)
              < least(g.blk * 256 + 255, p.hi) - greatest(g.blk * 256, p.lo) + 1
    ), ranges AS (
        SELECT CASE WHEN b.blk = p.first_blk THEN greatest(b.lo, p.start) ELSE b.lo END AS lo,
               b.hi,
               CASE WHEN b.blk >= p.first_blk THEN b.blk - p.first_blk
                    ELSE b.blk - p.first_blk + p.blocks END AS k
        FROM blocks b CROSS JOIN p
      UNION ALL
        SELECT b.lo, p.start - 1, p.blocks FROM blocks b CROSS JOIN p WHERE b.blk = p.first_blk
    )
    SELECT f.off FROM (SELECT lo, hi, k FROM ranges WHERE lo <= hi ORDER BY k LIMIT 8) r
    CROSS JOIN LATERAL (
        SELECT o AS off FROM generate_series(r.lo, r.hi) AS o
        WHERE (SELECT a.id FROM {_ALLOCATIONS} a
               WHERE a.vslice_id = %(vslice)s AND a.address = '0.0.0.0'::inet + o) IS NULL
        LIMIT 1
    ) f
    LIMIT 1
"""


def _base(subnet: str) -> str:
    """The network address as a host (/32) inet: base + offset is a host."""
    return str(ipaddress.IPv4Network(subnet).network_address)


def _first_free_offset(*, vslice_id: int, subnet: str, cursor: int, last: int) -> int | None:
    start = cursor if 1 <= cursor <= last else 1
    base = _base(subnet)
    with connection.cursor() as cursor_:
        window_end = min(start + _PROBE_WINDOW - 1, last)
        cursor_.execute(
            _PROBE, {"start": start, "end": window_end, "vslice": vslice_id, "base": base}
        )
        row = cursor_.fetchone()
        if row is None:
            network = int(ipaddress.IPv4Network(subnet).network_address)
            lo, hi = network + 1, network + last
            cursor_.execute(
                _BLOCKS,
                {
                    "vslice": vslice_id,
                    "lo": lo,
                    "hi": hi,
                    "start": network + start,
                    "blocks": hi // 256 - lo // 256 + 1,
                },
            )
            row = cursor_.fetchone()
            if row is not None:
                return row[0] - network
            params = {"vslice": vslice_id, "base": base}
            params |= {"lo_0": start, "hi_0": last}  # search_0: cursor .. end
            params |= {"lo_1": 1, "hi_1": start - 1}  # search_1: 1 .. cursor
            cursor_.execute(_SEARCH_BOTH, params)
            row = cursor_.fetchone()
    return None if row is None else row[0]


def first_free(*, vslice: VSlice) -> str | None:
    """The address the next automatic allocation in ``vslice`` would get, or
    None when its subnet is full. Reads only; allocating is ``allocate_auto``."""
    last = last_host_offset(vslice.subnet)
    if last == 0:
        return None
    offset = _first_free_offset(
        vslice_id=vslice.pk, subnet=vslice.subnet, cursor=vslice.alloc_cursor, last=last
    )
    if offset is None:
        return None
    return str(ipaddress.IPv4Network(vslice.subnet).network_address + offset)


def _existing(pairs: list[tuple[int, int]]) -> dict[tuple[int, int], str]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a.endpoint_id, a.group_id, host(a.address) FROM {_ALLOCATIONS} a "
            "JOIN unnest(%(endpoints)s::bigint[], %(groups)s::bigint[])"
            " AS p(endpoint_id, group_id) "
            "ON a.endpoint_id = p.endpoint_id AND a.group_id = p.group_id",
            {"endpoints": [e for e, _ in pairs], "groups": [g for _, g in pairs]},
        )
        return {(e, g): address for e, g, address in cursor.fetchall()}


# One statement per VSlice: pair each wanted membership with one of the first
# free offsets, insert them, and move the cursor past the last offset used.
_ALLOCATE = f"""
    WITH want AS (
        SELECT p.endpoint_id, p.group_id, row_number() OVER () AS n
        FROM unnest(%(endpoints)s::bigint[], %(groups)s::bigint[]) AS p(endpoint_id, group_id)
        JOIN {_ENDPOINTS} e ON e.id = p.endpoint_id AND e.account_id = %(account)s
    ), free AS (
        SELECT f.off, row_number() OVER () AS n FROM ({_FREE_OFFSETS}) f
    ), ins AS (
        INSERT INTO {_ALLOCATIONS}
            (account_id, endpoint_id, group_id, vslice_id, address, kind, created_at)
        SELECT %(account)s, w.endpoint_id, w.group_id, %(vslice)s, %(base)s::inet + f.off,
               'auto', now()
        FROM want w JOIN free f USING (n)
        ON CONFLICT DO NOTHING
        RETURNING endpoint_id, group_id, address
    ), moved AS (
        UPDATE {_VSLICES} SET alloc_cursor = mod(f.off, %(last)s) + 1
        FROM (SELECT off FROM free ORDER BY n DESC LIMIT 1) f
        WHERE id = %(vslice)s
    )
    SELECT endpoint_id, group_id, host(address) FROM ins
"""


def _allocate_in_vslice(vslice_id: int, pairs: list[tuple[int, int]]) -> dict:
    """Allocate addresses for ``pairs`` (all in groups of this VSlice) under the
    VSlice's row lock; pairs left out of the answer got no address."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT account_id, subnet::text, alloc_cursor FROM {_VSLICES} "
            "WHERE id = %(vslice)s FOR NO KEY UPDATE",
            {"vslice": vslice_id},
        )
        account_id, subnet, alloc_cursor = cursor.fetchone()
        last = last_host_offset(subnet)
        start = last and _first_free_offset(
            vslice_id=vslice_id, subnet=subnet, cursor=alloc_cursor, last=last
        )
        if not start:
            return {}
        cursor.execute(
            _ALLOCATE,
            {
                "endpoints": [e for e, _ in pairs],
                "groups": [g for _, g in pairs],
                "account": account_id,
                "vslice": vslice_id,
                "start": start,
                "last": last,
                "base": _base(subnet),
            },
        )
        return {(e, g): address for e, g, address in cursor.fetchall()}


def allocate_auto(*, memberships: Iterable[tuple[int, int]]) -> dict[tuple[int, int], str | None]:
    """Give each (endpoint id, group id) pair an automatic address in the
    group's VSlice, unless it already has one (static or automatic), which is
    returned as it is. None marks a pair whose subnet is full (or whose
    endpoint is not of the group's account).

    Set-based: one statement per VSlice whatever the number of pairs; VSlices
    are locked in id order so concurrent callers queue instead of deadlocking.
    """
    pairs = list(dict.fromkeys((int(e), int(g)) for e, g in memberships))
    if not pairs:
        return {}
    with transaction.atomic():
        result: dict[tuple[int, int], str | None] = dict.fromkeys(pairs)
        result.update(_existing(pairs))
        missing = [pair for pair in pairs if result[pair] is None]
        vslice_of = dict(
            Group.objects.filter(pk__in={g for _, g in missing}).values_list("pk", "vslice_id")
        )
        by_vslice: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for pair in missing:
            if pair[1] in vslice_of:
                by_vslice[vslice_of[pair[1]]].append(pair)
        for vslice_id in sorted(by_vslice):
            wanted = by_vslice[vslice_id]
            for _attempt in range(2):
                result.update(_allocate_in_vslice(vslice_id, wanted))
                wanted = [pair for pair in wanted if result[pair] is None]
                if not wanted:
                    break
                # ON CONFLICT skipped a pair: either a concurrent caller gave it
                # an address first (that is the answer), or a writer that does
                # not take the VSlice lock took the address (try once more).
                result.update(_existing(wanted))
                wanted = [pair for pair in wanted if result[pair] is None]
                if not wanted:
                    break
    return result


def allocate_for(*, endpoint: Endpoint, group: Group) -> str:
    """One endpoint's automatic address in ``group``; SubnetFull if none is left."""
    address = allocate_auto(memberships=[(endpoint.pk, group.pk)])[(endpoint.pk, group.pk)]
    if address is None:
        raise SubnetFull.of(group.vslice)
    return address


def release(
    *,
    endpoints: QuerySet[Endpoint],
    group: Group | None = None,
    kinds: Iterable[str] = (AllocationKind.AUTO,),
) -> int:
    """Give back the addresses of ``endpoints`` (in ``group`` only, if given)
    of the given kinds; returns how many were released. One DELETE."""
    allocations = IPAllocation.objects.filter(
        endpoint_id__in=endpoints.order_by().values("id"), kind__in=list(kinds)
    )
    if group is not None:
        allocations = allocations.filter(group=group)
    deleted, _ = allocations.delete()
    return deleted


def _check_member(endpoint: Endpoint, group: Group) -> None:
    member = group.account_id == endpoint.account_id and (
        endpoint.primary_group_id == group.pk
        or SecondaryMembership.objects.filter(endpoint=endpoint, group=group).exists()
    )
    if not member:
        raise AddressingError(
            f"Endpoint {endpoint.iccid} is not a member of group {group.name}.",
            code="not_member",
        )


def _taken(address: str, holder: Endpoint) -> AddressingError:
    return AddressingError(
        f"{address} is already held by endpoint {holder.iccid}.", code="ip_taken"
    )


def reserve_static(
    *, endpoint: Endpoint, group: Group, address: str, actor: Actor, history: bool = True
) -> IPAllocation:
    """Reserve ``address`` permanently for ``endpoint`` in ``group`` (one of its
    groups), replacing its current address there, and record it in History
    (unless the caller records it with other changes: ``history=False``).

    The address must be a host address of the group's VSlice subnet and not be
    held by another endpoint. Takes the VSlice's row lock, like allocate_auto,
    so a static reservation and an automatic allocation cannot collide.
    """
    _check_member(endpoint, group)
    with transaction.atomic():
        vslice = VSlice.objects.select_for_update(no_key=True).get(pk=group.vslice_id)
        try:
            address = clean_ipv4_in_subnet(address, vslice.subnet)
        except ValidationError as exc:
            raise AddressingError(exc.messages[0], code=exc.code) from exc
        current = IPAllocation.objects.filter(endpoint=endpoint, group=group).first()
        holder = (
            IPAllocation.objects.filter(vslice=vslice, address=address)
            .select_related("endpoint")
            .first()
        )
        if holder is not None and (current is None or holder.pk != current.pk):
            raise _taken(address, holder.endpoint)
        unchanged = current is not None and current.address == address
        if unchanged and current.kind == AllocationKind.STATIC:
            return current
        old = None if current is None else current.address
        try:
            with transaction.atomic():
                if current is None:
                    current = IPAllocation.objects.create(
                        account_id=endpoint.account_id,
                        endpoint=endpoint,
                        group=group,
                        vslice=vslice,
                        address=address,
                        kind=AllocationKind.STATIC,
                    )
                else:
                    current.address = address
                    current.kind = AllocationKind.STATIC
                    current.save(update_fields=["address", "kind"])
        except IntegrityError as exc:
            # Written meanwhile by someone not holding the VSlice lock.
            holder = (
                IPAllocation.objects.filter(vslice=vslice, address=address)
                .select_related("endpoint")
                .first()
            )
            if holder is None:
                raise
            raise _taken(address, holder.endpoint) from exc
        if history:
            record(
                endpoint=endpoint,
                actor=actor,
                action=HistoryAction.STATIC_IP,
                changes={"ip": {group.name: [old, address]}},
            )
    return current


def clear_static(*, endpoint: Endpoint, group: Group, actor: Actor, history: bool = True) -> bool:
    """Drop ``endpoint``'s static address in ``group``, if it has one (the next
    data session gets an automatic one), recorded in History unless
    ``history=False``. Returns whether there was one."""
    with transaction.atomic():
        allocation = (
            IPAllocation.objects.select_for_update()
            .filter(endpoint=endpoint, group=group, kind=AllocationKind.STATIC)
            .first()
        )
        if allocation is None:
            return False
        allocation.delete()
        if history:
            record(
                endpoint=endpoint,
                actor=actor,
                action=HistoryAction.STATIC_IP,
                changes={"ip": {group.name: [allocation.address, None]}},
            )
    return True
