"""RADIUS packets and what their attributes mean to the portal (docs/radius.md
"Attribute mapping").

pyrad does the wire format, the dictionary and the authenticators; this module
says which packets are acceptable (BlastRADIUS: a Message-Authenticator on every
Access-Request unless the client is relaxed, and on every answer) and turns an
Access-Request or Accounting-Request into a ``Request`` the batch decides.
Attributes are read by their codes (a vendor one by ``(vendor, code)``), which
skips pyrad's per-attribute dictionary decoding on the hot path.
"""

from __future__ import annotations

import ipaddress
import re
import struct
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from pyrad import packet as rp
from pyrad.dictionary import Dictionary

DICTIONARY_PATH = Path(__file__).with_name("dictionary")
DICTIONARY = Dictionary(str(DICTIONARY_PATH))

VENDOR_3GPP = 10415
USER_NAME = 1
FRAMED_IP_ADDRESS = 8
CALLED_STATION_ID = 30
ACCT_STATUS_TYPE = 40
ACCT_DELAY_TIME = 41
ACCT_INPUT_OCTETS = 42
ACCT_OUTPUT_OCTETS = 43
ACCT_SESSION_ID = 44
ACCT_INPUT_GIGAWORDS = 52
ACCT_OUTPUT_GIGAWORDS = 53
MESSAGE_AUTHENTICATOR = 80
IMSI_3GPP = (VENDOR_3GPP, 1)
SGSN_MCC_MNC_3GPP = (VENDOR_3GPP, 18)
IMEISV_3GPP = (VENDOR_3GPP, 20)
RAT_TYPE_3GPP = (VENDOR_3GPP, 21)

# Acct-Status-Type (RFC 2866, RFC 2869)
START = 1
STOP = 2
INTERIM_UPDATE = 3
ACCOUNTING_ON = 7
ACCOUNTING_OFF = 8
STATUS_NAMES = {
    START: "Start",
    STOP: "Stop",
    INTERIM_UPDATE: "Interim-Update",
    ACCOUNTING_ON: "Accounting-On",
    ACCOUNTING_OFF: "Accounting-Off",
}

#: 3GPP-RAT-Type (TS 29.061 / TS 29.274) → the RAT names of the network events.
RAT_NAMES = {
    1: "3G",  # UTRAN
    2: "2G",  # GERAN
    5: "3G",  # HSPA Evolution
    6: "4G",  # EUTRAN
    8: "NB-IoT",  # EUTRAN-NB-IoT
    9: "LTE-M",
    10: "5G",  # NR
}

GIGAWORD = 2**32
_DIGITS_14_15 = re.compile(r"\d{14,15}")
_PLMN = re.compile(r"\d{5,6}")
_IMEI = re.compile(r"\d{15,16}")


class Refused(Exception):
    """A packet that gets no answer; ``reason`` is the counter it goes to."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Request:
    """An Access-Request or Accounting-Request, as the batch needs it."""

    kind: str  # "auth" or "acct"
    client_id: int
    #: The Request Authenticator (an Access-Request's is random: its identity).
    authenticator: bytes
    imsi: str = ""
    user_name: str = ""
    imei: str = ""
    apn: str = ""
    plmn: str = ""
    rat: str = ""
    session_id: str = ""
    framed_ip: str | None = None
    status: int = 0
    input_octets: int = 0
    output_octets: int = 0


def header(data: bytes) -> tuple[int, int, bytes] | None:
    """(code, identifier, authenticator) of a datagram long enough to be RADIUS."""
    if len(data) < 20:
        return None
    code, ident, length = struct.unpack_from("!BBH", data)
    if length < 20 or length > len(data):
        return None
    return code, ident, data[4:20]


def decode_access_request(data: bytes, secret: bytes, *, require_ma: bool) -> rp.AuthPacket:
    """The Access-Request if it is well-formed and signed as it must be."""
    try:
        packet = rp.AuthPacket(packet=data, secret=secret, dict=DICTIONARY)
    except (rp.PacketError, KeyError, ValueError, UnicodeDecodeError, TypeError) as exc:
        raise Refused("malformed") from exc
    if packet.message_authenticator:
        if not packet.verify_message_authenticator():
            raise Refused("bad_authenticator")
    elif require_ma:
        raise Refused("no_message_authenticator")
    return packet


def decode_accounting_request(data: bytes, secret: bytes) -> rp.AcctPacket:
    """The Accounting-Request if it is well-formed and its Request
    Authenticator (and Message-Authenticator, when present) proves the secret."""
    try:
        packet = rp.AcctPacket(packet=data, secret=secret, dict=DICTIONARY)
    except (rp.PacketError, KeyError, ValueError, UnicodeDecodeError, TypeError) as exc:
        raise Refused("malformed") from exc
    if not packet.VerifyAcctRequest():
        raise Refused("bad_authenticator")
    if packet.message_authenticator and not packet.verify_message_authenticator():
        raise Refused("bad_authenticator")
    return packet


def _raw(packet: rp.Packet, key) -> bytes | None:
    values = OrderedDict.get(packet, key)
    return values[0] if values else None


def _text(packet: rp.Packet, key) -> str:
    value = _raw(packet, key)
    return value.decode("utf-8", "replace").strip() if value else ""


def _integer(packet: rp.Packet, key) -> int:
    value = _raw(packet, key)
    return int.from_bytes(value, "big") if value and len(value) <= 8 else 0


def _identity(packet: rp.Packet, request: Request) -> None:
    """The endpoint (3GPP-IMSI, else a 14–15-digit User-Name), IMEI, APN and
    serving network. Anything not well-formed is left out; a missing IMSI is
    refused by the network contract like a JSON event without one."""
    request.user_name = _text(packet, USER_NAME)
    imsi = _text(packet, IMSI_3GPP)
    if not imsi and _DIGITS_14_15.fullmatch(request.user_name):
        imsi = request.user_name
    request.imsi = imsi
    imei = _text(packet, IMEISV_3GPP)
    request.imei = imei if _IMEI.fullmatch(imei) else ""
    request.apn = _text(packet, CALLED_STATION_ID)
    plmn = _text(packet, SGSN_MCC_MNC_3GPP)
    request.plmn = plmn if _PLMN.fullmatch(plmn) else ""
    rat = _raw(packet, RAT_TYPE_3GPP)
    request.rat = RAT_NAMES.get(rat[0], "") if rat and len(rat) == 1 else ""


def access_request(packet: rp.AuthPacket, client_id: int) -> Request:
    request = Request(kind="auth", client_id=client_id, authenticator=packet.authenticator)
    _identity(packet, request)
    request.session_id = _text(packet, ACCT_SESSION_ID)
    return request


def accounting_request(packet: rp.AcctPacket, client_id: int) -> Request:
    request = Request(kind="acct", client_id=client_id, authenticator=packet.authenticator)
    _identity(packet, request)
    request.status = _integer(packet, ACCT_STATUS_TYPE)
    request.session_id = _text(packet, ACCT_SESSION_ID)
    framed = _raw(packet, FRAMED_IP_ADDRESS)
    if framed and len(framed) == 4:
        request.framed_ip = str(ipaddress.IPv4Address(framed))
    request.input_octets = _integer(packet, ACCT_INPUT_GIGAWORDS) * GIGAWORD + _integer(
        packet, ACCT_INPUT_OCTETS
    )
    request.output_octets = _integer(packet, ACCT_OUTPUT_GIGAWORDS) * GIGAWORD + _integer(
        packet, ACCT_OUTPUT_OCTETS
    )
    return request


def access_accept(packet: rp.AuthPacket, *, ip: str | None, interim: int) -> bytes:
    reply = packet.CreateReply()
    reply.code = rp.AccessAccept
    if ip:
        reply["Framed-IP-Address"] = ip
    reply["Acct-Interim-Interval"] = interim
    reply.message_authenticator = True
    return reply.ReplyPacket()


def access_reject(packet: rp.AuthPacket, *, reason: str) -> bytes:
    reply = packet.CreateReply()
    reply.code = rp.AccessReject
    reply["Reply-Message"] = reason
    reply.message_authenticator = True
    return reply.ReplyPacket()


def accounting_response(packet: rp.AcctPacket) -> bytes:
    reply = packet.CreateReply()
    reply.message_authenticator = True
    return reply.ReplyPacket()
