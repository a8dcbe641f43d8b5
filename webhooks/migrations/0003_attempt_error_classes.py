"""Delivery attempts logged before errors were classified held free text, at
times the first bytes a receiver answered (a banner): each becomes its class
(webhooks/errors.py), or "unclassified" where the text does not say; a
disabled webhook's reason keeps "Last error: HTTP nnn" and loses any other
detail."""

from django.db import migrations

# The classes as they were when this migration was written (not imported: a
# migration must not change when the code does).
CLASSES = [
    "timeout",
    "dns_failure",
    "address_refused",
    "invalid_url",
    "connection_refused",
    "connection_failed",
    "connection_reset",
    "tls_error",
    "invalid_http_response",
    "too_large",
    "http_status",
    "redirect",
    "internal_error",
    "unclassified",
]

FORWARD = f"""
UPDATE webhooks_attempt SET error = CASE
    WHEN error LIKE 'HTTP ___: redirects are not followed' THEN 'redirect'
    WHEN error ~ '^HTTP [0-9]{{3}}$' THEN 'http_status'
    WHEN error LIKE 'No answer within %' THEN 'timeout'
    WHEN error = 'Connection refused' THEN 'connection_refused'
    WHEN error LIKE 'TLS error: %' THEN 'tls_error'
    WHEN error LIKE 'The host % cannot be resolved.' THEN 'dns_failure'
    WHEN error LIKE '% is or resolves to %: refused.' THEN 'address_refused'
    WHEN error = 'The URL must use https://.' THEN 'address_refused'
    ELSE 'unclassified' END
 WHERE error <> '' AND error <> ALL (ARRAY[{", ".join(f"'{c}'" for c in CLASSES)}]);
UPDATE webhooks_webhook
   SET disabled_reason = regexp_replace(
       disabled_reason, 'Last error: (?!HTTP [0-9]{{3}}$).*$', 'Last error: (no detail kept)')
 WHERE disabled_reason LIKE '%Last error: %';
"""


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0002_account_event_moved_to_events")]

    operations = [migrations.RunSQL(FORWARD, migrations.RunSQL.noop)]
