"""How long one chunk of a bulk job may hold its endpoints' row locks, enforced
rather than guessed.

Each chunk is sized from the lock time of the one before (``runner.next_size``),
and under the network API's load a guess is sometimes far off: in the
benchmark, single chunks of a steady series held their locks 2.5 to 5.8 times
their target (docs/benchmark.md, section 9). A network event batch that needs
one of those endpoints waits all that time.

So a chunk's statements run under a budget (``budget``). Before each one,
``statement_timeout`` is set to what is left of it; a statement that would run
past it is cancelled by PostgreSQL. The chunk's work runs in a savepoint, so a
cancelled attempt leaves nothing behind: its changes, its History and events,
its marks on the job's targets and its row locks are all rolled back, and the
runner tries again at half the size. The smallest chunk (``runner.MIN_CHUNK``)
runs without a budget, so a job always advances.

Work is done once: what an attempt did is undone before the next attempt
starts, in the same transaction, and only the attempt that completes is
committed and counted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.conf import settings
from django.db import OperationalError, connection, transaction


class Exceeded(Exception):
    """The attempt ran out of its budget; it has been rolled back."""


def budget() -> int:
    """``JOBS_CHUNK_BUDGET_MS`` (default 400): under the 500 ms a chunk may
    hold its locks, the rest being for the job row's save and the COMMIT."""
    return settings.JOBS_CHUNK_BUDGET_MS


@contextmanager
def bounded(budget_ms: int) -> Iterator[None]:
    """Run the block in a savepoint whose statements together stop at
    ``budget_ms``; raise ``Exceeded``, the block rolled back, if they do not
    finish within it. The transaction's own ``statement_timeout`` is restored
    afterwards."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('statement_timeout')")
        before = cursor.fetchone()[0]
    began = time.perf_counter()

    def limited(execute, sql, params, many, context):
        left = int(budget_ms - (time.perf_counter() - began) * 1000)
        if left < 1:
            raise Exceeded
        # The raw cursor: through Django's, this wrapper would run again.
        context["cursor"].cursor.execute(
            "SELECT set_config('statement_timeout', %s, true)", [f"{left}ms"]
        )
        return execute(sql, params, many, context)

    try:
        with transaction.atomic(), connection.execute_wrapper(limited):
            yield
    except OperationalError as exc:
        if not isinstance(exc.__cause__, psycopg.errors.QueryCanceled):
            raise
        raise Exceeded from exc
    # A SET LOCAL made in a savepoint that was released stays for the rest of
    # the transaction (in one rolled back, it is gone already).
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, true)", [before])
