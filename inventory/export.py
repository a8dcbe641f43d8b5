"""CSV export of the endpoint list: every matching row, not just the page.

Rows are read through a server-side cursor in chunks and written out as they
come, so exporting 600,000 endpoints holds one chunk in memory, never the whole
result. The cursor lives in one read transaction around the whole export (not a
``WITH HOLD`` cursor across transactions), so it also works through PgBouncer in
transaction mode, which hands the server connection to others between
transactions; on a replica it reads one consistent snapshot. Each row's IMSIs
come from an array sub-select in the same query (no query per row).

Cells that a spreadsheet would read as a formula get a leading apostrophe
(``portal.csv_cells``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.contrib.postgres.expressions import ArraySubquery
from django.db import transaction
from django.db.models import OuterRef, QuerySet

from inventory.models import IMSI, Endpoint
from inventory.pagination import Sort
from portal.csv_cells import neutralise

HEADER = ("iccid", "imsis", "name", "state", "group", "last_activity", "reference", "tags")
CHUNK_SIZE = 2000


class _Line:
    """A file-like object whose ``write`` hands back the line csv.writer made."""

    def write(self, value: str) -> str:
        return value


def rows(*, endpoints: QuerySet[Endpoint], sort: Sort) -> Iterator[tuple[str, ...]]:
    imsis = ArraySubquery(
        IMSI.objects.filter(endpoint=OuterRef("pk")).order_by("imsi").values("imsi")
    )
    values = (
        endpoints.order_by(*sort.order_by())
        .annotate(imsi_list=imsis)
        .values_list(
            "iccid",
            "imsi_list",
            "name",
            "state",
            "primary_group__name",
            "last_activity",
            "reference",
            "tags",
        )
    )
    for iccid, imsi_list, name, state, group, last_activity, reference, tags in values.iterator(
        chunk_size=CHUNK_SIZE
    ):
        yield (
            iccid,
            " ".join(imsi_list or ()),
            neutralise(name),
            state,
            neutralise(group or ""),
            last_activity.isoformat() if last_activity else "",
            neutralise(reference),
            neutralise(" ".join(tags or ())),
        )


def stream(*, endpoints: QuerySet[Endpoint], sort: Sort) -> Iterator[str]:
    """The CSV text, one line at a time (header first)."""
    writer = csv.writer(_Line())
    yield writer.writerow(HEADER)
    alias = endpoints.db  # the replica, when the router chose one
    with transaction.atomic(using=alias, savepoint=False):
        for row in rows(endpoints=endpoints.using(alias), sort=sort):
            yield writer.writerow(row)
