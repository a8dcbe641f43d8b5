"""Identifier rules (docs/product.md "Identifiers"): each check returns the cleaned
value or raises ``ValidationError`` with a message an operator can act on.
Forms, the CSV import, the admin and the network API all use these."""

from __future__ import annotations

import ipaddress
import re

from django.core.exceptions import ValidationError

MAX_TAGS = 20
MAX_KEY_VALUES = 50
MAX_KEY_LENGTH = 64
MAX_VALUE_LENGTH = 1024
_DIGITS = re.compile(r"[0-9]+")
_TAG = re.compile(r"[a-z0-9_:.-]{1,40}")
_SEPARATORS = re.compile(r"[\s-]+")
_KEY = re.compile(r"[a-z0-9_.-]{1,64}")


def luhn_check_digit(body: str) -> str:
    """The digit that makes ``body`` + digit pass ``luhn_ok``, in one pass (demo
    data computes it for every ICCID and IMEI of a million-endpoint seed)."""
    total = 0
    for position, char in enumerate(reversed(body)):
        value = int(char)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def luhn_ok(digits: str) -> bool:
    """Whether the last digit is the Luhn check digit of the others."""
    return len(digits) > 1 and luhn_check_digit(digits[:-1]) == digits[-1]


def label_digits(text: str) -> str | None:
    """A number as copied from a label ("8944 0000-1234…") with its spaces and
    dashes dropped, or None when anything but digits is left."""
    compact = _SEPARATORS.sub("", text or "")
    return compact if _DIGITS.fullmatch(compact) else None


def is_iccid_shaped(text: str) -> bool:
    """19–20 digits: as long as an ICCID (what a search or a selection may treat
    as one; ``clean_iccid`` checks the rest)."""
    return bool(_DIGITS.fullmatch(text)) and 19 <= len(text) <= 20


def clean_iccid(value: str, *, check_digit: bool = True) -> str:
    """19–20 digits starting 89, with a valid Luhn check digit unless waived."""
    iccid = (value or "").strip()
    if not _DIGITS.fullmatch(iccid):
        raise ValidationError("An ICCID has digits only.", code="iccid_digits")
    if not 19 <= len(iccid) <= 20:
        raise ValidationError(
            f"An ICCID has 19 or 20 digits; this one has {len(iccid)}.", code="iccid_length"
        )
    if not iccid.startswith("89"):
        raise ValidationError("An ICCID starts with 89.", code="iccid_prefix")
    if check_digit and not luhn_ok(iccid):
        raise ValidationError(
            "The ICCID's check digit (its last digit) is wrong.", code="iccid_luhn"
        )
    return iccid


def clean_imsi(value: str) -> str:
    imsi = (value or "").strip()
    if not _DIGITS.fullmatch(imsi):
        raise ValidationError("An IMSI has digits only.", code="imsi_digits")
    if not 14 <= len(imsi) <= 15:
        raise ValidationError(
            f"An IMSI has 14 or 15 digits; this one has {len(imsi)}.", code="imsi_length"
        )
    return imsi


def clean_imei(value: str) -> str:
    """A 15-digit IMEI with a valid Luhn digit, or a 16-digit IMEISV."""
    imei = (value or "").strip()
    if not _DIGITS.fullmatch(imei):
        raise ValidationError("An IMEI has digits only.", code="imei_digits")
    if len(imei) == 15:
        if not luhn_ok(imei):
            raise ValidationError(
                "The IMEI's check digit (its last digit) is wrong.", code="imei_luhn"
            )
        return imei
    if len(imei) == 16:
        return imei  # IMEISV: TAC + serial + 2-digit software version, no check digit
    raise ValidationError(
        f"Enter a 15-digit IMEI or a 16-digit IMEISV; this one has {len(imei)} digits.",
        code="imei_length",
    )


def imei_matches(lock: str, presented: str) -> bool:
    """The lock compares TAC + serial (the first 14 digits) only."""
    return bool(lock) and bool(presented) and lock[:14] == presented[:14]


def clean_tags(value: str | list[str]) -> list[str]:
    """Short slugs, case-insensitive (kept lower-case), de-duplicated, at most 20."""
    raw = value if isinstance(value, list) else re.split(r"[,\s]+", value or "")
    tags: list[str] = []
    for tag in raw:
        tag = tag.strip().lower()
        if not tag:
            continue
        if not _TAG.fullmatch(tag):
            raise ValidationError(
                f"“{tag[:40]}” is not a valid tag: use up to 40 letters, digits, - _ : or .",
                code="tag_invalid",
            )
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise ValidationError(
            f"An endpoint has at most {MAX_TAGS} tags; this has {len(tags)}.", code="tags_many"
        )
    return tags


def usable_hosts(subnet: str) -> int:
    """How many host addresses a subnet has for endpoints: network and
    broadcast excluded, and none at all in a /31 or /32 (no room for both).
    The one rule for static addresses, automatic allocation and the groups
    page's capacity."""
    network = ipaddress.IPv4Network(subnet)
    return network.num_addresses - 2 if network.prefixlen <= 30 else 0


def clean_ipv4_in_subnet(value: str, subnet: str) -> str:
    """An IPv4 address without leading zeros, inside ``subnet``, and neither its
    network nor its broadcast address (``usable_hosts``: a /31 or /32 has none)."""
    text = (value or "").strip()
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError as exc:
        raise ValidationError(
            f"“{text[:40]}” is not an IPv4 address (four numbers 0–255, no leading zeros).",
            code="ip_invalid",
        ) from exc
    network = ipaddress.IPv4Network(subnet)
    if address not in network:
        raise ValidationError(f"{address} is outside the subnet {network}.", code="ip_outside")
    if not usable_hosts(subnet):
        raise ValidationError(
            f"{network} has no host address to give an endpoint; choose another group.",
            code="ip_no_hosts",
        )
    if address in (network.network_address, network.broadcast_address):
        which = "network" if address == network.network_address else "broadcast"
        raise ValidationError(
            f"{address} is the {which} address of {network}; choose a host address.",
            code="ip_reserved",
        )
    return str(address)


def clean_key(value: str) -> str:
    """A key value's key: 1–64 lower-case letters, digits, ``_``, ``.`` or ``-``."""
    key = (value or "").strip()
    if not key:
        raise ValidationError("Enter a key.", code="key_missing")
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationError(
            f"A key has at most {MAX_KEY_LENGTH} characters; this one has {len(key)}.",
            code="key_length",
        )
    if not _KEY.fullmatch(key):
        raise ValidationError(
            f"“{key[:64]}” is not a valid key: use lower-case letters, digits, _ . or -.",
            code="key_invalid",
        )
    return key


def clean_value(value: str, *, key: str = "") -> str:
    """A key value's value: any text up to 1,024 characters (no NUL, which
    PostgreSQL text cannot hold); kept as typed."""
    text = value if isinstance(value, str) else ""
    label = f"The value of {key}" if key else "A value"
    if "\x00" in text:
        raise ValidationError(f"{label} contains a NUL character.", code="value_nul")
    if len(text) > MAX_VALUE_LENGTH:
        raise ValidationError(
            f"{label} has {len(text):,} characters; at most {MAX_VALUE_LENGTH:,}.",
            code="value_length",
        )
    return text


def clean_key_values(pairs: dict) -> dict[str, str]:
    """A whole set of key values: every key and value valid, at most 50 pairs.
    Raises one ``ValidationError`` listing every problem."""
    problems: list[ValidationError] = []
    cleaned: dict[str, str] = {}
    for raw_key, raw_value in pairs.items():
        try:
            key = clean_key(raw_key)
            cleaned[key] = clean_value(raw_value, key=key)
        except ValidationError as exc:
            problems.append(exc)
    if len(cleaned) > MAX_KEY_VALUES:
        problems.append(
            ValidationError(
                f"An endpoint has at most {MAX_KEY_VALUES} key values; this would be "
                f"{len(cleaned)}.",
                code="key_values_many",
            )
        )
    if problems:
        raise ValidationError(problems)
    return cleaned


def parse_key_value(text: str) -> tuple[str, str]:
    """``key:value`` (the list's ``kv`` filter): split at the first colon, which
    no key contains; each side checked as above."""
    key, colon, value = (text or "").partition(":")
    if not colon:
        raise ValidationError(
            "Filter by key value as key:value, e.g. fleet:berlin.", code="kv_format"
        )
    return clean_key(key), clean_value(value, key=key.strip())
