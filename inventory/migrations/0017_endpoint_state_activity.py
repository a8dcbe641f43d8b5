"""A state filter sorted by last activity reads one index range per segment
(rows with activity, then never active ones) along (account, state,
last_activity DESC NULLS LAST, iccid), instead of walking
``endpoint_acct_activity`` past every other state's rows: pending SIMs, never
active, sorted by activity took 2.2 s at a million endpoints, terminated ones
0.9 s (docs/benchmark.md, "Slow reads fixed"). Built concurrently, as 0011:
a plain CREATE INDEX would block every write for seconds."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("inventory", "0016_history_action_choices"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="endpoint",
            index=models.Index(
                models.F("account"),
                models.F("state"),
                models.OrderBy(models.F("last_activity"), descending=True, nulls_last=True),
                models.F("iccid"),
                name="endpoint_acct_state_activity",
            ),
        ),
    ]
