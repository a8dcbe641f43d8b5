"""Which operator and country a PLMN (MCC+MNC) is, and country names.

The names come from maintained data libraries, not from a table of ours:
python-stdnum ships the ITU/Wikipedia list of mobile network codes (its
``imsi`` database, refreshed with every release) and pycountry the ISO 3166
country list. Both are read in-process; a PLMN's answer is cached, because
the network batch asks for the same few networks thousands of times a second.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import pycountry
from stdnum import numdb


@dataclass(frozen=True)
class Network:
    """A serving network as the portal shows it."""

    plmn: str
    operator: str
    #: ISO 3166 alpha-2, upper case; "" when the PLMN's country is not known.
    country_code: str
    country: str

    @property
    def label(self) -> str:
        """ "Vodafone UK (United Kingdom)", or the bare PLMN when unknown."""
        name = self.operator or f"PLMN {self.plmn}"
        return f"{name} ({self.country})" if self.country else name


@lru_cache(maxsize=4096)
def network(plmn: str) -> Network:
    """What the library knows of ``plmn`` (5 or 6 digits). An unknown MNC
    still gets the country most networks of its MCC are in."""
    operator, code = "", ""
    parts = numdb.get("imsi").info(plmn)
    if len(parts) >= 2 and len(parts[0][0]) + len(parts[1][0]) == len(plmn):
        props = parts[1][1]
        operator = props.get("brand") or props.get("operator") or ""
        code = props.get("cc", "").upper() or _code_in_country_text(props.get("country", ""))
    if not code and len(plmn) >= 3:
        code = _country_of_mcc().get(plmn[:3], "")
    return Network(plmn=plmn, operator=operator, country_code=code, country=country_name(code))


def country_of(plmn: str) -> str:
    """The ISO alpha-2 code of the PLMN's country, or ""."""
    return network(plmn).country_code if plmn else ""


@lru_cache(maxsize=512)
def country_name(code: str) -> str:
    """ "United Kingdom" for "GB"; "" for an unknown or empty code."""
    if not code:
        return ""
    country = pycountry.countries.get(alpha_2=code.upper())
    if country is None:
        return ""
    return getattr(country, "common_name", None) or country.name


def is_country(code: str) -> bool:
    return len(code) == 2 and pycountry.countries.get(alpha_2=code.upper()) is not None


def _code_in_country_text(text: str) -> str:
    """The first code of a country text such as "Australia - AU/CC/CX"."""
    _, dash, codes = text.rpartition(" - ")
    code = codes.split("/")[0].strip().upper() if dash else ""
    return code if is_country(code) else ""


@lru_cache(maxsize=1)
def _country_of_mcc() -> dict[str, str]:
    """MCC -> the country most of its networks are in."""
    found: dict[str, Counter] = {}
    for _length, low, high, _props, children in numdb.get("imsi").prefixes:
        if low != high:
            continue
        counts = found.setdefault(low, Counter())
        for child in children or []:
            props = child[3]
            code = props.get("cc", "").upper() or _code_in_country_text(props.get("country", ""))
            if code:
                counts[code] += 1
    return {mcc: counts.most_common(1)[0][0] for mcc, counts in found.items() if counts}
