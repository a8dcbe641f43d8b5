"""gunicorn's configuration for the portal, read by default from the working
directory: ``.venv/bin/gunicorn`` in the repository root serves the portal.

docs/production.md "gunicorn" says what each setting is for. A command-line
option (``--bind``, ``--workers``) overrides the value here.
"""

import os

wsgi_app = "config.wsgi:application"

# Behind the TLS proxy on the same host; the proxy forwards to this address.
bind = ["127.0.0.1:8000"]

# Sync workers: one request at a time each. 2 x cores + 1 keeps the CPUs busy
# while some requests wait on PostgreSQL; beyond 8 each extra worker mostly adds
# memory and a database connection. WEB_CONCURRENCY sets the number outright.
worker_class = "sync"
workers = int(os.environ.get("WEB_CONCURRENCY") or min(2 * (os.cpu_count() or 1) + 1, 8))

# A worker silent for longer than this is killed and its request answered by
# gunicorn's bare error page; the statement timeout below ends slow database
# work well before, so the user gets the portal's own page instead.
timeout = 60
# On restart or shutdown, requests in flight get this long to finish.
graceful_timeout = 30

# Each web worker's database connections stop any one statement after 50 s
# (config/settings.py reads DB_STATEMENT_TIMEOUT). Set here, so only web
# workers are bound, not migrations, cron purges or the benchmark loaders.
# Through PgBouncer in transaction mode the role carries it instead
# (docs/operations.md "PgBouncer").
if os.environ.get("DATABASE_POOL_MODE", "").strip() != "transaction":
    os.environ.setdefault("DB_STATEMENT_TIMEOUT", f"{timeout - 10}s")

# Restart each worker after about a thousand requests (the jitter keeps them
# from restarting together), so that memory one request grew is given back.
max_requests = 1000
max_requests_jitter = 100

# The master imports the portal (config/wsgi.py imports every view) before it
# forks, so a new worker, the first or one replacing a worker after
# max_requests, starts ready instead of spending about a second of CPU on
# imports in its first request. Code changes need a restart, not a HUP.
preload_app = True

# The portal writes its own line per request (portal.access_log: request id,
# user, account, counts); gunicorn's access log would only repeat it.
accesslog = None
errorlog = "-"
loglevel = "info"

# /metrics across workers (portal/metrics.py): with PROMETHEUS_MULTIPROC_DIR set,
# each worker writes its counters there; the directory is emptied when gunicorn
# starts, and a worker's live gauges are dropped when it exits.


def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
