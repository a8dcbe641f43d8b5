"""PostgreSQL clusters of a test's own (``initdb`` in a temporary directory, a
free port): a primary that can be stopped and started at will, and streaming
replicas of it made with ``pg_basebackup``. The machine's service is never
touched.

The binaries are PostgreSQL's own (``PG_BINDIR``, else the newest
``/usr/lib/postgresql/*/bin``, else the ``pg_ctl`` on PATH). As root, the server
runs as the ``postgres`` user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg


def bindir() -> Path | None:
    chosen = os.environ.get("PG_BINDIR")
    if chosen:
        return Path(chosen)
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


def _give_to_server_user(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        for root, dirs, files in os.walk(path):
            for name in [*dirs, *files]:
                os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)
        os.chown(path, entry.pw_uid, entry.pw_gid)


class Cluster:
    """One PostgreSQL server: ``start``, ``stop(mode)``, ``url(db)``."""

    def __init__(self, name: str, *, data: Path | None = None, port: int | None = None):
        self.bin = bindir()
        if self.bin is None:
            raise RuntimeError("No PostgreSQL binaries (set PG_BINDIR).")
        self.base = Path(tempfile.mkdtemp(prefix=f"portal-{name}-"))
        _give_to_server_user(self.base)
        self.data = data or self.base / "data"
        self.port = port or free_port()
        self.log = self.base / "server.log"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*_as_server_user(), *args], check=check, capture_output=True, text=True, cwd="/"
        )

    def init(self, **settings: str) -> Cluster:
        self.run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "-E", "UTF8", "--locale=C",
        )  # fmt: skip
        self.configure(
            **{
                "listen_addresses": "'127.0.0.1'",
                "port": str(self.port),
                "unix_socket_directories": f"'{self.base}'",
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
                "wal_level": "replica",
                "max_wal_senders": "5",
                "max_connections": "100",
                "shared_buffers": "64MB",
                "shared_preload_libraries": "'pg_stat_statements'",
                **settings,
            }
        )
        with open(self.data / "pg_hba.conf", "a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        return self

    def configure(self, **settings: str) -> None:
        with open(self.data / "postgresql.auto.conf", "a") as conf:
            for key, value in settings.items():
                conf.write(f"{key} = {value}\n")

    def start(self, wait: bool = True) -> Cluster:
        self.run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
            "-o", f"-p {self.port}", "-w" if wait else "-W", "start",
        )  # fmt: skip
        return self

    def stop(self, mode: str = "fast") -> None:
        self.run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        status = self.run(str(self.bin / "pg_ctl"), "-D", str(self.data), "status", check=False)
        return status.returncode == 0

    def url(self, database: str = "postgres", **query: str) -> str:
        extra = "&".join(f"{key}={value}" for key, value in query.items())
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}" + (
            f"?{extra}" if extra else ""
        )

    def execute(self, sql: str, database: str = "postgres", params=None) -> list[tuple]:
        with psycopg.connect(self.url(database), autocommit=True) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def replica(self, name: str) -> Cluster:
        """A streaming replica of this server (pg_basebackup -R), started."""
        copy = Cluster(name)
        try:
            self.run(
                str(self.bin / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.port),
                "-U", "postgres", "-D", str(copy.data), "-R", "-X", "stream", "-c", "fast",
            )  # fmt: skip
            copy.configure(port=str(copy.port), unix_socket_directories=f"'{copy.base}'")
            copy.start()
            copy.wait_ready()
        except BaseException:
            copy.destroy()
            raise
        return copy

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            if self.running():
                self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


class PgBouncer:
    """Debian's ``pgbouncer`` in front of ``cluster``, in transaction mode, for
    database ``database``; as root it runs as the ``postgres`` user."""

    def __init__(self, cluster: Cluster, database: str, *, pool_size: int = 10):
        self.binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        self.base = Path(tempfile.mkdtemp(prefix="portal-pgbouncer-"))
        self.port = free_port()
        (self.base / "users.txt").write_text('"postgres" ""\n')
        (self.base / "pgbouncer.ini").write_text(
            f"""[databases]
{database} = host=127.0.0.1 port={cluster.port} dbname={database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.base}/users.txt
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 500
server_reset_query =
ignore_startup_parameters = extra_float_digits
logfile = {self.base}/pgbouncer.log
pidfile = {self.base}/pgbouncer.pid
admin_users = postgres
"""
        )
        _give_to_server_user(self.base)
        self.database = database
        self.process: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return bool(shutil.which("pgbouncer") or Path("/usr/sbin/pgbouncer").exists())

    def start(self) -> None:
        self.process = subprocess.Popen(
            [*_as_server_user(), self.binary, str(self.base / "pgbouncer.ini")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with psycopg.connect(self.url(), autocommit=True) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def show(self, what: str) -> list[tuple]:
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/pgbouncer", autocommit=True
        ) as conn:
            conn.prepare_threshold = None
            return conn.execute(f"SHOW {what}", prepare=False).fetchall()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.base, ignore_errors=True)
