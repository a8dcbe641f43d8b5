"""Which NAS a packet comes from: the RADIUS clients, held in memory by the
server and matched by source address (the most specific network wins).

Reloaded from the database every ``RELOAD_SECONDS`` (and at start), so that a
client added or disabled in the admin takes effect without a restart. A client
whose secret cannot be decrypted (a changed key) is left out and logged.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from network.models import RadiusClient
from network.radius.secrets import SecretUnreadable

log = logging.getLogger(__name__)

RELOAD_SECONDS = 10.0


@dataclass(frozen=True)
class Client:
    id: int
    name: str
    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    secret: bytes
    coa_port: int
    require_message_authenticator: bool


def load() -> list[Client]:
    """The enabled clients, most specific network first."""
    clients = []
    for row in RadiusClient.objects.filter(enabled=True).order_by("id"):
        try:
            secret = row.secret
        except SecretUnreadable:
            log.warning("RADIUS client %s left out: its secret cannot be decrypted", row.name)
            continue
        clients.append(
            Client(
                id=row.pk,
                name=row.name,
                network=ipaddress.ip_network(row.address),
                secret=secret,
                coa_port=row.coa_port,
                require_message_authenticator=row.require_message_authenticator,
            )
        )
    clients.sort(key=lambda client: -client.network.prefixlen)
    return clients


class ClientTable:
    """Source address → client, with a cache of the addresses already seen."""

    def __init__(self, clients: list[Client]):
        self.replace(clients)

    def replace(self, clients: list[Client]) -> None:
        self._clients = clients
        self._by_address: dict[str, Client | None] = {}

    def match(self, address: str) -> Client | None:
        try:
            return self._by_address[address]
        except KeyError:
            pass
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        found = next((c for c in self._clients if ip in c.network), None)
        if len(self._by_address) < 100_000:
            self._by_address[address] = found
        return found
