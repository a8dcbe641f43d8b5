"""The endpoint list's filters, as URL parameters: ``state`` (several), ``group``,
``tag``, ``kv`` (``key:value``, docs/key-values.md), ``q`` and ``inactive`` (no
activity for that many days).

The group choices are the current account's groups, passed in already loaded so
that validating and rendering the form costs no query of its own; another
account's group id is therefore simply not a valid choice (a form error, never a
lookup across accounts).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import QueryDict
from django.utils import timezone

from inventory import search
from inventory.identifiers import MAX_KEY_LENGTH, MAX_VALUE_LENGTH, clean_tags, parse_key_value
from inventory.key_values import matching
from inventory.models import Endpoint, Group, State
from portal.params import ascii_int

#: The URL parameters the filter reads; bulk actions and CSV export carry them on.
FILTER_PARAMS = ("state", "group", "tag", "kv", "q", "inactive")
#: Most days the "inactive for" filter takes (ten years).
MAX_INACTIVE_DAYS = 3650
#: All the list's own URL parameters: the filter's, then how it is shown.
VIEW_PARAMS = (*FILTER_PARAMS, "sort", "per_page", "columns")


def clean_view_query(data: QueryDict) -> QueryDict:
    """The list parameters of ``data`` only (no cursor, nothing unknown)."""
    kept = QueryDict(mutable=True)
    for key in VIEW_PARAMS:
        values = [v for v in data.getlist(key) if v]
        if values:
            kept.setlist(key, values)
    return kept


class EndpointFilterForm(forms.Form):
    def clean_tag(self) -> str:
        value = self.cleaned_data.get("tag") or ""
        if not value.strip():
            return ""
        tags = clean_tags(value)
        if len(tags) != 1:
            raise ValidationError("Filter by one tag at a time.", code="tag_many")
        return tags[0]

    def clean_kv(self) -> tuple[str, str] | None:
        value = self.cleaned_data.get("kv") or ""
        return parse_key_value(value) if value.strip() else None

    def clean_inactive(self) -> int | None:
        value = (self.cleaned_data.get("inactive") or "").strip()
        if not value:
            return None
        days = ascii_int(value)
        if days is None or not 1 <= days <= MAX_INACTIVE_DAYS:
            raise ValidationError(
                f"Inactive for: a whole number of days from 1 to {MAX_INACTIVE_DAYS:,}.",
                code="inactive_days",
            )
        return days

    def clean_q(self) -> str:
        return search.clean_query(self.cleaned_data.get("q") or "")


class EndpointFilterSet(django_filters.FilterSet):
    """Filters an account's endpoints; build it with the account's groups."""

    state = django_filters.MultipleChoiceFilter(
        choices=State.choices,
        # One row per endpoint already; DISTINCT would defeat the index order.
        distinct=False,
        label="State",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "“%(value)s” is not a state."},
    )
    group = django_filters.ChoiceFilter(
        label="Group",
        method="filter_group",
        empty_label="All groups",
        error_messages={"invalid_choice": "That group is not one of this account's groups."},
    )
    tag = django_filters.CharFilter(label="Tag", method="filter_tag", max_length=40)
    kv = django_filters.CharFilter(
        label="Key value",
        method="filter_kv",
        max_length=MAX_KEY_LENGTH + 1 + MAX_VALUE_LENGTH,
        help_text="key:value",
    )
    q = django_filters.CharFilter(label="Search", method="filter_q", max_length=search.MAX_LENGTH)
    inactive = django_filters.CharFilter(
        label="Inactive for (days)", method="filter_inactive", max_length=8
    )

    class Meta:
        model = Endpoint
        fields = ["state", "group", "tag", "kv", "q", "inactive"]
        form = EndpointFilterForm

    def __init__(self, data=None, queryset=None, *, account_id: int, groups: list[Group], **kw):
        self.account_id = account_id
        self.groups = groups
        #: One instant for the "inactive for" filter and the pages that read it.
        self._now = timezone.now()
        super().__init__(data, queryset, **kw)
        self.filters["group"].extra["choices"] = [(str(g.pk), g.name) for g in groups]

    @property
    def inactive_before(self) -> datetime | None:
        """The "inactive for" cutoff the filter uses (None without it): the
        pagination and the count read the rows seen before it as one range of
        the activity indexes (``pagination.Segments``)."""
        days = self.form.cleaned_data.get("inactive") if self.is_valid() else None
        return self._now - timedelta(days=days) if days else None

    @property
    def qs_any_state(self) -> QuerySet[Endpoint]:
        """The endpoints filtered by all but the states (after ``is_valid``):
        the pages that read one range per state read them from it, each with
        its own state. Filtered by the list of states as well, PostgreSQL
        counted the state twice, took a state's range for a sparse one, and
        read 215,000 tagged rows through a bitmap to sort them (25-45 ms)
        instead of walking the range (1 ms)."""
        queryset = self.queryset.all()
        for name, value in self.form.cleaned_data.items():
            if name != "state":
                queryset = self.filters[name].filter(queryset, value)
        return queryset

    @property
    def is_filtered(self) -> bool:
        return self.is_bound and any(self.form.cleaned_data.get(name) for name in FILTER_PARAMS)

    def filter_group(self, queryset: QuerySet[Endpoint], name: str, value: str):
        return queryset.filter(primary_group_id=int(value)) if value else queryset

    def filter_tag(self, queryset: QuerySet[Endpoint], name: str, value: str):
        # ``@>`` on the array is served by the GIN index endpoint_tags.
        return queryset.filter(tags__contains=[value]) if value else queryset

    def filter_kv(self, queryset: QuerySet[Endpoint], name: str, value: tuple[str, str] | None):
        # A semi-join on keyvalue_acct_digest: the planner reads a rare pair's
        # endpoints from the index, and walks a common pair's in the list's own
        # order, probing each (docs/key-values.md).
        if not value:
            return queryset
        key, text = value
        pairs = matching(account_id=self.account_id, key=key, value=text)
        return queryset.filter(Exists(pairs.filter(endpoint_id=OuterRef("pk"))))

    def filter_inactive(self, queryset: QuerySet[Endpoint], name: str, value):
        """No activity for ``value`` days: last seen before then, or never.
        The ``OR`` is no index range; the pages and the count read the two
        parts as ranges of the activity indexes from ``inactive_before``."""
        if not value:
            return queryset
        since = self.inactive_before
        return queryset.filter(Q(last_activity__lt=since) | Q(last_activity__isnull=True))

    def filter_q(self, queryset: QuerySet[Endpoint], name: str, value: str):
        return search.search(endpoints=queryset, q=value)
