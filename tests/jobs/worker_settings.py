"""Settings of the worker processes the job tests start: the test settings, with
a worker that notices a dead one within seconds instead of half a minute, and
chunks small enough that a job lasts long enough to be killed half-way."""

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
# ``TEST_JOBS_CHUNK_SIZE=0``: chunks sized by their lock time, under the lock
# budget (``JOBS_CHUNK_BUDGET_MS`` from the environment), as in production.
JOBS_CHUNK_SIZE = int(os.environ.get("TEST_JOBS_CHUNK_SIZE", "100")) or None
