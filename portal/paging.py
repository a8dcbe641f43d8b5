"""How a support changelist counts and filters a table of millions of rows.

The stock changelist pays for COUNT(*) twice per page and its list filters run
SELECT DISTINCT over the whole table. Here a table counts exactly only up to a
bound (then uses the planner's estimate), and filters with known values list
them instead of asking the table. Like every changelist, these refuse a filter
or search value holding a NUL (``portal.changelists``).
"""

from __future__ import annotations

import json

from django.contrib import admin
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connection
from django.utils.functional import cached_property

from portal.changelists import RefusesNul

#: Up to this many matching rows the changelist shows an exact count.
EXACT_COUNT_LIMIT = 10_000
#: When the planner expects more rows than this, its estimate is shown without
#: counting at all: even a LIMITed count walks 200,000 rows for a 5 % filter.
ESTIMATE_TRUSTED_ABOVE = 50_000


class BoundedCountPaginator(Paginator):
    """Counts exactly up to ``EXACT_COUNT_LIMIT`` (a LIMITed subquery stops
    there), beyond that takes the planner's row estimate, so a page never scans
    the whole table just to print its size. ``estimated`` tells templates to say
    "about"."""

    estimated = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list.order_by()
        estimate = _planner_estimate(queryset)
        if estimate > ESTIMATE_TRUSTED_ABOVE:
            self.estimated = True
            return estimate
        bounded = queryset.values("pk")[: EXACT_COUNT_LIMIT + 1].count()
        if bounded <= EXACT_COUNT_LIMIT:
            return bounded
        self.estimated = True
        return max(EXACT_COUNT_LIMIT + 1, estimate)


def _planner_estimate(queryset) -> int:
    try:
        sql, params = queryset.values("pk").query.sql_with_params()
    except EmptyResultSet:  # ``.none()``, e.g. text searched where only digits can match
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class LargeTableAdmin(RefusesNul, admin.ModelAdmin):
    """Changelist settings for tables of millions of rows."""

    paginator = BoundedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50


def fixed_choices_filter(field: str, title: str, values: tuple[str, ...]):
    """A list filter with known values: the stock one runs SELECT DISTINCT over
    the whole table (over a second on two million history rows)."""

    class FixedChoicesFilter(admin.SimpleListFilter):
        parameter_name = field

        def lookups(self, request, model_admin):
            return [(value, value.replace("_", " ")) for value in values]

        def queryset(self, request, queryset):
            value = self.value()
            return queryset.filter(**{field: value}) if value else queryset

    FixedChoicesFilter.title = title
    return FixedChoicesFilter
