"""What a well-formed network event is (docs/product.md "Network events").

The packet core's JSON is checked here, one event at a time, before anything
touches the database: a malformed event gets an ``invalid`` result with a
reason code and the rest of the batch goes on. Also the answer's vocabulary:
the statuses and reason codes of the API contract (docs/network-api.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

from inventory.identifiers import clean_imei, clean_imsi
from inventory.models import RAT_VALUES, EventStatus, EventType
from inventory.reasons import Reason
from inventory.retention import EVENT_RETENTION

#: Most events one request may carry.
MAX_EVENTS = 1000
MAX_ID_LENGTH = 100
MAX_APN_LENGTH = 100
_MAX_TIME_LENGTH = 64
#: Accepted event times: a clock far ahead would make every later event of the
#: endpoint stale, and events older than the 30 days kept are of no use.
MAX_FUTURE = timedelta(hours=1)
MAX_AGE = EVENT_RETENTION
# Plain strings in the per-event code: an enum member lookup costs a
# descriptor call each time, thousands of times per batch.
ACCEPTED = EventStatus.ACCEPTED.value
REJECTED = EventStatus.REJECTED.value
STALE = EventStatus.STALE.value
DUPLICATE = EventStatus.DUPLICATE.value
INVALID = EventStatus.INVALID.value
SESSION_START = EventType.SESSION_START.value
_EVENT_TYPES = frozenset(EventType.values)
_RATS = frozenset(RAT_VALUES)
#: The events that may report bytes: since that session's previous report.
USAGE_TYPES = frozenset({EventType.SESSION_UPDATE.value, EventType.SESSION_END.value})
#: Most bytes one report may carry in one direction (1 TiB): more is a broken
#: counter, not traffic.
MAX_BYTES = 2**40


@dataclass
class EventResult:
    """The answer for one event, in request order."""

    id: str | None
    status: str
    reason: str = ""
    state: str = ""
    ip: str | None = None

    def as_json(self) -> dict:
        data: dict = {"id": self.id, "status": self.status}
        if self.reason:
            data["reason"] = self.reason
        if self.state:
            data["state"] = self.state
        if self.ip:
            data["ip"] = self.ip
        return data


@dataclass(frozen=True)
class Event:
    """A well-formed event; ``index`` is its position in the request."""

    index: int
    id: str
    type: str
    imsi: str
    imei: str
    apn: str
    at: datetime
    bytes_up: int = 0
    bytes_down: int = 0
    #: The serving network (MCC+MNC) and radio access type, "" when not reported.
    plmn: str = ""
    rat: str = ""


def parse_event(raw: object, index: int) -> Event | EventResult:
    """An ``Event``, or the ``invalid`` result saying what is wrong with it."""
    if not isinstance(raw, dict):
        return EventResult(id=None, status=INVALID, reason=Reason.NOT_AN_OBJECT)
    event_id = raw.get("id")
    shown_id = event_id if isinstance(event_id, str) else None
    if event_id is None or event_id == "":
        return EventResult(id=shown_id, status=INVALID, reason=Reason.MISSING_ID)
    if not isinstance(event_id, str) or len(event_id) > MAX_ID_LENGTH or not _storable(event_id):
        shown = shown_id[:MAX_ID_LENGTH] if shown_id else None
        return EventResult(id=shown, status=INVALID, reason=Reason.BAD_ID)

    def invalid(reason: str) -> EventResult:
        return EventResult(id=event_id, status=INVALID, reason=reason)

    event_type = raw.get("type")
    if not isinstance(event_type, str) or event_type not in _EVENT_TYPES:
        return invalid(Reason.BAD_TYPE)
    try:
        imsi = clean_imsi(raw.get("imsi")) if isinstance(raw.get("imsi"), str) else None
    except ValidationError:
        imsi = None
    if imsi is None:
        return invalid(Reason.BAD_IMSI)
    imei = raw.get("imei")
    if imei is None or imei == "":
        imei = ""
    else:
        try:
            imei = clean_imei(imei) if isinstance(imei, str) else None
        except ValidationError:
            imei = None
        if imei is None:
            return invalid(Reason.BAD_IMEI)
    apn = raw.get("apn")
    if apn is None:
        apn = ""
    if not isinstance(apn, str) or len(apn) > MAX_APN_LENGTH or not _storable(apn):
        return invalid(Reason.BAD_APN)
    at = _parse_time(raw.get("at"))
    if at is None:
        return invalid(Reason.BAD_TIME)
    plmn = raw.get("plmn")
    if plmn is None or plmn == "":
        plmn = ""
    elif not _is_plmn(plmn):
        return invalid(Reason.BAD_PLMN)
    rat = raw.get("rat")
    if rat is None or rat == "":
        rat = ""
    elif not isinstance(rat, str) or rat not in _RATS:
        return invalid(Reason.BAD_RAT)
    up, down = raw.get("bytes_up"), raw.get("bytes_down")
    if up is not None or down is not None:
        if event_type not in USAGE_TYPES:
            return invalid(Reason.BYTES_NOT_ALLOWED)
        up, down = _byte_count(up), _byte_count(down)
        if up is None or down is None:
            return invalid(Reason.BAD_BYTES)
    return Event(
        index=index,
        id=event_id,
        type=event_type,
        imsi=imsi,
        imei=imei,
        apn=apn.strip(),
        at=at,
        bytes_up=up or 0,
        bytes_down=down or 0,
        plmn=plmn,
        rat=rat,
    )


def _is_plmn(value: object) -> bool:
    """MCC (3 digits) + MNC (2 or 3 digits), as a string: 5 or 6 ASCII digits."""
    return isinstance(value, str) and len(value) in (5, 6) and value.isascii() and value.isdigit()


def _byte_count(value: object) -> int | None:
    """A byte count: absent is 0; else an integer 0 <= n < MAX_BYTES (not a
    boolean, not a float, not a string)."""
    if value is None:
        return 0
    if type(value) is not int or not 0 <= value < MAX_BYTES:
        return None
    return value


def _storable(text: str) -> bool:
    """PostgreSQL text holds neither NUL nor unpaired surrogates (which JSON allows)."""
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _parse_time(value: object) -> datetime | None:
    """ISO 8601 with a zone ("Z" or an offset); a local time is ambiguous."""
    if not isinstance(value, str) or len(value) > _MAX_TIME_LENGTH:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    if at.tzinfo is None or at.utcoffset() is None:
        return None
    now = timezone.now()
    if not now - MAX_AGE <= at <= now + MAX_FUTURE:
        return None
    return at
