"""Allocating a batch of SIMs to an account from a CSV file (support staff).

Used by ``manage.py import_sims`` and by the "Import SIMs" page of the Django
admin, so both accept the same files and report the same errors.

A batch is all or nothing: every line is validated first and every bad line is
reported with its number and reason, so staff fix the file in one pass instead of
discovering errors one at a time. Duplicates are looked for inside the file and
against the whole database (ICCIDs and IMSIs are global, whatever the account),
one query per chunk of identifiers. Only a clean file is written, with COPY, in
one transaction: new endpoints are Pending, with their IMSIs and a "created"
history row each.

Columns (header line required): ``iccid``, ``imsis`` (separated by ``;``),
``name``, ``reference``, ``tags`` (separated by ``;`` or ``,``). Only ``iccid``
and ``imsis`` are required.

A stock file (``stock=True``, ``import_sims --stock``) loads SIMs that belong
to no account yet (``StockSim``, docs/activation.md): columns ``iccid``,
``imsis`` and ``activation_code``, all required; the codes are stored hashed.
ICCIDs and IMSIs are checked against endpoints and stock alike.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from inventory import activation_codes, history
from inventory.history import Actor
from inventory.identifiers import clean_iccid, clean_imsi, clean_tags
from inventory.models import IMSI, Endpoint, History, HistoryAction, State, StockSim
from portal.models import Account

# Table names for the SQL below, quoted, from the models (never spelled out).
_quote = connection.ops.quote_name
_ENDPOINTS = _quote(Endpoint._meta.db_table)
_IMSIS = _quote(IMSI._meta.db_table)
_HISTORY = _quote(History._meta.db_table)
_STOCK = _quote(StockSim._meta.db_table)

COLUMNS = ("iccid", "imsis", "name", "reference", "tags")
REQUIRED = ("iccid", "imsis")
STOCK_COLUMNS = ("iccid", "imsis", "activation_code")
#: Identifiers checked against the database per query.
CHECK_CHUNK = 10_000
#: Rows per COPY statement (progress is reported after each).
WRITE_CHUNK = 20_000
MAX_TEXT = 100

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class LineError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass
class SimRow:
    line: int
    iccid: str
    imsis: list[str]
    name: str = ""
    reference: str = ""
    tags: list[str] = field(default_factory=list)
    #: A stock line's cleaned activation code (hashed when written, never stored).
    activation_code: str = ""


class ImportRejected(Exception):
    """The file was not imported; ``errors`` says why, line by line."""

    def __init__(self, errors: list[LineError]):
        self.errors = errors
        super().__init__(f"{len(errors):,} line(s) rejected; nothing was imported.")


@dataclass
class ImportResult:
    endpoints: int
    imsis: int
    batch: uuid.UUID
    seconds: float

    def summary(self) -> str:
        return f"{self.endpoints:,} endpoints with {self.imsis:,} IMSIs imported as Pending"


def _split(value: str, pattern: str) -> list[str]:
    return [part.strip() for part in re.split(pattern, value or "") if part.strip()]


def _clean_line(line: int, raw: dict, waive_check_digit: bool, stock: bool) -> SimRow | list[str]:
    """One line's values, or the reasons it is wrong (all of them)."""
    problems: list[str] = []
    if None in raw:
        problems.append("more values than the header has columns")
    iccid = raw.get("iccid") or ""
    try:
        iccid = clean_iccid(iccid, check_digit=not waive_check_digit)
    except ValidationError as exc:
        problems.append(f"ICCID “{iccid.strip()[:25]}”: {exc.messages[0]}")
    imsis = _split(raw.get("imsis") or "", r";")
    if not imsis:
        problems.append("no IMSI: every endpoint needs at least one")
    cleaned_imsis = []
    for imsi in imsis:
        try:
            cleaned_imsis.append(clean_imsi(imsi))
        except ValidationError as exc:
            problems.append(f"IMSI “{imsi[:20]}”: {exc.messages[0]}")
    if len(set(cleaned_imsis)) < len(cleaned_imsis):
        problems.append("the same IMSI twice on one line")
    name = (raw.get("name") or "").strip()
    reference = (raw.get("reference") or "").strip()
    for label, value in (("name", name), ("reference", reference)):
        if len(value) > MAX_TEXT:
            problems.append(f"the {label} is {len(value)} characters long; at most {MAX_TEXT}")
    tags: list[str] = []
    try:
        tags = clean_tags(_split(raw.get("tags") or "", r"[;,]"))
    except ValidationError as exc:
        problems.append(exc.messages[0])
    code = ""
    if stock:
        try:
            code = activation_codes.clean_code(raw.get("activation_code") or "")
        except ValidationError as exc:
            problems.append(f"activation code: {exc.messages[0]}")
    if problems:
        return problems
    return SimRow(line, iccid, cleaned_imsis, name, reference, tags, code)


def parse(
    file: IO[str] | IO[bytes], *, waive_check_digit: bool = False, stock: bool = False
) -> tuple[list[SimRow], list[LineError]]:
    """Read and validate every line; duplicates inside the file are errors too."""
    columns, required = (STOCK_COLUMNS, STOCK_COLUMNS) if stock else (COLUMNS, REQUIRED)
    if isinstance(file.read(0), bytes):
        file = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(file)
    try:
        header = [(column or "").strip().lower() for column in (reader.fieldnames or [])]
    except UnicodeDecodeError:
        return [], [LineError(1, "the file is not UTF-8 text")]
    except csv.Error as exc:
        return [], [LineError(1, f"not a CSV file ({exc})")]
    if not header:
        return [], [
            LineError(
                1, f"the file is empty; the first line names the columns ({', '.join(columns)})"
            )
        ]
    missing = [column for column in required if column not in header]
    unknown = [column for column in header if column not in columns]
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown column(s) {', '.join(unknown)}")
        expected = ", ".join(columns)
        return [], [LineError(1, f"header: {'; '.join(parts)} (expected {expected})")]
    reader.fieldnames = header

    rows: list[SimRow] = []
    errors: list[LineError] = []
    iccid_lines: dict[str, int] = {}
    imsi_lines: dict[str, int] = {}
    try:
        for raw in reader:
            line = reader.line_num
            cleaned = _clean_line(line, raw, waive_check_digit, stock)
            if isinstance(cleaned, list):
                errors.append(LineError(line, "; ".join(cleaned)))
                continue
            problems = []
            first = iccid_lines.setdefault(cleaned.iccid, line)
            if first != line:
                problems.append(f"ICCID {cleaned.iccid} is already on line {first}")
            for imsi in cleaned.imsis:
                first = imsi_lines.setdefault(imsi, line)
                if first != line:
                    problems.append(f"IMSI {imsi} is already on line {first}")
            if problems:
                errors.append(LineError(line, "; ".join(problems)))
            else:
                rows.append(cleaned)
    except UnicodeDecodeError:
        errors.append(LineError(reader.line_num + 1, "the file is not UTF-8 text"))
    except csv.Error as exc:
        errors.append(LineError(reader.line_num, f"unreadable CSV ({exc})"))
    if not rows and not errors:
        errors.append(LineError(2, "the file has no data lines"))
    return rows, errors


def _existing(sql: str, values: list[str]) -> set[str]:
    found: set[str] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(values), CHECK_CHUNK):
            cursor.execute(sql, {"values": values[start : start + CHECK_CHUNK]})
            found.update(value for (value,) in cursor.fetchall())
    return found


def find_conflicts(rows: list[SimRow]) -> list[LineError]:
    """Lines whose ICCID or IMSI is already in the database, in any account or
    in stock (an unclaimed stock ICCID; a claimed one is an endpoint's, or was)."""
    iccid_values = [row.iccid for row in rows]
    iccids = _existing(
        f"SELECT iccid FROM {_ENDPOINTS} WHERE iccid = ANY(%(values)s::text[])", iccid_values
    )
    in_stock = _existing(
        f"SELECT iccid FROM {_STOCK} WHERE iccid = ANY(%(values)s::text[])", iccid_values
    )
    imsi_values = [imsi for row in rows for imsi in row.imsis]
    imsis = _existing(
        f"SELECT imsi FROM {_IMSIS} WHERE imsi = ANY(%(values)s::text[])", imsi_values
    ) | _existing(
        f"SELECT imsi FROM {_STOCK}, unnest(imsis) AS imsi"
        " WHERE imsis && %(values)s::varchar[] AND imsi = ANY(%(values)s::text[])",
        imsi_values,
    )
    errors = []
    for row in rows:
        problems = []
        if row.iccid in iccids:
            problems.append(f"ICCID {row.iccid} already exists")
        elif row.iccid in in_stock:
            problems.append(f"ICCID {row.iccid} is already in stock")
        problems.extend(f"IMSI {imsi} already exists" for imsi in row.imsis if imsi in imsis)
        if problems:
            errors.append(LineError(row.line, "; ".join(problems)))
    return errors


def reserve_endpoint_ids(cursor, count: int) -> int:
    """Take ``count`` consecutive endpoint ids from the sequence; return the first.

    Rows written with COPY need their ids up front (for their IMSIs and history).
    The table lock keeps concurrent inserts from drawing ids in between; it is
    held to the end of the caller's transaction."""
    cursor.execute(f"LOCK TABLE {_ENDPOINTS} IN SHARE ROW EXCLUSIVE MODE")
    cursor.execute(
        "SELECT setval(pg_get_serial_sequence(%(table)s, 'id'),"
        " nextval(pg_get_serial_sequence(%(table)s, 'id')) + %(count)s - 1)",
        {"table": Endpoint._meta.db_table, "count": count},
    )
    return cursor.fetchone()[0] - count + 1


def copy_rows(cursor, sql: str, rows: Iterable[tuple]) -> None:
    with cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def write_rows(
    cursor, rows: list[SimRow], *, account: Account, actor: Actor, batch: uuid.UUID, now
) -> int:
    """COPY ``rows`` in as Pending endpoints with their IMSIs and a "created"
    History row each, in the caller's transaction; return the IMSIs written.
    A background import job calls this once per chunk."""
    first_id = reserve_endpoint_ids(cursor, len(rows))
    numbered = list(enumerate(rows, start=first_id))
    copy_rows(
        cursor,
        f"COPY {_ENDPOINTS} (id, account_id, iccid, name, reference, tags, state,"
        " imei_lock_enabled, imei, state_changed_at, created_at) FROM STDIN",
        (
            (pk, account.pk, row.iccid, row.name, row.reference, row.tags)
            + (State.PENDING.value, False, "", now, now)
            for pk, row in numbered
        ),
    )
    imsis = [(account.pk, pk, imsi) for pk, row in numbered for imsi in row.imsis]
    copy_rows(cursor, f"COPY {_IMSIS} (account_id, endpoint_id, imsi) FROM STDIN", imsis)
    copy_rows(
        cursor,
        f"COPY {_HISTORY} ({history.COLUMN_LIST}) FROM STDIN",
        (
            (
                account.pk,
                pk,
                now,
                actor.kind,
                actor.user_id,
                actor.label,
                HistoryAction.CREATED.value,
                "",
            )
            + (State.PENDING.value, json.dumps({"imsis": row.imsis}), "import", batch)
            for pk, row in numbered
        ),
    )
    return len(imsis)


def _write(
    rows: list[SimRow], *, account: Account, actor: Actor, progress: Progress | None
) -> tuple[int, uuid.UUID]:
    now = timezone.now()
    batch = uuid.uuid4()
    imsi_count = 0
    with connection.cursor() as cursor:
        for start in range(0, len(rows), WRITE_CHUNK):
            chunk = rows[start : start + WRITE_CHUNK]
            imsi_count += write_rows(
                cursor, chunk, account=account, actor=actor, batch=batch, now=now
            )
            if progress:
                progress("written", start + len(chunk), len(rows))
    return imsi_count, batch


def validate(
    file: IO[str] | IO[bytes],
    *,
    waive_check_digit: bool = False,
    stock: bool = False,
    progress: Progress | None = None,
) -> list[SimRow]:
    """Every line of the file, checked in itself, against the rest of the file
    and against the database; raise ``ImportRejected`` with every bad line."""
    rows, errors = parse(file, waive_check_digit=waive_check_digit, stock=stock)
    if progress:
        progress("validated", len(rows) + len(errors), len(rows) + len(errors))
    if rows:
        errors.extend(find_conflicts(rows))
        if progress:
            progress("checked against the database", len(rows), len(rows))
    if errors:
        raise ImportRejected(sorted(errors, key=lambda error: error.line))
    return rows


#: Why a write can fail after a clean validation.
ADDED_MEANWHILE = "an ICCID or IMSI was added meanwhile by someone else"


def import_sims(
    file: IO[str] | IO[bytes],
    *,
    account: Account,
    actor: Actor,
    waive_check_digit: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Validate the whole file, then write it in one transaction, or raise
    ``ImportRejected`` with every bad line (nothing written)."""
    started = time.monotonic()
    rows = validate(file, waive_check_digit=waive_check_digit, progress=progress)
    try:
        with transaction.atomic():
            imsi_count, batch = _write(rows, account=account, actor=actor, progress=progress)
    except IntegrityError as exc:
        # Another import or allocation took one of these identifiers after the check.
        raise ImportRejected([LineError(0, f"{ADDED_MEANWHILE} ({exc})")]) from exc
    return ImportResult(len(rows), imsi_count, batch, time.monotonic() - started)


@dataclass
class StockResult:
    sims: int
    seconds: float

    def summary(self) -> str:
        return f"{self.sims:,} SIMs added to stock, awaiting activation"


def import_stock(
    file: IO[str] | IO[bytes],
    *,
    waive_check_digit: bool = False,
    progress: Progress | None = None,
) -> StockResult:
    """Validate a stock file whole, then write it in one transaction (each code
    hashed, ``activation_codes``), or raise ``ImportRejected`` with every bad
    line. The endpoint table's lock, as an endpoint import takes it, keeps an
    endpoint with one of these ICCIDs from being written meanwhile."""
    started = time.monotonic()
    rows = validate(file, waive_check_digit=waive_check_digit, stock=True, progress=progress)
    now = timezone.now()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {_ENDPOINTS} IN SHARE ROW EXCLUSIVE MODE")
            for start in range(0, len(rows), WRITE_CHUNK):
                chunk = rows[start : start + WRITE_CHUNK]
                copy_rows(
                    cursor,
                    f"COPY {_STOCK} (iccid, imsis, code_hash, created_at) FROM STDIN",
                    (
                        (row.iccid, row.imsis, activation_codes.make_hash(row.activation_code), now)
                        for row in chunk
                    ),
                )
                if progress:
                    progress("written", start + len(chunk), len(rows))
    except IntegrityError as exc:
        raise ImportRejected([LineError(0, f"{ADDED_MEANWHILE} ({exc})")]) from exc
    return StockResult(len(rows), time.monotonic() - started)
