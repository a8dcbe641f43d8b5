"""Self-service activation: a SIM from stock becomes a Pending endpoint of the
account whose member types its ICCID and activation code (docs/activation.md).

``activate`` is the one rule; the portal page (one pair or a small CSV of
pairs) and the customer API call it. It answers an unknown ICCID, a wrong code
and an already-claimed SIM with one and the same refusal, at the same cost
(one keyed PBKDF2 run each, ``activation_codes``), so nobody learns which
ICCIDs exist or are taken. Each refusal is stored (``ActivationFailure``); the
tenth in an hour of one user (or one API token) blocks them for an hour, the
twentieth of one account blocks the account, the twentieth from one client
address blocks the address (``ActivationBlock``, visible and removable in the
Django admin; tokens are free to mint, accounts and addresses are not). Malformed
input (an ICCID that is no ICCID, a code of the wrong shape) says what is wrong
and is not counted: it tells nothing about stock.

Two accounts racing for one SIM: the stock row is locked (``SELECT … FOR
UPDATE``) before its code is checked, so the second waits for the first to
commit and then sees the SIM claimed: exactly one wins.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

import audit
from audit.events import actor_of
from audit.models import AuditAction
from events import outbox
from events.models import EventType as AccountEventType
from inventory import activation_codes, history
from inventory.history import Actor
from inventory.identifiers import clean_iccid, label_digits
from inventory.models import (
    IMSI,
    ActivationBlock,
    ActivationFailure,
    Endpoint,
    HistoryAction,
    State,
    StockSim,
)
from portal.models import Account

MAX_FAILURES = 10
#: Failures of all users and tokens of one account, and from one client address.
ACCOUNT_MAX_FAILURES = 20
ADDRESS_MAX_FAILURES = 20
FAILURE_WINDOW = timedelta(hours=1)
BLOCK_FOR = timedelta(hours=1)
#: Pairs in one CSV on the activation page; more is a job for support.
MAX_BATCH = 100

#: The one answer to an unknown ICCID, a wrong code and a claimed SIM.
REFUSED = (
    "No SIM could be activated with this ICCID and activation code. Check both against "
    "the packaging of the SIM."
)
#: A right code for a SIM that cannot become an endpoint (its IMSI was given to
#: another endpoint meanwhile): only the holder of the code reads this.
UNAVAILABLE = "This SIM cannot be activated; please contact support."
_LOCK_NAMESPACE = 17_001  # pg_advisory_xact_lock(namespace, user id)


def blocked_message(until: datetime, who: str = "") -> str:
    """What a blocked attempt is told; ``who`` says whose block it is."""
    whose = {"account": " in this account", "ip": " from your network address"}.get(
        who.partition(":")[0], ""
    )
    return (
        f"Too many failed activations{whose}: you can try again after "
        f"{timezone.localtime(until):%H:%M} ({timezone.get_current_timezone_name()})."
    )


class ActivationRefused(Exception):
    """Nothing was activated. ``blocked_until`` is set when the attempt is (now)
    blocked, ``blocked_by`` the key of that block (``account:7``); ``counted``
    says whether this refusal was a counted failure."""

    def __init__(
        self,
        message: str,
        *,
        blocked_until: datetime | None,
        counted: bool,
        blocked_by: str = "",
    ):
        super().__init__(message)
        self.message = message
        self.blocked_until = blocked_until
        self.counted = counted
        self.blocked_by = blocked_by


def clean_iccid_typed(value: str) -> str:
    """An ICCID as copied from a label: spaces and dashes dropped, then the
    ICCID rules (``identifiers.clean_iccid``)."""
    return clean_iccid(label_digits(value) or (value or "").strip())


def who_for_user(user) -> str:
    """Whose failures a portal user's attempts count as."""
    return f"user:{user.pk}"


def who_for_token(token) -> str:
    """Whose failures an API token's attempts count as (each token its own)."""
    return f"api-token:{token.pk}"


def who_for_account(account_id: int) -> str:
    """The key of an account's own limit: all its users and tokens together."""
    return f"account:{account_id}"


def who_for_address(ip: str) -> str:
    """The key of a client address's limit, whichever accounts it tries."""
    return f"ip:{ip}"


def limit_keys(*, who: str, account_id: int, ip: str | None) -> list[str]:
    """Every limit an attempt counts against, in the order their locks are taken."""
    keys = [who, who_for_account(account_id)] + ([who_for_address(ip)] if ip else [])
    return sorted(keys)


def blocked_until(*, who: str) -> datetime | None:
    """When ``who`` may try again, or None when they may now."""
    block = (
        ActivationBlock.objects.filter(who=who, until__gt=timezone.now()).order_by("-until").first()
    )
    return block.until if block else None


def current_block(*, who: str, account_id: int, ip: str | None) -> ActivationBlock | None:
    """The block an attempt of ``who`` in the account from ``ip`` would meet."""
    return _live_block(limit_keys(who=who, account_id=account_id, ip=ip))


def _live_block(keys: list[str]) -> ActivationBlock | None:
    """The block of any of ``keys`` that lasts longest, if one is in force."""
    return (
        ActivationBlock.objects.filter(who__in=keys, until__gt=timezone.now())
        .order_by("-until")
        .first()
    )


def _record_failure(
    *, who: str, actor: Actor, account: Account, iccid: str, ip: str | None
) -> ActivationBlock | None:
    """Store the failure; block each limit it reached (one query counts all three)."""
    now = timezone.now()
    ActivationFailure.objects.create(
        who=who,
        label=actor.label,
        user_id=actor.user_id,
        account=account,
        iccid=iccid[:20],
        at=now,
        ip=ip,
    )
    scopes = Q(who=who) | Q(account=account)
    if ip:
        scopes |= Q(ip=ip)
    counted = {"who": Q(who=who), "account": Q(account=account)}
    if ip:
        counted["ip"] = Q(ip=ip)
    counts = ActivationFailure.objects.filter(scopes, at__gt=now - FAILURE_WINDOW).aggregate(
        **{name: Count("pk", filter=condition) for name, condition in counted.items()}
    )
    reached = [
        key
        for key, count, limit in (
            (who, counts["who"], MAX_FAILURES),
            (who_for_account(account.pk), counts["account"], ACCOUNT_MAX_FAILURES),
            (who_for_address(ip) if ip else "", counts.get("ip", 0), ADDRESS_MAX_FAILURES),
        )
        if key and count >= limit
    ]
    blocks = ActivationBlock.objects.bulk_create(
        ActivationBlock(
            who=key, label=actor.label, user_id=actor.user_id, at=now, until=now + BLOCK_FOR
        )
        for key in reached
    )
    return blocks[-1] if blocks else None


def _claim(sim: StockSim, *, account: Account, actor: Actor) -> Endpoint:
    """Stock row claimed, endpoint with its IMSIs and History written, in the
    caller's transaction."""
    now = timezone.now()
    sim.claimed_at, sim.claimed_by = now, account
    sim.save(update_fields=["claimed_at", "claimed_by"])
    endpoint = Endpoint.objects.create(
        account=account, iccid=sim.iccid, state=State.PENDING, state_changed_at=now, created_at=now
    )
    IMSI.objects.bulk_create(
        IMSI(account=account, endpoint=endpoint, imsi=imsi) for imsi in sim.imsis
    )
    history.record(
        endpoint=endpoint,
        actor=actor,
        action=HistoryAction.ACTIVATED,
        to_state=State.PENDING,
        changes={"imsis": list(sim.imsis)},
        reason="activation",
    )
    outbox.emit(
        account_id=account.pk,
        type=AccountEventType.STATE_CHANGED,
        endpoint_id=endpoint.pk,
        data={
            "endpoint": {"id": endpoint.pk, "iccid": endpoint.iccid},
            "action": HistoryAction.ACTIVATED.value,
            "from_state": None,
            "to_state": State.PENDING.value,
            "reason": "activation",
            "actor": {"kind": actor.kind, "label": actor.label},
            "at": now,
            "group": None,
        },
    )
    return endpoint


def activate(
    *,
    account: Account,
    actor: Actor,
    iccid: str,
    code: str,
    ip: str | None = None,
    who: str | None = None,
) -> Endpoint:
    """Make the stock SIM ``iccid`` a Pending endpoint of ``account`` if ``code``
    is its activation code, in one transaction; raise ``ActivationRefused``
    otherwise (``ValidationError`` for malformed input, not counted).

    Failures count against ``who`` (``who_for_user``, ``who_for_token``); by
    default the actor's user."""
    if who is None:
        if actor.user is None:
            raise ValueError("activate() needs a user or a who= to count failures against")
        who = who_for_user(actor.user)
    iccid = clean_iccid_typed(iccid)
    code = activation_codes.clean_code(code)
    keys = limit_keys(who=who, account_id=account.pk, ip=ip)
    with transaction.atomic():
        # One attempt per who, account and address at a time (locks taken in one
        # order), so parallel requests cannot pass any of the limits.
        with connection.cursor() as cursor:
            for key in keys:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(%(namespace)s, hashtext(%(who)s))",
                    {"namespace": _LOCK_NAMESPACE, "who": key},
                )
        block = _live_block(keys)
        if block:
            raise ActivationRefused(
                blocked_message(block.until, block.who),
                blocked_until=block.until,
                counted=False,
                blocked_by=block.who,
            )
        sim = StockSim.objects.select_for_update().filter(iccid=iccid).first()
        matched = activation_codes.verify(
            code, sim.code_hash if sim else activation_codes.DUMMY_HASH
        )
        if sim is not None and matched and sim.claimed_at is None:
            try:
                with transaction.atomic():
                    endpoint = _claim(sim, account=account, actor=actor)
                    audit.record(
                        action=AuditAction.ACTIVATION,
                        account=account,
                        actor=actor_of(actor),
                        target=endpoint.iccid,
                        details={"result": "activated"},
                        ip=ip,
                    )
                    return endpoint
            except IntegrityError as exc:
                raise ActivationRefused(UNAVAILABLE, blocked_until=None, counted=False) from exc
        block = _record_failure(who=who, actor=actor, account=account, iccid=iccid, ip=ip)
        # The row says only "refused": which of the three reasons stays unknown here too.
        details = {"result": "blocked" if block else "refused"}
        if block:
            details["blocked"] = block.who.partition(":")[0]  # user, api-token, account, ip
        audit.record(
            action=AuditAction.ACTIVATION,
            account=account,
            actor=actor_of(actor),
            target=iccid,
            details=details,
            ip=ip,
        )
    # Outside the transaction: the failure (and any block) is committed.
    until = block.until if block else None
    message = REFUSED + (f" {blocked_message(block.until, block.who)}" if block else "")
    raise ActivationRefused(
        message, blocked_until=until, counted=True, blocked_by=block.who if block else ""
    )


@dataclass(frozen=True)
class Pair:
    line: int
    iccid: str
    code: str


@dataclass(frozen=True)
class Outcome:
    """One pair's result: its endpoint, or why not."""

    line: int
    iccid: str
    endpoint: Endpoint | None = None
    message: str = ""


class BatchRejected(Exception):
    """The CSV could not be read; ``errors`` gives each bad line."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


BATCH_COLUMNS = ("iccid", "activation_code")


def parse_pairs(file: IO[bytes] | IO[str]) -> list[Pair]:
    """The pairs of a small CSV (``iccid,activation_code``), each line's shape
    checked (not its truth: that is ``activate``'s); ``BatchRejected`` with
    every bad line, the same way as the SIM import reports them."""
    if isinstance(file.read(0), bytes):
        file = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    errors: list[str] = []
    pairs: list[Pair] = []
    try:
        reader = csv.DictReader(file)
        header = [(name or "").strip().lower() for name in (reader.fieldnames or [])]
        if sorted(header) != sorted(BATCH_COLUMNS):
            raise BatchRejected(
                [f"line 1: the header must name the columns {', '.join(BATCH_COLUMNS)}"]
            )
        reader.fieldnames = header
        seen: dict[str, int] = {}
        for raw in reader:
            line = reader.line_num
            if len(pairs) + len(errors) >= MAX_BATCH:
                raise BatchRejected([f"at most {MAX_BATCH} SIMs per file"])
            problems = []
            iccid = code = ""
            try:
                iccid = clean_iccid_typed(raw.get("iccid") or "")
            except ValidationError as exc:
                problems.append(f"ICCID: {exc.messages[0]}")
            try:
                code = activation_codes.clean_code(raw.get("activation_code") or "")
            except ValidationError as exc:
                problems.append(f"activation code: {exc.messages[0]}")
            if iccid and iccid in seen:
                problems.append(f"ICCID {iccid} is already on line {seen[iccid]}")
            if problems:
                errors.append(f"line {line}: {'; '.join(problems)}")
                continue
            seen[iccid] = line
            pairs.append(Pair(line, iccid, code))
    except UnicodeDecodeError:
        raise BatchRejected(["the file is not UTF-8 text"]) from None
    except csv.Error as exc:
        raise BatchRejected([f"not a readable CSV file ({exc})"]) from None
    if errors:
        raise BatchRejected(errors)
    if not pairs:
        raise BatchRejected(["line 2: the file has no SIMs"])
    return pairs


def activate_pairs(
    *,
    account: Account,
    actor: Actor,
    pairs: list[Pair],
    ip: str | None = None,
    who: str | None = None,
) -> list[Outcome]:
    """``activate`` each pair in turn (each its own transaction: one refused SIM
    does not undo the others); once the user is blocked, the rest are not tried."""
    outcomes: list[Outcome] = []
    blocked = ""
    for pair in pairs:
        if blocked:
            outcomes.append(Outcome(pair.line, pair.iccid, message=blocked))
            continue
        try:
            endpoint = activate(
                account=account, actor=actor, iccid=pair.iccid, code=pair.code, ip=ip, who=who
            )
        except ActivationRefused as refused:
            if refused.blocked_until:
                blocked = blocked_message(refused.blocked_until, refused.blocked_by)
            outcomes.append(Outcome(pair.line, pair.iccid, message=refused.message))
        else:
            outcomes.append(Outcome(pair.line, pair.iccid, endpoint=endpoint))
    return outcomes
