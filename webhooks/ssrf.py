"""Which webhook URLs may be called: no server-side request forgery
(docs/webhooks.md "Where deliveries may go").

A URL is checked when it is saved and again every time a delivery opens a
connection (DNS can change): its host is resolved, every address it resolves to
must be public (not loopback, private, link-local, shared, reserved, multicast,
unspecified, nor an IPv4 address hidden in an IPv6 one), and the connection is
then made to the checked address itself, never to the name resolved again.
Plain http is refused. Networks listed in ``WEBHOOK_ALLOWED_NETWORKS`` are the
exception: an address there is accepted, over http too.

Decimal, octal and hexadecimal spellings of an address ("2130706433",
"0177.0.0.1", "0x7f.1") are what the system resolver makes of them, so they are
checked as the address they mean. Python's ``ipaddress`` still counts a few
networks as global that are not (``NOT_PUBLIC``); they are refused by name.

``normalise`` is the one spelling of a URL that is saved and called: the portal's
form and the API both reach it through ``webhooks.services``, so what one
accepts the other accepts, and ``check`` normalises again before it connects
(a URL saved before normalisation existed is called in its normalised form).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, urlsplit

import idna
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURL(ValueError):
    """A URL a webhook may not call; the message says why, for the user.
    ``kind`` is the delivery log's class of it (``webhooks.errors``):
    ``invalid_url``, ``dns_failure`` or ``address_refused``."""

    def __init__(self, message: str, kind: str = "invalid_url"):
        super().__init__(message)
        self.kind = kind


#: The longest URL stored (``Webhook.url``), counted after normalisation.
MAX_LENGTH = 2000

#: Networks ``ipaddress`` (Python 3.11) takes for global that are not.
NOT_PUBLIC = (
    (ipaddress.ip_network("fec0::/10"), "a site-local address"),  # deprecated, RFC 3879
    (ipaddress.ip_network("3fff::/20"), "a documentation address"),  # RFC 9637
)

# What may stand unencoded in a path or query (RFC 3986 pchar, "/" and "?");
# "%" stays when it starts an escape ("%41"), a stray one becomes "%25".
_PATH_SAFE = "/!$&'()*+,;=:@-._~%"
_QUERY_SAFE = _PATH_SAFE + "?"
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _encode(part: str, safe: str) -> str:
    return quote(_STRAY_PERCENT.sub("%25", part), safe=safe, encoding="utf-8")


def _ascii_host(host: str) -> str:
    """The host as DNS and the Host header spell it: an IDNA A-label name, or
    the address literal as it was given."""
    if ":" in host or host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise UnsafeURL("The host name is not valid.") from exc


def normalise(url: str) -> str:
    """The one spelling of ``url`` that is saved and called, or ``UnsafeURL``
    saying why it cannot be: surrounding whitespace removed; no whitespace or
    control character inside; http(s) with a host, no user name or password,
    a port from 1 to 65535; the host in IDNA (lower case), the path, query and
    fragment percent-encoded as UTF-8. Normalising a normalised URL changes
    nothing."""
    value = url.strip()
    if _CONTROL.search(value) or any(ch.isspace() for ch in value):
        raise UnsafeURL("The URL may not contain spaces or control characters.")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL("The URL is not valid.") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeURL("The URL must start with https:// and name a host.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("The URL may not contain a user name or password.")
    if port == 0:
        raise UnsafeURL("The port must be from 1 to 65535.")
    host = _ascii_host(parts.hostname)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    normal = f"{scheme}://{netloc}{_encode(parts.path, _PATH_SAFE)}"
    if parts.query:
        normal += "?" + _encode(parts.query, _QUERY_SAFE)
    if parts.fragment:
        normal += "#" + _encode(parts.fragment, _QUERY_SAFE)
    if len(normal) > MAX_LENGTH:
        raise UnsafeURL(f"The URL is too long once encoded (at most {MAX_LENGTH:,} characters).")
    return normal


@dataclass(frozen=True)
class Target:
    """A checked URL: connect to ``address``, send ``Host: host``."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


@lru_cache(maxsize=8)
def _networks(setting: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(
        ipaddress.ip_network(item.strip(), strict=False)
        for item in setting.split(",")
        if item.strip()
    )


def allowed_networks() -> tuple:
    return _networks(getattr(settings, "WEBHOOK_ALLOWED_NETWORKS", "") or "")


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64)."""
    if address.version != 6:
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in ipaddress.ip_network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: IPAddress) -> str:
    """Why ``address`` may not be called ("" when it may)."""
    if any(address in network for network in allowed_networks()):
        return ""
    inner = _embedded_ipv4(address)
    if inner is not None:
        return f"{address}, which carries {refusal(inner)}" if refusal(inner) else ""
    if address.is_loopback:
        return f"{address}, a loopback address"
    if address.is_link_local:
        return f"{address}, a link-local address"
    if address.is_private:
        return f"{address}, a private address"
    if address.is_multicast:
        return f"{address}, a multicast address"
    for network, name in NOT_PUBLIC:
        if address in network:
            return f"{address}, {name}"
    if address.is_unspecified or address.is_reserved or not address.is_global:
        return f"{address}, not a public address"
    return ""


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an address literal is itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise UnsafeURL(f"The host {host} cannot be resolved.", "dns_failure") from exc
    addresses = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeURL(f"The host {host} cannot be resolved.", "dns_failure")
    return addresses


def check(url: str) -> Target:
    """The URL's checked target, or ``UnsafeURL`` saying why it is refused."""
    parts = urlsplit(normalise(url))
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(host, port)
    allowed = allowed_networks()
    for address in addresses:
        reason = refusal(address)
        if reason:
            raise UnsafeURL(f"{host} is or resolves to {reason}: refused.", "address_refused")
    if parts.scheme != "https" and not all(
        any(address in network for network in allowed) for address in addresses
    ):
        raise UnsafeURL("The URL must use https://.", "address_refused")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme=parts.scheme, host=host, port=port, path=path, address=str(addresses[0]))
