"""Settings of the processes the topology tests start (gunicorn, workers,
manage.py): the plain-HTTP test settings, with chunks small enough that a job of
a few thousand endpoints is still running when the database goes away, and a
worker that takes over a lost worker's job within seconds (heartbeat 0.5 s,
stalled after 2 s, checked every second) instead of a minute and a half."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import PROCRASTINATE_WORKER_DEFAULTS

PROCRASTINATE_WORKER_DEFAULTS = {
    **PROCRASTINATE_WORKER_DEFAULTS,
    "update_heartbeat_interval": 0.5,
    "stalled_worker_timeout": 2.0,
    "fetch_job_polling_interval": 0.5,
    "abort_job_polling_interval": 0.5,
    "shutdown_graceful_timeout": 0.5,
}
JOBS_STALLED_CHECK_CRON = "* * * * * */1"
JOBS_CHUNK_SIZE = int(os.environ.get("TEST_JOBS_CHUNK_SIZE", "250"))
WEBHOOK_ALLOWED_NETWORKS = "127.0.0.0/8"
