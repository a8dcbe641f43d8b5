"""The columns of the endpoint list and how each cell renders.

The table is given one page of rows already fetched by keyset (``listing.py``);
django-tables2's own ordering and OFFSET paginator are never used. Group names
come from the account's groups, loaded once for the filter form, so rendering
costs no query per row.

``EndpointRows.html_rows`` renders the rows with the ``render_*`` methods but
without django-tables2's per-cell machinery, which inspects each render method's
signature for every cell. Measured on 250 rows of all eight columns (median of
15, 2-core machine, 2026-12-01): ``html_rows`` 2.1 ms; iterating the table's own
``rows`` and cells 40.5 ms; ``table.as_html(request)`` through django-tables2's
template 87.3 ms, against a whole list page of about 28 ms at a million
endpoints (docs/benchmark.md). The table still declares the columns, their
headings and classes, but a page never builds it: ``column_specs`` resolves
the declarations once per combination of columns, and ``EndpointRows`` runs
the cell loop.
For the same reason the cells escape with the standard library and build the
detail link from one reversed URL instead of calling ``reverse`` per row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from html import escape

import django_tables2 as tables
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from inventory.models import Endpoint, Group, State
from usage.selectors import human_bytes

#: Columns shown only when asked for with ?columns=reference,tags,usage.
OPTIONAL_COLUMNS = ("reference", "tags", "usage")
_STATE_LABELS = dict(State.choices)
#: Reversed once per table, then replaced per row; ICCID-shaped, as the URL requires.
_ICCID_PLACEHOLDER = "0" * 19
_UNITS = (
    (365 * 86400, "year"),
    (30 * 86400, "month"),
    (7 * 86400, "week"),
    (86400, "day"),
    (3600, "hour"),
    (60, "minute"),
)


def relative_time(value: dt.datetime, now: dt.datetime) -> str:
    """ "3 hours ago", "2 days ago": the largest whole unit, as humanize's
    naturaltime reads, at a fraction of its cost (no translation lookups; the
    portal is English only)."""
    seconds = int((now - value).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 60:
        return "just now" if not future else "in a moment"
    for size, unit in _UNITS:
        if seconds >= size:
            count = seconds // size
            text = f"{count} {unit}{'' if count == 1 else 's'}"
            return f"in {text}" if future else f"{text} ago"
    return "just now"  # unreachable: 60 s is the smallest unit


class SelectColumn(tables.Column):
    """A checkbox per row, posted as ``ids`` by the bulk action form."""

    def __init__(self, **kwargs):
        kwargs.setdefault("verbose_name", "")
        kwargs.setdefault("accessor", "iccid")
        kwargs.setdefault("attrs", {"th": {"class": "select-col"}, "td": {"class": "select-col"}})
        super().__init__(**kwargs)


class _Cells:
    """The cells of the endpoint list: group names of the account, the time
    "ago" is counted from, the detail link."""

    def __init__(self, groups: list[Group]):
        self.group_names = {g.pk: g.name for g in groups}
        self.now = timezone.now()
        self.detail_url = reverse("inventory:endpoint_detail", args=[_ICCID_PLACEHOLDER])

    # Each returns HTML with every value escaped.

    def render_select(self, value, record=None):
        iccid = escape(value)
        return mark_safe(
            '<input class="form-check-input row-select" type="checkbox" name="ids" '
            f'value="{iccid}" aria-label="Select {iccid}">'
        )

    def render_iccid(self, value, record=None):
        iccid = escape(value)
        return mark_safe(
            f'<a href="{self.detail_url.replace(_ICCID_PLACEHOLDER, iccid)}">{iccid}</a>'
        )

    def render_name(self, value, record=None):
        return escape(value)

    def render_reference(self, value, record=None):
        return escape(value)

    def render_state(self, value, record=None):
        # The markup of inventory/_state_badge.html, without a template render per row.
        state = record.state if record is not None else value
        label = _STATE_LABELS.get(state, state)
        return mark_safe(
            f'<span class="badge state-badge state-{escape(state)}">{escape(label)}</span>'
        )

    def render_group(self, value, record=None):
        return escape(self.group_names.get(value, ""))

    def render_last_activity(self, value, record=None):
        exact = value.astimezone(dt.UTC)
        return mark_safe(
            f'<time datetime="{exact.isoformat()}" title="{exact:%Y-%m-%d %H:%M:%S} UTC">'
            f"{relative_time(value, self.now)}</time>"
        )

    def render_usage(self, value, record=None):
        return escape(human_bytes(value))

    def render_tags(self, value, record=None):
        return mark_safe(
            " ".join(
                f'<span class="badge text-bg-light border tag">{escape(t)}</span>' for t in value
            )
        )


class EndpointTable(_Cells, tables.Table):
    """Columns: checkbox (operators only), ICCID, name, state, group, last
    activity, and optionally reference and tags."""

    select = SelectColumn(orderable=False)
    iccid = tables.Column("ICCID", orderable=False, attrs={"td": {"class": "mono"}})
    name = tables.Column("Name", orderable=False, default="")
    state = tables.Column("State", orderable=False)
    group = tables.Column("Group", accessor="primary_group_id", orderable=False, default="")
    last_activity = tables.Column("Last activity", orderable=False, default="")
    reference = tables.Column("Reference", orderable=False, default="")
    tags = tables.Column("Tags", orderable=False, default="")
    #: This month's bytes, set on each row by the view (one query per page).
    usage = tables.Column(
        "This month", accessor="month_usage", orderable=False, attrs={"td": {"class": "text-end"}}
    )

    class Meta:
        model = Endpoint
        fields = ()
        orderable = False
        empty_text = ""
        attrs = {"class": "table table-sm table-hover align-middle endpoint-table"}

    def __init__(
        self,
        data,
        *,
        groups: list[Group],
        selectable: bool,
        columns: tuple[str, ...] = (),
        **kwargs,
    ):
        _Cells.__init__(self, groups)
        exclude = [name for name in OPTIONAL_COLUMNS if name not in columns]
        if not selectable:
            exclude.append("select")
        tables.Table.__init__(self, data, exclude=exclude, **kwargs)


@dataclass(frozen=True)
class ColumnSpec:
    """One shown column as the table declares it."""

    name: str
    header: str
    accessor: str
    #: The cell's opening tag, with the column's class.
    opening: str


@lru_cache(maxsize=64)
def column_specs(selectable: bool, columns: tuple[str, ...]) -> tuple[ColumnSpec, ...]:
    """The columns of ``EndpointTable`` for a viewer who can (not) select rows
    and the optional ``columns`` asked for: names, headings, accessors, cell
    classes. They are declarations, the same for every account and request,
    so they are resolved once per combination: building the django-tables2
    table (it deep-copies every column) cost three times the rendering of its
    50 rows on every page."""
    table = EndpointTable([], groups=[], selectable=selectable, columns=columns)
    specs = []
    for column in table.columns:
        td_class = column.attrs.get("td", {}).get("class")
        specs.append(
            ColumnSpec(
                name=column.name,
                header=str(column.header),
                accessor=str(column.column.accessor or column.name),
                opening=f'<td class="{escape(td_class)}">' if td_class else "<td>",
            )
        )
    return tuple(specs)


class EndpointRows(_Cells):
    """Renders one page of rows as ``<tr>`` elements, cell by cell through the
    ``render_*`` methods, for the columns of ``column_specs``."""

    def __init__(self, rows, *, groups: list[Group], specs: tuple[ColumnSpec, ...]):
        super().__init__(groups)
        self.rows = rows
        self.specs = specs

    def html_rows(self) -> list[SafeString]:
        cells = [(c.accessor, getattr(self, f"render_{c.name}"), c.opening) for c in self.specs]
        rows = []
        for record in self.rows:
            parts = ["<tr>"]
            for accessor, render, opening in cells:
                value = getattr(record, accessor)
                content = "" if value in (None, "", []) else render(value=value, record=record)
                parts += [opening, content, "</td>"]
            parts.append("</tr>")
            rows.append(mark_safe("".join(parts)))
        return rows
