import django.utils.timezone
from django.db import migrations, models

# A membership that exists already began at its last "member_joined" audit
# row (an accepted invitation names the user as actor; one added in Django
# admin says "by": "support" and names the username as target); one without
# such a row (made before the audit log, by seed_demo or a shell) is taken to
# have begun with its account, so that no admin loses a row they could read
# before.
BACKFILL = """
UPDATE portal_member AS m
   SET joined_at = COALESCE(
       (SELECT max(e.created_at)
          FROM audit_auditevent AS e
          JOIN auth_user AS u ON u.id = m.user_id
         WHERE e.account_id = m.account_id
           AND e.action = 'member_joined'
           AND CASE WHEN e.details ? 'by' THEN e.target = u.username
                    ELSE e.actor_id = m.user_id END),
       a.created_at)
  FROM portal_account AS a
 WHERE a.id = m.account_id
"""


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0002_two_factor"),
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="member",
            name="joined_at",
            field=models.DateTimeField(default=django.utils.timezone.now, editable=False),
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
    ]
