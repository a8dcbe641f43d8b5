"""CSV export of the endpoint list: every matching row in the list's order, the
IMSIs of each, formula neutralising, and account scoping."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from inventory.models import State
from tests.factories import EndpointFactory, GroupFactory, IMSIFactory

URL = reverse("inventory:endpoint_export")


def read(response) -> list[dict]:
    assert response.streaming
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
def op_client(client, viewer):
    client.force_login(viewer)  # reading is enough to export
    return client


def test_anonymous_goes_to_login(client, account):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_columns_and_values(op_client, account, group):
    seen = timezone.now() - dt.timedelta(days=1)
    endpoint = EndpointFactory(
        account=account,
        primary_group=group,
        state=State.IDLE,
        name="Van 7",
        reference="PO-1",
        tags=["fleet-eu", "test"],
        last_activity=seen,
        imsis=0,
    )
    IMSIFactory(endpoint=endpoint, imsi="234150000000002")
    IMSIFactory(endpoint=endpoint, imsi="234150000000001")
    response = op_client.get(URL)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f'filename="endpoints-{account.slug}-' in response["Content-Disposition"]
    assert read(response) == [
        {
            "iccid": endpoint.iccid,
            "imsis": "234150000000001 234150000000002",
            "name": "Van 7",
            "state": "idle",
            "group": group.name,
            "last_activity": seen.isoformat(),
            "reference": "PO-1",
            "tags": "fleet-eu test",
        }
    ]


def test_all_matching_rows_not_just_a_page_in_list_order(op_client, account, group):
    rows = [
        EndpointFactory(account=account, primary_group=group, state=State.ACTIVE, imsis=0)
        for _ in range(60)
    ]
    EndpointFactory(account=account, imsis=0)  # pending: filtered out
    response = op_client.get(URL, {"state": "active", "sort": "-iccid", "per_page": 25})
    assert [r["iccid"] for r in read(response)] == sorted((e.iccid for e in rows), reverse=True)


def test_other_accounts_rows_never_exported(op_client, account, other_account):
    mine = EndpointFactory(account=account)
    theirs = EndpointFactory(account=other_account)
    exported = [r["iccid"] for r in read(op_client.get(URL))]
    assert exported == [mine.iccid]
    assert theirs.iccid not in exported


def test_other_accounts_group_filter_is_refused(op_client, account, other_account):
    foreign = GroupFactory(account=other_account)
    EndpointFactory(account=other_account, primary_group=foreign, state=State.ACTIVE)
    response = op_client.get(URL, {"group": foreign.pk})
    assert response.status_code == 303
    followed = op_client.get(response["Location"])
    assert "That group is not one of this account" in followed.content.decode()


@pytest.mark.parametrize(
    "value",
    ['=HYPERLINK("http://x")', "+1+2", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"],
)
def test_formula_cells_are_neutralised(op_client, account, value):
    EndpointFactory(account=account, name=value, reference=value)
    row = read(op_client.get(URL))[0]
    assert row["name"] == f"'{value}"
    assert row["reference"] == f"'{value}"


def test_tag_starting_with_dash_is_neutralised_and_plain_text_is_not(op_client, account):
    EndpointFactory(account=account, name="plain = text", tags=["-x"])
    row = read(op_client.get(URL))[0]
    assert row["name"] == "plain = text"
    assert row["tags"] == "'-x"


def test_queries_do_not_grow_with_rows_or_imsis(op_client, account):
    EndpointFactory.create_batch(30, account=account, imsis=2)
    with CaptureQueriesContext(connection) as ctx:
        rows = read(op_client.get(URL))
    assert len(rows) == 30
    assert all(len(r["imsis"].split()) == 2 for r in rows)
    # session, user, membership, groups, and the one streamed SELECT
    assert len(ctx.captured_queries) <= 5
