"""Where the CPU of a load run went: the server's processes, PostgreSQL's, and
the load generator's own (this process), in CPU seconds over the run, and what
that makes one request cost.

On two cores a rate is capped by the CPU each request needs from all three
together: ``ceiling = cores / (CPU seconds per request)``. The benchmark reports
the ceiling beside the rate, so that a missed target says whether the cores or
waiting were the limit (meaningful only with nothing else running)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _postgres() -> list[psutil.Process]:
    """Every process of the PostgreSQL server on this machine (backends, WAL
    writer, checkpointer: all of it is the load's cost on a quiet machine)."""
    found = []
    for process in psutil.process_iter(["name", "username"]):
        if process.info["name"] in ("postgres", "postmaster") or (
            process.info["username"] == "postgres"
        ):
            found.append(process)
    return found


def _seconds(processes: list[psutil.Process]) -> tuple[dict[int, float], float]:
    """CPU seconds of each process, and of the children they have reaped
    (a gunicorn worker recycled after ``max_requests``, a PostgreSQL backend
    whose connection closed: gone from the list, counted by their parent)."""
    seconds, reaped = {}, 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        seconds[process.pid] = times.user + times.system
        reaped += times.children_user + times.children_system
    return seconds, reaped


def _grown(before: tuple[dict[int, float], float], after: tuple[dict[int, float], float]) -> float:
    """CPU used between two readings: what the living processes grew by, plus
    what their parents reaped meanwhile, less what those reaped had used
    before the first reading."""
    (alive0, reaped0), (alive1, reaped1) = before, after
    grown = sum(max(0.0, t - alive0.get(pid, 0.0)) for pid, t in alive1.items())
    gone = sum(t for pid, t in alive0.items() if pid not in alive1)
    return grown + (reaped1 - reaped0) - gone


@dataclass
class Usage:
    server: float
    postgres: float
    client: float
    requests: int

    @property
    def per_request_ms(self) -> dict[str, float]:
        n = max(self.requests, 1)
        return {
            "server": 1000 * self.server / n,
            "postgres": 1000 * self.postgres / n,
            "client": 1000 * self.client / n,
        }

    def ceiling(self, cores: int | None = None) -> float:
        """Requests per second the machine's cores allow at this cost."""
        cores = cores or os.cpu_count() or 1
        total = self.server + self.postgres + self.client
        return cores * self.requests / total if total else 0.0

    def note(self) -> str:
        ms = self.per_request_ms
        return (
            f"CPU per request: server {ms['server']:.2f} ms, PostgreSQL {ms['postgres']:.2f} ms, "
            f"load generator {ms['client']:.2f} ms; {os.cpu_count()} cores allow "
            f"{self.ceiling():,.0f}/s at that cost"
        )

    def as_dict(self) -> dict:
        return {
            "cpu_seconds": {
                "server": round(self.server, 2),
                "postgres": round(self.postgres, 2),
                "client": round(self.client, 2),
            },
            "cpu_ms_per_request": {k: round(v, 3) for k, v in self.per_request_ms.items()},
            "ceiling_per_second": round(self.ceiling()),
        }


class Meter:
    """``with Meter(server_pid) as meter: ...`` then ``meter.usage(requests)``.
    Processes that start during the run (a gunicorn worker restarted, a new
    backend) count from zero; ones that end during it count through their
    parent's reaped children."""

    def __init__(self, server_pid: int):
        self.server_pid = server_pid

    def _read(self):
        own = psutil.Process().cpu_times()
        return _seconds(_tree(self.server_pid)), _seconds(_postgres()), own.user + own.system

    def __enter__(self) -> Meter:
        self._before = self._read()
        return self

    def __exit__(self, *exc) -> None:
        self._after = self._read()

    def usage(self, requests: int) -> Usage:
        (server0, pg0, own0), (server1, pg1, own1) = self._before, self._after
        return Usage(
            server=_grown(server0, server1),
            postgres=_grown(pg0, pg1),
            client=own1 - own0,
            requests=requests,
        )
