"""The brute-force limits beyond one user or token (docs/activation.md): tokens
are free to mint, so the failures of all users and tokens of one account are
counted together, and so are the failures from one client address across
accounts. Reaching either blocks for an hour, with a 429 (API) or the page's
message, and one audit row saying which limit."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from api.tokens import create_token
from audit.models import AuditAction, AuditEvent
from inventory import activation_codes
from inventory.activation import ACCOUNT_MAX_FAILURES, ADDRESS_MAX_FAILURES, MAX_FAILURES
from inventory.models import ActivationBlock, ActivationFailure, Endpoint, StockSim
from portal.models import Role
from tests.factories import AccountFactory, MemberFactory, iccid_for, imsi_for

pytestmark = pytest.mark.django_db

CODE = "ABCD-EFGH-2345"


@pytest.fixture
def sim() -> StockSim:
    return StockSim.objects.create(
        iccid=iccid_for(900_001),
        imsis=[imsi_for(900_001)],
        code_hash=activation_codes.make_hash(activation_codes.clean_code(CODE)),
    )


def token_client(account, name: str) -> Client:
    plain = create_token(
        account=account, name=name, role=Role.OPERATOR, created_by=None, creator_role=None
    )[1]
    return Client(headers={"Authorization": f"Bearer {plain}"})


def attempt(client: Client, sim: StockSim, code: str, ip: str):
    return client.post(
        "/api/v1/activations",
        {"iccid": sim.iccid, "activation_code": code},
        content_type="application/json",
        REMOTE_ADDR=ip,
    )


def blocked_rows(account) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            account=account, action=AuditAction.ACTIVATION, details__result="blocked"
        )
    )


def test_several_tokens_of_one_account_share_the_accounts_limit(account, sim):
    # Each token stays under its own limit, each from its own address.
    per_token = MAX_FAILURES - 1
    tokens = -(-ACCOUNT_MAX_FAILURES // per_token)
    failures = 0
    for n in range(tokens):
        client = token_client(account, f"minted-{n}")
        for m in range(per_token):
            if failures == ACCOUNT_MAX_FAILURES:
                break
            response = attempt(client, sim, f"WRONGCODE{n}X{m}", f"192.0.2.{n + 1}")
            failures += 1
            assert response.status_code == 422, response.content
    assert "in this account" in response.json()["detail"]

    fresh = token_client(account, "fresh")
    response = attempt(fresh, sim, CODE, "198.51.100.9")

    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert "in this account" in response.json()["detail"]
    assert 3500 < int(response["Retry-After"]) <= 3600
    assert not Endpoint.objects.exists()
    assert ActivationBlock.objects.filter(who=f"account:{account.pk}").count() == 1
    [row] = blocked_rows(account)
    assert row.details["blocked"] == "account"
    # Another account is not blocked by this one's failures.
    other = AccountFactory(slug="elsewhere")
    assert (
        attempt(token_client(other, "theirs"), sim, "WRONGCODE99", "203.0.113.1").status_code == 422
    )


def test_several_accounts_from_one_address_share_the_addresss_limit(sim, client):
    ip = "192.0.2.50"
    accounts = [AccountFactory(slug=f"acct{n}") for n in range(3)]
    per_account = MAX_FAILURES - 1
    failures = 0
    for account in accounts:
        user = MemberFactory(account=account, role=Role.OPERATOR).user
        browser = Client(REMOTE_ADDR=ip)
        browser.force_login(user)
        for m in range(per_account):
            if failures == ADDRESS_MAX_FAILURES:
                break
            response = browser.post(
                reverse("inventory:activate"), {"iccid": sim.iccid, "code": f"WRONGCODE{m}"}
            )
            failures += 1
            assert response.status_code == 200
    assert "from your network address" in response.content.decode()
    assert ActivationFailure.objects.filter(ip=ip).count() == ADDRESS_MAX_FAILURES

    newcomer_account = AccountFactory(slug="newcomer")
    newcomer = MemberFactory(account=newcomer_account, role=Role.OPERATOR).user
    browser = Client(REMOTE_ADDR=ip)
    browser.force_login(newcomer)
    page = browser.get(reverse("inventory:activate")).content.decode()
    assert "Too many failed activations from your network address" in page
    response = browser.post(reverse("inventory:activate"), {"iccid": sim.iccid, "code": CODE})
    assert "Too many failed activations from your network address" in response.content.decode()
    assert not Endpoint.objects.exists()
    # The same code from another address works: only the address is blocked.
    elsewhere = Client(REMOTE_ADDR="198.51.100.77")
    elsewhere.force_login(newcomer)
    assert (
        elsewhere.post(
            reverse("inventory:activate"), {"iccid": sim.iccid, "code": CODE}
        ).status_code
        == 302
    )
    [row] = [r for a in accounts for r in blocked_rows(a)]
    assert row.details["blocked"] == "ip" and row.ip == ip
