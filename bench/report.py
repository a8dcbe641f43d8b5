"""The results: a Markdown table (printed, and pasted into docs/benchmark.md)
and JSON, with the machine they were measured on."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import django
from django.db import connection

from bench.pages import Row

BASE_DIR = Path(__file__).resolve().parent.parent


def machine() -> dict:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next((line.split(":", 1)[1].strip() for line in info if "model name" in line), "")
    except OSError:
        pass
    memory_gb = None
    try:
        with open("/proc/meminfo") as info:
            memory_gb = round(int(info.readline().split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
        cursor.execute("SHOW shared_buffers")
        shared_buffers = cursor.fetchone()[0]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "postgresql": postgres,
        "shared_buffers": shared_buffers,
    }


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _verdict(row: Row) -> str:
    if row.error:
        return "error"
    if row.met is None:
        return ""
    return "met" if row.met else "**missed**"


def markdown(rows: list[Row]) -> str:
    head = (
        "| section | measure | median ms | p95 ms | queries | SQL floor ms | x floor "
        "| stock admin ms | admin / portal | figure | target | verdict |"
    )
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        portal = r.portal
        floor_ratio = (
            f"{portal.median_ms / r.floor.median_ms:.1f}x"
            if portal and r.floor and r.floor.median_ms
            else "—"
        )
        admin_ratio = (
            f"{r.admin.median_ms / portal.median_ms:.1f}x"
            if portal and r.admin and portal.median_ms
            else "—"
        )
        queries = "—" if r.portal_queries is None else str(r.portal_queries)
        if r.admin_queries is not None:
            queries += f" (admin {r.admin_queries})"
        figure = r.value or ""
        if r.error:
            figure = f"{figure} error: {r.error}".strip()
        lines.append(
            f"| {r.section} | {r.name} | {_num(portal and portal.median_ms)} "
            f"| {_num(portal and portal.p95_ms)} | {queries} "
            f"| {_num(r.floor and r.floor.median_ms, 2)} "
            f"| {floor_ratio} | {_num(r.admin and r.admin.median_ms)} | {admin_ratio} "
            f"| {figure.replace('|', '/')} | {r.target} | {_verdict(r)} |"
        )
    return "\n".join(lines)


def to_json(rows: list[Row], meta: dict) -> dict:
    def plain(row: Row) -> dict:
        data = asdict(row)
        for key in ("portal", "admin", "floor"):
            if data[key] is not None:
                data[key] = {k: round(v, 3) for k, v in data[key].items()}
        return data

    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "machine": machine(),
        **meta,
        "rows": [plain(row) for row in rows],
    }


def write(path: Path, rows: list[Row], meta: dict) -> dict:
    data = to_json(rows, meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")
    return data
