from django.db import migrations

# Exact endpoint counts per (account, state, primary group), kept by statement
# triggers with transition tables, as the address blocks are (inventory 0003):
# whatever writes inventory_endpoint (lifecycle, network batches, imports by
# COPY, purges, cascades, the admin) moves the counts in the same transaction,
# with one aggregate per statement. Old rows count -1 and new rows +1, so an
# UPDATE that moves neither state nor group nets to zero and writes nothing.
# One ordered upsert: writers lock count rows in key order and cannot
# deadlock on them.
KEEP_COUNTS = """
CREATE FUNCTION usage_count_endpoints() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO usage_statecount (account_id, state, group_id, count)
        SELECT account_id, state, primary_group_id, count(*)
          FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (account_id, state, group_id)
        DO UPDATE SET count = usage_statecount.count + EXCLUDED.count;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO usage_statecount (account_id, state, group_id, count)
        SELECT account_id, state, primary_group_id, -count(*)
          FROM old_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (account_id, state, group_id)
        DO UPDATE SET count = usage_statecount.count + EXCLUDED.count;
    ELSE
        INSERT INTO usage_statecount (account_id, state, group_id, count)
        SELECT account_id, state, group_id, sum(n)
          FROM (SELECT account_id, state, primary_group_id AS group_id, -count(*) AS n
                  FROM old_rows GROUP BY 1, 2, 3
                UNION ALL
                SELECT account_id, state, primary_group_id, count(*)
                  FROM new_rows GROUP BY 1, 2, 3) AS moves
         GROUP BY 1, 2, 3
        HAVING sum(n) <> 0
         ORDER BY 1, 2, 3
        ON CONFLICT (account_id, state, group_id)
        DO UPDATE SET count = usage_statecount.count + EXCLUDED.count;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER endpoint_counts_insert AFTER INSERT ON inventory_endpoint
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_count_endpoints();
CREATE TRIGGER endpoint_counts_delete AFTER DELETE ON inventory_endpoint
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_count_endpoints();
CREATE TRIGGER endpoint_counts_update AFTER UPDATE ON inventory_endpoint
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION usage_count_endpoints();

INSERT INTO usage_statecount (account_id, state, group_id, count)
SELECT account_id, state, primary_group_id, count(*)
  FROM inventory_endpoint GROUP BY 1, 2, 3;
"""

STOP_COUNTS = """
DROP TRIGGER endpoint_counts_insert ON inventory_endpoint;
DROP TRIGGER endpoint_counts_delete ON inventory_endpoint;
DROP TRIGGER endpoint_counts_update ON inventory_endpoint;
DROP FUNCTION usage_count_endpoints();
DELETE FROM usage_statecount;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("usage", "0001_initial"),
        ("inventory", "0009_usage_groups_events"),
    ]

    operations = [migrations.RunSQL(KEEP_COUNTS, STOP_COUNTS)]
