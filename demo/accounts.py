"""Who and what the demo is made of: two accounts with their VSlices and
groups, and users of every role.

These go through the ORM (a handful of rows); a rerun reuses what exists and
resets every demo user's password. VSlices are sized for the run: at large sizes
a VSlice gets a wider prefix than /16 so that every in-service endpoint can have
its address.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from inventory.models import Group, VSlice
from portal.models import Account, Member, Role

DEFAULT_PASSWORD = "demo-portal-2026"

#: Of the endpoints with a primary group, about 10 % of the whole fleet.
SECONDARY_SHARE = 0.12


@dataclass(frozen=True)
class GroupSpec:
    name: str
    apn: str
    vslice: str
    share: float  # share of the account's endpoints with this primary group
    #: Operator policy (docs/connectivity.md): mode, countries, PLMNs.
    policy: tuple[str, tuple[str, ...], tuple[str, ...]] = ("any", (), ())


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
            GroupSpec("vantiq-connect-eu", "vantiq.eu", "vantiq-eu", 0.62, ("block", ("CN",), ())),
            GroupSpec(
                "vantiq-connect-us",
                "vantiq.us",
                "vantiq-us",
                0.30,
                ("allow", ("CA", "MX", "US"), ()),
            ),
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
class AccountContext:
    """An account as the fleet generator needs it: its groups by weight and the
    users its history names."""

    account: Account
    spec: AccountSpec
    primary: list[Group]
    primary_weights: list[float]
    secondary: Group
    operator: object
    admin: object


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
            defaults={
                "vslice": existing[group.vslice],
                "apn": group.apn,
                "operator_policy": group.policy[0],
                "policy_countries": list(group.policy[1]),
                "policy_plmns": list(group.policy[2]),
            },
        )
    return groups


def prepare(endpoints: int, password: str) -> tuple[list[AccountContext], list[Group]]:
    """Accounts, users and groups for a fleet of ``endpoints``; the groups come
    with their VSlices loaded."""
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
            AccountContext(
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
