"""The session store (``SESSION_ENGINE``): Django's database sessions, with
the read every signed-in request makes written out.

Django's store reads the session through the ORM (``Session.objects.get``),
whose building and compiling cost more CPU than the statement on every page.
The same statement written out gives the same row; writing, expiry and
everything else are Django's own. Sessions are always read from the primary
(portal.replicas).
"""

from __future__ import annotations

from django.contrib.sessions.backends import db
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        model = self.model
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute(
                f"SELECT session_data, expire_date FROM {model._meta.db_table}"
                " WHERE session_key = %s AND expire_date > %s",
                [self.session_key, timezone.now()],
            )
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return model(session_key=self.session_key, session_data=row[0], expire_date=row[1])
