"""Jobs in the Django admin: support follows an import (or any job) here, with
its progress; the page reloads itself every two seconds until the job ends.
Jobs are records of what was done: read-only, never added or deleted here."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from jobs.models import Job
from portal.changelists import RefusesNul
from portal.read_only_admin import ReadOnlyAdmin


@admin.register(Job)
class JobAdmin(RefusesNul, ReadOnlyAdmin):
    list_display = ["id", "account", "action", "state", "progress", "changed", "created_by_label"]
    list_filter = ["state", "action"]
    list_select_related = ["account"]
    search_fields = ["=id", "created_by_label"]
    ordering = ["-id"]
    fields = [
        "account",
        "action",
        "group",
        "state",
        "progress",
        "changed",
        "skipped",
        "error",
        "created_by_label",
        "reason",
        "created_at",
        "started_at",
        "finished_at",
        "attempts",
        "longest_chunk_ms",
        "cut_chunks",
        "batch",
        "queue_job_id",
    ]
    readonly_fields = fields

    @admin.display(description="Progress")
    def progress(self, job: Job):
        return format_html(
            '<progress max="{}" value="{}"></progress> {} of {} ({} %)',
            job.total or 1,
            job.done if job.total else 1,
            f"{job.done:,}",
            f"{job.total:,}",
            job.percent,
        )
