"""The (primary group, state) index gains the ICCID, so a list page filtered by
both is one index range in the default order (even when nothing matches), and
carries the account and the tags, so the bounded count of a group + state
(+ tag) filter reads only the index (docs/benchmark.md, "Issue #26"). Built and dropped
concurrently: the endpoint table holds a million rows in production-sized
installs, and a plain CREATE INDEX would block every write for seconds."""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("inventory", "0010_history_actions_merged"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="endpoint",
            index=models.Index(
                models.F("primary_group"),
                models.F("state"),
                models.F("iccid"),
                include=["account", "tags"],
                name="endpoint_group_state_tags",
            ),
        ),
        RemoveIndexConcurrently(
            model_name="endpoint",
            name="endpoint_group_state",
        ),
    ]
