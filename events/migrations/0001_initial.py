"""AccountEvent moves here from ``webhooks`` without moving a row: the model
keeps its table (``webhooks_accountevent``, set in ``Meta.db_table``), its
indexes and constraints; this migration only tells Django's state, and
``webhooks`` 0002 takes the model out of its own state. Nothing runs in the
database, so it takes no time on a million events."""

import django.db.models.deletion
import django.db.models.functions.comparison
import django.db.models.functions.math
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("portal", "0001_initial"),
        # The table was created there; on a fresh database it must exist first.
        ("webhooks", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="AccountEvent",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        (
                            "type",
                            models.CharField(
                                choices=[
                                    ("endpoint.state_changed", "Endpoint state changed"),
                                    ("endpoint.updated", "Endpoint updated"),
                                    ("endpoint.session_started", "Data session started"),
                                    ("endpoint.session_ended", "Data session ended"),
                                    ("endpoint.session_rejected", "Data session rejected"),
                                    ("endpoint.usage_warning", "Usage warning"),
                                    ("endpoint.key_values_changed", "Key values changed"),
                                    ("job.finished", "Bulk job finished"),
                                    ("webhook.test", "Test event"),
                                ],
                                max_length=40,
                            ),
                        ),
                        ("endpoint_id", models.BigIntegerField(blank=True, null=True)),
                        ("payload", models.JSONField()),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("seq", models.BigIntegerField(blank=True, null=True)),
                        (
                            "lane",
                            models.GeneratedField(
                                db_persist=True,
                                expression=django.db.models.functions.comparison.Cast(
                                    django.db.models.functions.math.Mod(
                                        django.db.models.functions.comparison.Coalesce(
                                            "endpoint_id", 0
                                        ),
                                        16,
                                    ),
                                    models.SmallIntegerField(),
                                ),
                                output_field=models.SmallIntegerField(),
                            ),
                        ),
                        (
                            "account",
                            models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.CASCADE,
                                to="portal.account",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "webhooks_accountevent",
                        "indexes": [
                            models.Index(
                                fields=["account", "lane", "seq"], name="accountevent_lane_seq"
                            ),
                            models.Index(
                                condition=models.Q(("seq__isnull", True)),
                                fields=["account", "id"],
                                name="accountevent_unsequenced",
                            ),
                            models.Index(fields=["created_at"], name="accountevent_created"),
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("account", "seq"), name="accountevent_unique_seq"
                            ),
                            models.CheckConstraint(
                                condition=models.Q(
                                    (
                                        "type__in",
                                        [
                                            "endpoint.state_changed",
                                            "endpoint.updated",
                                            "endpoint.session_started",
                                            "endpoint.session_ended",
                                            "endpoint.session_rejected",
                                            "endpoint.usage_warning",
                                            "endpoint.key_values_changed",
                                            "job.finished",
                                            "webhook.test",
                                        ],
                                    )
                                ),
                                name="accountevent_type_valid",
                            ),
                        ],
                    },
                ),
            ],
        ),
    ]
