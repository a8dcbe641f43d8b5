"""The worker processes a deployment runs (docs/production.md "The workers"),
as arguments of ``manage.py procrastinate worker``: bulk jobs and webhook
deliveries each on a queue and in processes of their own, so that neither ever
waits for a slot the other holds. Both also run "maintenance" (the periodic
tasks: retrying a dead worker's tasks, the webhook sweep, the daily purges),
whichever has a free slot first. RADIUS Disconnect-Requests have a queue and a
process of their own too. ``manage.py devserver`` starts one of each.

A delivery slot runs one webhook's 16 lanes side by side, with a database
connection each: ``webhooks``'s concurrency × 17 connections, counted against
PostgreSQL's ``max_connections``."""

from __future__ import annotations

#: name → arguments of ``manage.py procrastinate worker``.
WORKERS: dict[str, list[str]] = {
    "jobs": ["--queues", "jobs,maintenance", "--concurrency", "1"],
    # Polling every second: a retry, or a webhook waiting for its account's
    # turn, is scheduled a moment ahead, and scheduled tasks are found by polling.
    "webhooks": [
        "--queues",
        "webhooks,maintenance",
        "--concurrency",
        "2",
        "--fetch-job-polling-interval",
        "1",
    ],
    # RADIUS Disconnect-Requests (network/tasks.py): a NAS that never answers
    # holds this slot only, never a job's or a delivery's.
    "network": ["--queues", "radius", "--concurrency", "1"],
}
