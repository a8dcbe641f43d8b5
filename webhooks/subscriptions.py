"""Which account events the webhooks want, and waking their delivery: the
subscriber ``events.outbox`` is told about (``ACCOUNT_EVENT_SUBSCRIBERS``).

The outbox sits below every feature app and does not import this module; it
reads the setting. So the rules that write events never import ``webhooks``.
"""

from __future__ import annotations

from django.db import connection

from webhooks.models import Webhook

WEBHOOKS = connection.ops.quote_name(Webhook._meta.db_table)


def wants(account: str, type_: str) -> str:
    """SQL: does the account (an SQL expression) have an enabled webhook that
    wants events of ``type_`` (an SQL expression)?"""
    return (
        f"EXISTS (SELECT 1 FROM {WEBHOOKS} w WHERE w.account_id = {account} "
        f"AND w.enabled AND {type_} = ANY(w.event_types))"
    )


def wake(account_ids: list[int]) -> None:
    """Queue the delivery of these accounts' enabled webhooks (called after
    the events' transaction committed)."""
    from webhooks import tasks

    tasks.wake_accounts(account_ids)
