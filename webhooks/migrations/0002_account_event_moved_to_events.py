"""AccountEvent now belongs to the ``events`` app (events 0001): taken out of
this app's state, and the delivery log's foreign key points at it there. The
database does not change (same table, same foreign key constraint). The
model's content type follows it, so its admin permissions stay granted."""

import django.db.models.deletion
from django.db import migrations, models


def content_type_to(app_label: str):
    def move(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        ContentType.objects.filter(
            app_label="events" if app_label == "webhooks" else "webhooks",
            model="accountevent",
        ).update(app_label=app_label)

    return move


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("events", "0001_initial"),
        ("webhooks", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name="attempt",
                    name="event",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="attempts",
                        to="events.accountevent",
                    ),
                ),
                migrations.DeleteModel(name="AccountEvent"),
            ],
        ),
        migrations.RunPython(content_type_to("events"), content_type_to("webhooks")),
    ]
