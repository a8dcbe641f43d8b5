"""The database gauges of ``/metrics``, read at scrape time: sums over every
account, never one account's figures.

The models are looked up by name (``apps.get_model``), not imported: the
portal's tenancy layer sits below the jobs and webhooks apps.
"""

from __future__ import annotations

from django.apps import apps
from django.db import connection

from portal.database_unavailable import is_unavailable

Gauge = tuple[str, str, tuple[str, ...], list[tuple[tuple[str, ...], float]]]


def _table(label: str) -> str:
    return connection.ops.quote_name(apps.get_model(label)._meta.db_table)


def _rows(sql: str, params: dict | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or {})
        return cursor.fetchall()


def database_gauges() -> list[Gauge]:
    """Every gauge, or only ``portal_database_up 0`` when the database is away."""
    try:
        gauges = _queue() + _jobs() + _webhooks()
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        return [_database_up(0)]
    return [_database_up(1), *gauges]


def _database_up(value: int) -> Gauge:
    return ("portal_database_up", "Whether the database answered the scrape.", (), [((), value)])


def _queue() -> list[Gauge]:
    """Procrastinate's queue: jobs waiting per queue and how long the oldest has waited."""
    rows = _rows(
        """
        SELECT job.queue_name, count(*),
               coalesce(extract(epoch FROM now() - min(event.at)), 0)
          FROM procrastinate_jobs job
          LEFT JOIN procrastinate_events event
            ON event.job_id = job.id AND event.type = 'deferred'
         WHERE job.status = 'todo'
         GROUP BY job.queue_name
        """
    )
    return [
        (
            "portal_job_queue_depth",
            "Queued background tasks not yet started, by queue.",
            ("queue",),
            [((queue,), count) for queue, count, _ in rows],
        ),
        (
            "portal_job_queue_oldest_seconds",
            "Age of the oldest queued background task, by queue.",
            ("queue",),
            [((queue,), float(age)) for queue, _, age in rows],
        ),
    ]


def _jobs() -> list[Gauge]:
    """Bulk jobs not finished, by state (queued, running)."""
    rows = _rows(
        f"SELECT state, count(*) FROM {_table('jobs.Job')}"
        " WHERE state IN ('queued', 'running') GROUP BY state"
    )
    counts = dict(rows)
    return [
        (
            "portal_jobs_unfinished",
            "Bulk jobs queued or running, by state.",
            ("state",),
            [((state,), counts.get(state, 0)) for state in ("queued", "running")],
        )
    ]


def _webhooks() -> list[Gauge]:
    """Events written but not yet delivered (per webhook lane, summed), webhooks
    whose deliveries are failing, and webhooks switched off."""
    webhook, lane, event = (
        _table("webhooks.Webhook"),
        _table("webhooks.Lane"),
        _table("events.AccountEvent"),
    )
    [(backlog, unsequenced, failing, disabled)] = _rows(
        f"""
        SELECT
          (SELECT count(*) FROM {lane} l
             JOIN {webhook} w ON w.id = l.webhook_id AND w.enabled
             JOIN {event} e ON e.account_id = w.account_id AND e.lane = l.number
                           AND e.seq > l.cursor AND e.seq > 0),
          (SELECT count(*) FROM {event} e
             WHERE e.seq IS NULL
               AND EXISTS (SELECT 1 FROM {webhook} w
                            WHERE w.account_id = e.account_id AND w.enabled)),
          (SELECT count(DISTINCT l.webhook_id) FROM {lane} l
             JOIN {webhook} w ON w.id = l.webhook_id AND w.enabled
            WHERE l.failures > 0),
          (SELECT count(*) FROM {webhook} WHERE NOT enabled)
        """
    )
    return [
        (
            "portal_webhook_backlog_events",
            "Deliveries waiting: events after a lane's cursor, summed over enabled webhooks,"
            " plus events not yet sequenced.",
            (),
            [((), backlog + unsequenced)],
        ),
        (
            "portal_webhooks_failing",
            "Enabled webhooks with a lane whose last delivery failed.",
            (),
            [((), failing)],
        ),
        ("portal_webhooks_disabled", "Webhooks switched off.", (), [((), disabled)]),
    ]
