"""Account → API tokens lists every token of the account, 50 a page, newest
first, filtered by role, creator and last use; every page and filter is a link,
a bad filter is a message, another account's tokens and creators never show."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from api.models import ApiToken
from api.views import PAGE_SIZE
from portal.models import Role
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

PAGE = reverse("api_tokens:token_list")


def tokens(account, n: int, *, role=Role.VIEWER, creator="adm", prefix="t", **fields):
    """``n`` tokens, the first the oldest (one minute apart)."""
    start = timezone.now() - timedelta(days=1)
    ApiToken.objects.bulk_create(
        ApiToken(
            account=account,
            name=f"{prefix}-{i:04d}",
            role=role,
            token_hash=f"{prefix}{account.pk}{i:060d}"[-64:],
            prefix="epk_x",
            created_by_label=creator,
            created_at=start + timedelta(minutes=i),
            **fields,
        )
        for i in range(n)
    )


def names(response) -> list[str]:
    return re.findall(r'<th scope="row">([^<]+)', response.content.decode())


@pytest.fixture
def admin_client(client, admin_member):
    client.force_login(admin_member)
    return client


def test_every_token_is_reachable_page_by_page(admin_client, account):
    tokens(account, 2 * PAGE_SIZE + 20)

    first = admin_client.get(PAGE)
    seen = names(first)
    assert len(seen) == PAGE_SIZE and seen[0] == "t-0119"
    assert "1–50 of 120 tokens" in first.content.decode()
    response = first
    while older := re.search(r'href="(\?[^"]*page=\d+)" rel="next"', response.content.decode()):
        response = admin_client.get(PAGE + older.group(1).replace("&amp;", "&"))
        seen += names(response)

    assert seen == [f"t-{i:04d}" for i in reversed(range(120))]  # the oldest too, once each
    assert "Page 3 of 3" in response.content.decode()


def test_filters_by_role_creator_and_last_use(admin_client, account):
    now = timezone.now()
    tokens(account, 3, role=Role.ADMIN, creator="alice", prefix="adm")
    tokens(account, 2, creator="bob", prefix="never")
    tokens(account, 2, creator="bob", prefix="fresh", last_used_at=now - timedelta(days=1))
    tokens(account, 2, creator="bob", prefix="stale", last_used_at=now - timedelta(days=90))

    def listed(**params):
        response = admin_client.get(PAGE, params)
        assert response.status_code == 200
        return sorted({n.split("-")[0] for n in names(response)})

    assert listed(role="admin") == ["adm"]
    assert listed(creator="bob") == ["fresh", "never", "stale"]
    assert listed(creator="bob", used="never") == ["never"]
    assert listed(used="recent") == ["fresh"]
    assert listed(used="stale") == ["stale"]
    assert listed(used="stale", days=100) == []
    assert listed(used="recent", days=100) == ["fresh", "stale"]
    assert listed(role="operator") == []
    # The filters are kept in the page links.
    tokens(account, PAGE_SIZE + 1, creator="carol", prefix="many")
    page = admin_client.get(PAGE, {"creator": "carol"}).content.decode()
    assert 'href="?creator=carol&amp;page=2"' in page


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"role": "owner"}, "Select a valid choice"),
        ({"used": "yesterday"}, "Select a valid choice"),
        ({"days": "0"}, "greater than or equal to 1"),
        ({"days": "x"}, "Enter a whole number"),
        ({"page": "-1"}, "greater than or equal to 1"),
        ({"creator": "nobody"}, "Select a valid choice"),
    ],
)
def test_bad_filters_are_explained(admin_client, account, params, message):
    tokens(account, 2)
    response = admin_client.get(PAGE, params)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert names(response) == []


def test_a_page_past_the_last_shows_the_last(admin_client, account):
    tokens(account, PAGE_SIZE + 5)
    response = admin_client.get(PAGE, {"page": "99"})
    assert names(response)[-1] == "t-0000"


def test_another_accounts_tokens_and_creators_never_show(admin_client, account, other_account):
    tokens(account, 2, creator="adm")
    tokens(other_account, 3, creator="nw-secret-creator", prefix="theirs")

    page = admin_client.get(PAGE).content.decode()
    filtered = admin_client.get(PAGE, {"creator": "nw-secret-creator"})

    assert "theirs-" not in page and "nw-secret-creator" not in page
    assert "Select a valid choice" in filtered.content.decode()
    assert "theirs-" not in filtered.content.decode()


def test_queries_do_not_grow_with_the_tokens(admin_client, account, django_assert_max_num_queries):
    tokens(account, 3 * PAGE_SIZE)
    MemberFactory(account=account, role=Role.ADMIN)
    with django_assert_max_num_queries(12):
        response = admin_client.get(PAGE, {"role": "viewer", "used": "never", "page": "2"})
    assert len(names(response)) == PAGE_SIZE
