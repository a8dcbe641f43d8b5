"""The columns of the endpoint list and how each cell renders.

The table is given one page of rows already fetched by keyset (``listing.py``);
django-tables2's own ordering and OFFSET paginator are never used. Group names
come from the account's groups, loaded once for the filter form, so rendering
costs no query per row.
"""

from __future__ import annotations

import django_tables2 as tables
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from inventory.models import Endpoint, Group

#: Columns shown only when asked for with ?columns=reference,tags.
OPTIONAL_COLUMNS = ("reference", "tags")


class SelectColumn(tables.Column):
    """A checkbox per row, posted as ``ids`` by the bulk action form."""

    def __init__(self, **kwargs):
        kwargs.setdefault("verbose_name", "")
        kwargs.setdefault("accessor", "iccid")
        kwargs.setdefault("attrs", {"th": {"class": "select-col"}, "td": {"class": "select-col"}})
        super().__init__(**kwargs)

    def render(self, value):
        return format_html(
            '<input class="form-check-input row-select" type="checkbox" name="ids" '
            'value="{}" aria-label="Select {}">',
            value,
            value,
        )


class EndpointTable(tables.Table):
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
        self.group_names = {g.pk: g.name for g in groups}
        exclude = [name for name in OPTIONAL_COLUMNS if name not in columns]
        if not selectable:
            exclude.append("select")
        super().__init__(data, exclude=exclude, **kwargs)

    def render_iccid(self, value):
        url = reverse("inventory:endpoint_detail", args=[value])
        return format_html('<a href="{}">{}</a>', url, value)

    def render_state(self, value, record):
        # The markup of inventory/_state_badge.html, without a template render per row.
        return format_html(
            '<span class="badge state-badge state-{}">{}</span>', record.state, value
        )

    def render_group(self, value):
        return self.group_names.get(value, "")

    def render_last_activity(self, value):
        return format_html(
            '<time datetime="{}" title="{}">{}</time>',
            value.isoformat(),
            value.strftime("%Y-%m-%d %H:%M:%S %Z"),
            naturaltime(value),
        )

    def render_tags(self, value):
        return format_html_join(
            " ", '<span class="badge text-bg-light border tag">{}</span>', ((t,) for t in value)
        )
