"""A transaction of someone else, held open: ``work`` runs in a transaction on
another thread (so on its own database connection), and the transaction stays
open, with whatever locks ``work`` took, until the ``with`` block ends. Tests
that need it run with ``transaction=True``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.db import connection, transaction

T = TypeVar("T")


@contextmanager
def held_open(work: Callable[[], T], *, rollback: bool = False, timeout: float = 30) -> Iterator[T]:
    """Yield what ``work`` returned once it has run; when the block ends, the
    other transaction commits (or, with ``rollback``, rolls back) and its
    connection is closed."""
    done, release = threading.Event(), threading.Event()
    result: list = []
    errors: list[BaseException] = []

    def hold() -> None:
        try:
            with transaction.atomic():
                try:
                    result.append(work())
                except BaseException as exc:
                    errors.append(exc)  # raised again in the test's thread
                    raise
                finally:
                    done.set()
                release.wait(timeout)
                if rollback:
                    transaction.set_rollback(True)
        except BaseException:
            pass  # in ``errors``
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert done.wait(timeout), "the other transaction did not get going"
        if errors:
            raise errors[0]
        yield result[0]
    finally:
        release.set()
        holder.join(timeout)
