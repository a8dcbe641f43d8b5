from django.db import migrations


class Migration(migrations.Migration):
    # Events written before this change wait unnumbered (seq IS NULL) whether
    # or not a webhook wants them. Those no enabled webhook of their account
    # wants are settled as new ones are written (seq = 0): out of the
    # sequencer's partial index, never delivered, still in the event log.
    dependencies = [
        ("events", "0003_event_log_cheaper_writes"),
        ("webhooks", "0004_event_type_choices"),
    ]

    operations = [
        migrations.RunSQL(
            """
            UPDATE webhooks_accountevent e SET seq = 0
             WHERE e.seq IS NULL
               AND NOT EXISTS (SELECT 1 FROM webhooks_webhook w
                                WHERE w.account_id = e.account_id AND w.enabled
                                  AND e.type = ANY(w.event_types))
            """,
            reverse_sql=migrations.RunSQL.noop,
        )
    ]
