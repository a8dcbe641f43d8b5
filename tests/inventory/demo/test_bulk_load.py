"""demo/bulk_load.py: a seed into empty tables builds their indexes and
foreign keys after the rows are in; the schema ends as it began, and a row that
breaks a constraint still fails the load."""

import pytest
from django.db import connection, transaction
from django.db.utils import IntegrityError

from demo import seed as demo_data
from demo.bulk_load import indexes_after_load
from inventory.models import Endpoint

pytestmark = pytest.mark.django_db(transaction=True)

_TABLES = demo_data._LOADED


def _schema() -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index"
            " WHERE indrelid = ANY(%s::regclass[])",
            [_TABLES],
        )
        indexes = set(cursor.fetchall())
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = ANY(%s::regclass[])",
            [_TABLES],
        )
        return indexes | set(cursor.fetchall())


def test_a_seed_into_empty_tables_leaves_every_index_and_constraint_as_it_was():
    before = _schema()
    assert any("endpointsearch_name_trgm" in name for name, _ in before)
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        indexes_after_load(cursor, _TABLES) as deferred,
    ):
        assert deferred
        # Mid-load, only the primary keys are left.
        assert not any("endpoint_acct_state" in name for name, _ in _schema())
    assert _schema() == before
    demo_data.seed(endpoints=60)
    assert _schema() == before
    assert Endpoint.objects.count() == 60


def test_a_top_up_keeps_the_indexes():
    demo_data.seed(endpoints=20)
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        indexes_after_load(cursor, _TABLES) as deferred,
    ):
        assert not deferred
        assert any("endpoint_acct_state" in name for name, _ in _schema())


def test_a_row_breaking_a_constraint_fails_the_load_when_it_is_rebuilt():
    demo_data.seed(endpoints=0)  # the accounts only
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM portal_account ORDER BY id LIMIT 1")
        (account_id,) = cursor.fetchone()
    before = _schema()
    table = connection.ops.quote_name(Endpoint._meta.db_table)
    with (
        pytest.raises(IntegrityError, match="endpoint_iccid_unique"),
        transaction.atomic(),
        connection.cursor() as cursor,
        indexes_after_load(cursor, _TABLES),
    ):
        for pk in (1, 2):  # the same ICCID twice
            cursor.execute(
                f"INSERT INTO {table} (id, account_id, iccid, name, reference, tags, state,"
                " imei_lock_enabled, imei, state_changed_at, created_at)"
                " VALUES (%s, %s, '8931440000000000017', '', '', '{}', 'pending', false,"
                " '', now(), now())",
                [pk, account_id],
            )
    assert _schema() == before
    assert not Endpoint.objects.exists()
