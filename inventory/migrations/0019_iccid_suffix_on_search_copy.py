"""The search by an ICCID's last digits reads the search copy
(``EndpointSearch``) instead of the endpoint row: the copy gets the ICCID and
the reversed ICCID's btree, and ``inventory_endpoint`` loses
``endpoint_iccid_rev``.

Why (docs/benchmark.md, "The ICCID's last digits moved to the search copy"):
every UPDATE of an endpoint that cannot be HOT (a state change, a network
event moving ``last_activity``) added an entry to that index, on a leaf page
of its own, since the reversed ICCID's order has nothing to do with the ids a
bulk job or a network batch walks in. The copy is written only when the ICCID
itself is, which is never after the INSERT (the admin keeps it read-only; the
trigger covers it anyway).

The copy's trigram indexes are dropped while the ICCIDs are filled in and
built again afterwards: updating every row with them in place would re-insert
each row's thirty-odd trigrams one by one. At a million endpoints the whole
migration took 22 s, during which the copy is locked: text searches and new
endpoints (whose trigger writes the copy) wait. Run it in a quiet moment.
"""

from django.contrib.postgres.indexes import OpClass
from django.db import migrations, models
from django.db.models.functions import Reverse

FILL = """
DROP INDEX endpointsearch_name_trgm;
DROP INDEX endpointsearch_reference_trgm;
UPDATE inventory_endpointsearch s SET iccid = e.iccid
  FROM inventory_endpoint e WHERE e.id = s.endpoint_id;
CREATE INDEX endpointsearch_name_trgm ON inventory_endpointsearch
    USING gin (upper((name)::text) gin_trgm_ops);
CREATE INDEX endpointsearch_reference_trgm ON inventory_endpointsearch
    USING gin (upper((reference)::text) gin_trgm_ops);
"""


def keep_copy_of(columns: tuple[str, ...]) -> str:
    """The copy's triggers (as 0004 made them) for ``columns``: its insert
    function, its update function, and the update trigger that fires only
    when one of them changes."""
    listed = ", ".join(columns)
    assigned = ", ".join(f"{column} = NEW.{column}" for column in columns)
    changed = " OR ".join(f"OLD.{column} IS DISTINCT FROM NEW.{column}" for column in columns)
    return f"""
CREATE OR REPLACE FUNCTION inventory_endpointsearch_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO inventory_endpointsearch (endpoint_id, {listed})
    SELECT id, {listed} FROM new_rows;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION inventory_endpointsearch_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE inventory_endpointsearch SET {assigned} WHERE endpoint_id = NEW.id;
    RETURN NULL;
END
$$;

DROP TRIGGER endpoint_search_update ON inventory_endpoint;
CREATE TRIGGER endpoint_search_update AFTER UPDATE OF {listed}
    ON inventory_endpoint FOR EACH ROW WHEN ({changed})
    EXECUTE FUNCTION inventory_endpointsearch_update();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0018_log_rows_without_constraints"),
    ]

    operations = [
        # A constant default: the column is added without rewriting the table,
        # then filled below; Django drops the default again.
        migrations.AddField(
            model_name="endpointsearch",
            name="iccid",
            field=models.CharField(
                db_collation="C", default="", max_length=20, verbose_name="ICCID"
            ),
            preserve_default=False,
        ),
        # Back: 0004's triggers (the column goes with the AddField).
        migrations.RunSQL(
            FILL + keep_copy_of(("name", "reference", "iccid")),
            keep_copy_of(("name", "reference")),
        ),
        migrations.AddIndex(
            model_name="endpointsearch",
            index=models.Index(
                OpClass(Reverse("iccid"), name="text_pattern_ops"),
                name="endpointsearch_iccid_rev",
            ),
        ),
        migrations.RemoveIndex(
            model_name="endpoint",
            name="endpoint_iccid_rev",
        ),
    ]
