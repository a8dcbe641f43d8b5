"""How the demo fleet reaches the database: COPY, a chunk at a time, with no
index dropped; in the caller's transaction for a small seed, on parallel
connections for a large one."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from datetime import datetime

from django.db import connection, transaction

from inventory.demo_fleet import Rows
from inventory.sim_import import copy_rows

_COPY = {
    "endpoints": (
        "COPY inventory_endpoint (id, account_id, iccid, name, reference, tags, state,"
        " primary_group_id, imei_lock_enabled, imei, last_activity, state_changed_at,"
        " terminated_at, created_at) FROM STDIN"
    ),
    "imsis": "COPY inventory_imsi (account_id, endpoint_id, imsi) FROM STDIN",
    "addresses": (
        "COPY inventory_ipallocation (account_id, endpoint_id, group_id, vslice_id, address,"
        " kind, created_at) FROM STDIN"
    ),
    "memberships": (
        "COPY inventory_secondarymembership (account_id, endpoint_id, group_id) FROM STDIN"
    ),
    "history": (
        "COPY inventory_history (account_id, endpoint_id, at, actor_kind, actor_id,"
        " actor_label, action, from_state, to_state, changes, reason) FROM STDIN"
    ),
}


def _copy(cursor, table: str, rows: Iterator[tuple]) -> None:
    copy_rows(cursor, _COPY[table], rows)


def write_rows(cursor, rows: Rows, now: datetime) -> None:
    _copy(cursor, "endpoints", iter(rows.endpoints))
    _copy(cursor, "imsis", iter(rows.imsis))
    _copy(cursor, "addresses", (row + (now,) for row in rows.addresses))
    _copy(cursor, "memberships", iter(rows.memberships))
    _copy(cursor, "history", (row + ("{}", "") for row in rows.history))


class ParallelWriter:
    """COPY on several connections at once.

    Generating rows costs far less than the server's work of checking foreign
    keys and maintaining a dozen indexes per row, so a large seed keeps every
    core of the database busy with its own COPY stream. Each writer has one
    transaction for all its chunks and commits only after every writer has
    written its share; if one fails, the others roll back."""

    def __init__(self, *, count: int, now: datetime, on_written: Callable[[Rows], None]):
        self.now = now
        self.on_written = on_written
        self.queue: queue.Queue[Rows | None] = queue.Queue(maxsize=count)
        self.barrier = threading.Barrier(count)
        self.lock = threading.Lock()
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(count)]
        for thread in self.threads:
            thread.start()

    def _run(self) -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                while (rows := self.queue.get()) is not None:
                    write_rows(cursor, rows, self.now)
                    with self.lock:
                        self.on_written(rows)
                self.barrier.wait()
        except BaseException as exc:  # reported by finish() in the calling thread
            self.errors.append(exc)
            self.barrier.abort()
        finally:
            connection.close()

    def put(self, rows: Rows) -> None:
        while not self.errors:
            try:
                self.queue.put(rows, timeout=0.5)
                return
            except queue.Full:
                continue
        self.finish()

    def finish(self) -> None:
        if self.errors:  # make room for the stop signals; nothing more is written
            while not self.queue.empty():
                self.queue.get_nowait()
        for _ in self.threads:
            self.queue.put(None)
        for thread in self.threads:
            thread.join()
        real = [e for e in self.errors if not isinstance(e, threading.BrokenBarrierError)]
        if real or self.errors:
            raise (real or self.errors)[0]
