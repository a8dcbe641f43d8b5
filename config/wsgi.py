"""The WSGI application gunicorn serves (gunicorn.conf.py).

Importing it also imports every module a request can reach (the URLconf and,
through it, every view, form and the API's schemas). With ``preload_app`` the
master does this once and each worker starts with it in memory, shared
copy-on-write; without it, a worker paid for these imports on its first
request, and again after every restart of ``max_requests``
(docs/production.md "gunicorn").
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()


def _import_every_view() -> None:
    from django.db import connections
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports the URLconf and its views
    # Nothing above should have opened a connection; if it did, a forked worker
    # must not inherit it.
    connections.close_all()


_import_every_view()
