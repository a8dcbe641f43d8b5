"""Django admin for provider support: every inventory model, sized for a million
endpoints.

Support sees every account here, so nothing is scoped; but state changes still
go through the rules (``lifecycle`` for suspend / terminate / reinstate,
``editing`` for field edits, ``sim_import`` for batches), so the admin can never
make a transition the portal could not, and every change is in History with
the support user as actor. Rows that only rules may write (addresses, history,
teardowns, network events) are read-only here.

At a million rows the stock changelist pays for COUNT(*) twice per page and
turns every search into a sequential scan. The big tables therefore count
exactly only up to a bound (then use the planner's estimate), and searches send
digits to the ICCID/IMSI indexes and text to the trigram indexes.
"""

from __future__ import annotations

import json
import re

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join

from inventory import lifecycle
from inventory.editing import Edit, EditRefused, apply_edit
from inventory.history import Actor, record
from inventory.identifiers import clean_iccid, clean_imei, clean_imsi, clean_tags
from inventory.models import (
    IMSI,
    Endpoint,
    EventType,
    Group,
    History,
    IPAllocation,
    NetworkEvent,
    NetworkToken,
    SecondaryMembership,
    SessionTeardown,
    State,
    VSlice,
)
from inventory.sim_import import ImportRejected, import_sims
from inventory.tokens import hash_token, new_token
from portal.models import Account

# --- counting and searching at a million rows -------------------------------------

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
    sql, params = queryset.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class LargeTableAdmin(admin.ModelAdmin):
    """Changelist settings for tables of millions of rows."""

    paginator = BoundedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50


_SEPARATORS = re.compile(r"[\s-]+")

# Each ``reverse(...)`` must read exactly like its index definition to be used.
_DIGITS_SQL = """
    "inventory_endpoint"."id" IN (
        SELECT id FROM inventory_endpoint WHERE iccid::text LIKE %s
        UNION SELECT id FROM inventory_endpoint WHERE reverse(iccid::text) LIKE %s
        UNION SELECT endpoint_id FROM inventory_imsi WHERE imsi::text LIKE %s
        UNION SELECT endpoint_id FROM inventory_imsi WHERE reverse(imsi::text) LIKE %s
    )
"""


def _digits(term: str) -> str | None:
    compact = _SEPARATORS.sub("", term)
    return compact if compact.isdigit() else None


def search_endpoints(queryset, term: str):
    """ICCID exact, prefix or suffix and IMSI prefix or suffix for digits; name
    or reference contains for text. Each branch has its index."""
    term = term.strip()
    if not term:
        return queryset
    digits = _digits(term)
    if digits and 19 <= len(digits) <= 20:
        return queryset.filter(iccid=digits)
    if digits:
        prefix, suffix = f"{digits}%", f"{digits[::-1]}%"
        return queryset.filter(
            RawSQL(_DIGITS_SQL, (prefix, suffix, prefix, suffix), output_field=BooleanField())
        )
    return queryset.filter(Q(name__icontains=term) | Q(reference__icontains=term))


# --- endpoints ----------------------------------------------------------------------


class EndpointForm(forms.ModelForm):
    """Identifier rules of PRODUCT.md, as in the portal's forms."""

    tags = forms.CharField(
        required=False, help_text="Comma-separated slugs, at most 20.", strip=True
    )

    class Meta:
        model = Endpoint
        fields = ["account", "iccid", "name", "reference", "tags", "imei_lock_enabled", "imei"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["tags"] = ", ".join(self.instance.tags)

    def clean_iccid(self):
        return clean_iccid(self.cleaned_data["iccid"])

    def clean_tags(self):
        return clean_tags(self.cleaned_data.get("tags") or "")

    def clean_imei(self):
        imei = self.cleaned_data.get("imei") or ""
        return clean_imei(imei) if imei else ""

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("imei_lock_enabled") and not cleaned.get("imei"):
            self.add_error("imei", "An IMEI lock needs the IMEI to lock to.")
        return cleaned


class IMSIInlineForm(forms.ModelForm):
    class Meta:
        model = IMSI
        fields = ["imsi"]

    def clean_imsi(self):
        return clean_imsi(self.cleaned_data["imsi"])


class IMSIInline(admin.TabularInline):
    model = IMSI
    form = IMSIInlineForm
    extra = 0
    min_num = 1
    validate_min = True


class ImportSimsForm(forms.Form):
    account = forms.ModelChoiceField(queryset=Account.objects.all())
    file = forms.FileField(
        label="CSV file",
        help_text="Columns iccid, imsis (separated by ;), name, reference, tags. UTF-8.",
    )
    waive_check_digit = forms.BooleanField(
        required=False,
        label="Waive the ICCID check digit",
        help_text="Only for a supplier batch known to carry non-Luhn ICCIDs.",
    )


#: Rejected lines shown on the import page; the rest are counted.
SHOWN_IMPORT_ERRORS = 500


@admin.register(Endpoint)
class EndpointAdmin(LargeTableAdmin):
    form = EndpointForm
    list_display = ["iccid", "name", "state", "account", "primary_group", "last_activity"]
    list_filter = ["state", "account", "primary_group", "imei_lock_enabled"]
    list_select_related = ["account", "primary_group"]
    search_fields = ["iccid", "name", "reference"]  # see get_search_results
    search_help_text = "ICCID or IMSI (full, first or last digits), or part of a name or reference."
    autocomplete_fields = ["account"]
    inlines = [IMSIInline]
    actions = ["suspend_selected", "terminate_selected", "reinstate_selected"]
    change_list_template = "admin/inventory/endpoint/change_list.html"
    fieldsets = [
        (None, {"fields": ["account", "iccid", "name", "reference", "tags"]}),
        ("IMEI lock", {"fields": ["imei_lock_enabled", "imei"]}),
        (
            "Lifecycle (changed by actions only)",
            {
                "fields": [
                    "state",
                    "primary_group",
                    "secondary",
                    "addresses",
                    "last_activity",
                    "state_changed_at",
                    "terminated_at",
                    "created_at",
                ]
            },
        ),
        ("History", {"fields": ["recent_history"]}),
    ]

    _LIFECYCLE = [
        "state",
        "primary_group",
        "secondary",
        "addresses",
        "last_activity",
        "state_changed_at",
        "terminated_at",
        "created_at",
        "recent_history",
    ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self._LIFECYCLE
        # The ICCID is printed on the SIM: it never changes once created.
        return ["account", "iccid", *self._LIFECYCLE]

    def has_change_permission(self, request, obj=None):
        # A terminated endpoint is only reinstated (an action), never edited.
        if obj is not None and obj.state == State.TERMINATED:
            return False
        return super().has_change_permission(request, obj)

    def get_search_results(self, request, queryset, search_term):
        return search_endpoints(queryset, search_term), False

    def has_delete_permission(self, request, obj=None):
        # Endpoints leave by termination and the 90-day purge, never by deletion.
        return False

    @admin.display(description="Secondary groups")
    def secondary(self, obj):
        names = obj.secondary_groups.values_list("name", flat=True)
        return ", ".join(names) or "—"

    @admin.display(description="IP addresses")
    def addresses(self, obj):
        rows = obj.ip_allocations.select_related("group").order_by("group__name")
        return (
            format_html_join(
                "",
                "<div>{} in {} ({})</div>",
                ((a.address, a.group.name, a.get_kind_display()) for a in rows),
            )
            or "—"
        )

    @admin.display(description="Recent history")
    def recent_history(self, obj):
        rows = obj.history.order_by("-at", "-id")[:10]
        lines = format_html_join(
            "",
            "<tr><td>{:%Y-%m-%d %H:%M}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (h.at, h.actor_label or h.actor_kind, h.action, h.from_state, h.to_state)
                for h in rows
            ),
        )
        link = reverse("admin:inventory_history_changelist") + f"?endpoint__id__exact={obj.pk}"
        return format_html(
            "<table><tr><th>At</th><th>By</th><th>Action</th><th>From</th><th>To</th></tr>{}"
            '</table><a href="{}">All history of this endpoint</a>',
            lines,
            link,
        )

    def save_model(self, request, obj, form, change):
        actor = Actor.for_support(request.user)
        if not change:
            obj.state = State.PENDING
            super().save_model(request, obj, form, change)
            record(endpoint=obj, actor=actor, action="created", to_state=State.PENDING)
            return
        # Field edits go through the same rule as the portal's edit screen.
        current = Endpoint.objects.get(pk=obj.pk)
        edit = Edit(
            name=obj.name,
            reference=obj.reference,
            tags=obj.tags,
            imei_lock_enabled=obj.imei_lock_enabled,
            imei=obj.imei,
            secondary_groups=list(current.secondary_groups.all()),
        )
        try:
            apply_edit(endpoint=current, edit=edit, actor=actor)
        except EditRefused as refused:
            self.message_user(request, f"Not saved: {refused}", messages.ERROR)

    def save_formset(self, request, form, formset, change):
        imsis = formset.save(commit=False)
        for imsi in imsis:
            imsi.account_id = form.instance.account_id
            imsi.save()
        for removed in formset.deleted_objects:
            removed.delete()

    # -- lifecycle actions ------------------------------------------------------------

    def _act(self, request, action: str, queryset):
        rule = {
            lifecycle.SUSPEND: lifecycle.suspend,
            lifecycle.TERMINATE: lifecycle.terminate,
            lifecycle.REINSTATE: lifecycle.reinstate,
        }[action]
        result = rule(
            endpoints=queryset, actor=Actor.for_support(request.user), reason="Django admin"
        )
        level = messages.SUCCESS if result.changed and not result.skipped else messages.WARNING
        self.message_user(request, result.summary(), level)

    @admin.action(description="Suspend selected endpoints", permissions=["change"])
    def suspend_selected(self, request, queryset):
        self._act(request, lifecycle.SUSPEND, queryset)

    @admin.action(description="Terminate selected endpoints…", permissions=["change"])
    def terminate_selected(self, request, queryset):
        if request.POST.get("confirm") != "yes":
            return self._confirm_terminate(request, queryset)
        self._act(request, lifecycle.TERMINATE, queryset)

    @admin.action(
        description="Reinstate selected endpoints (terminated ≤ 90 days ago → Pending)",
        permissions=["change"],
    )
    def reinstate_selected(self, request, queryset):
        self._act(request, lifecycle.REINSTATE, queryset)

    def _confirm_terminate(self, request, queryset):
        """Terminating is not undone by the portal: say how many, show some, ask."""
        preview = lifecycle.preview(action=lifecycle.TERMINATE, endpoints=queryset)
        select_across = request.POST.get("select_across") == "1"
        context = {
            **self.admin_site.each_context(request),
            "title": "Terminate endpoints?",
            "opts": self.model._meta,
            "preview": preview,
            "sample": queryset.select_related("account")[:20],
            "selected": [] if select_across else request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": select_across,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(
            request, "admin/inventory/endpoint/terminate_confirmation.html", context
        )

    # -- SIM import -------------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="inventory_endpoint_import",
            ),
            *super().get_urls(),
        ]

    def import_view(self, request):
        """The same import as ``manage.py import_sims``: all or nothing, every
        bad line listed by number."""
        if not self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:inventory_endpoint_changelist"))
        errors = []
        if request.method == "POST":
            form = ImportSimsForm(request.POST, request.FILES)
            if form.is_valid():
                account = form.cleaned_data["account"]
                try:
                    result = import_sims(
                        form.cleaned_data["file"].file,
                        account=account,
                        actor=Actor.for_support(request.user),
                        waive_check_digit=form.cleaned_data["waive_check_digit"],
                    )
                except ImportRejected as rejected:
                    errors = rejected.errors
                else:
                    self.message_user(
                        request, f"{result.summary()} into {account.name}.", messages.SUCCESS
                    )
                    changelist = reverse("admin:inventory_endpoint_changelist")
                    return HttpResponseRedirect(
                        f"{changelist}?account__id__exact={account.pk}&state__exact=pending"
                    )
        else:
            form = ImportSimsForm()
        context = {
            **self.admin_site.each_context(request),
            "title": "Import SIMs",
            "opts": self.model._meta,
            "form": form,
            "errors": errors[:SHOWN_IMPORT_ERRORS],
            "error_count": len(errors),
            "more_errors": max(0, len(errors) - SHOWN_IMPORT_ERRORS),
        }
        return TemplateResponse(request, "admin/inventory/endpoint/import_sims.html", context)


# --- identities and addresses ----------------------------------------------------


class IMSIForm(forms.ModelForm):
    class Meta:
        model = IMSI
        fields = ["endpoint", "imsi"]

    def clean_imsi(self):
        return clean_imsi(self.cleaned_data["imsi"])


@admin.register(IMSI)
class IMSIAdmin(LargeTableAdmin):
    form = IMSIForm
    list_display = ["imsi", "endpoint", "account"]
    list_filter = ["account"]
    list_select_related = ["endpoint", "account"]
    search_fields = ["imsi"]
    search_help_text = "IMSI (full or first digits), or the full ICCID of its endpoint."
    autocomplete_fields = ["endpoint"]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        digits = _digits(term)
        if not term:
            return queryset, False
        if not digits:
            return queryset.none(), False
        if 19 <= len(digits) <= 20:
            return queryset.filter(endpoint__iccid=digits), False
        return queryset.filter(imsi__startswith=digits), False

    def save_model(self, request, obj, form, change):
        obj.account_id = obj.endpoint.account_id
        super().save_model(request, obj, form, change)


class ReadOnlyAdmin(LargeTableAdmin):
    """Rows written only by the rules: staff look, the rules write."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(IPAllocation)
class IPAllocationAdmin(ReadOnlyAdmin):
    list_display = ["address", "kind", "endpoint", "group", "vslice", "created_at"]
    list_filter = ["kind", "account", "vslice"]
    list_select_related = ["endpoint", "group", "vslice"]
    search_fields = ["=address", "=endpoint__iccid"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SecondaryMembership)
class SecondaryMembershipAdmin(ReadOnlyAdmin):
    list_display = ["endpoint", "group", "account"]
    list_filter = ["account", "group"]
    list_select_related = ["endpoint", "group", "account"]
    search_fields = ["=endpoint__iccid"]

    def has_delete_permission(self, request, obj=None):
        return False


#: History actions, as the rules write them (lifecycle, editing, addressing, network).
HISTORY_ACTIONS = (
    "created",
    *lifecycle.ACTIONS,
    "edited",
    "static_ip",
    *EventType.values,
    "session_rejected",
)


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


@admin.register(History)
class HistoryAdmin(ReadOnlyAdmin):
    list_display = [
        "at",
        "endpoint",
        "action",
        "from_state",
        "to_state",
        "actor_kind",
        "actor_label",
    ]
    list_filter = [
        fixed_choices_filter("action", "action", HISTORY_ACTIONS),
        "actor_kind",
        "account",
    ]
    list_select_related = ["endpoint"]
    search_fields = ["=endpoint__iccid", "=actor_label"]
    search_help_text = "Full ICCID, or the username who acted."

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SessionTeardown)
class SessionTeardownAdmin(ReadOnlyAdmin):
    list_display = ["id", "imsi", "endpoint", "reason", "at"]
    list_filter = [
        fixed_choices_filter("reason", "reason", (State.SUSPENDED.value, State.TERMINATED.value)),
        "account",
    ]
    list_select_related = ["endpoint"]
    search_fields = ["=imsi", "=endpoint__iccid"]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(NetworkEvent)
class NetworkEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "type", "imsi", "status", "reason", "endpoint", "ip"]
    list_filter = ["status", "type", "account"]
    list_select_related = ["endpoint"]
    search_fields = ["=imsi", "=event_id", "=endpoint__iccid"]


# --- network configuration ------------------------------------------------------------


class VSliceForm(forms.ModelForm):
    class Meta:
        model = VSlice
        fields = ["account", "name", "subnet"]


@admin.register(VSlice)
class VSliceAdmin(admin.ModelAdmin):
    form = VSliceForm
    list_display = ["name", "subnet", "account", "alloc_cursor", "created_at"]
    list_filter = ["account"]
    list_select_related = ["account"]
    search_fields = ["name", "account__name"]
    autocomplete_fields = ["account"]

    def get_readonly_fields(self, request, obj=None):
        # Addresses are allocated from the subnet: it cannot move under them.
        return ["account", "subnet", "alloc_cursor"] if obj else ["alloc_cursor"]


class GroupForm(forms.ModelForm):
    class Meta:
        model = Group
        fields = ["account", "name", "vslice", "apn"]

    def clean(self):
        cleaned = super().clean()
        account = cleaned.get("account") or getattr(self.instance, "account", None)
        vslice = cleaned.get("vslice") or getattr(self.instance, "vslice", None)
        if account and vslice and vslice.account_id != account.pk:
            self.add_error("vslice", f"{vslice} belongs to another account.")
        return cleaned


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    form = GroupForm
    list_display = ["name", "apn", "vslice", "account", "created_at"]
    list_filter = ["account"]
    list_select_related = ["account", "vslice"]
    search_fields = ["name", "apn", "account__name"]
    autocomplete_fields = ["account", "vslice"]

    def get_readonly_fields(self, request, obj=None):
        return ["account", "vslice"] if obj else []


# --- network tokens ----------------------------------------------------------------------


@admin.register(NetworkToken)
class NetworkTokenAdmin(admin.ModelAdmin):
    """A new token is generated on save and shown once; only its hash is kept."""

    list_display = ["name", "enabled", "created_at", "last_used_at"]
    list_filter = ["enabled"]
    search_fields = ["name"]
    fields = ["name", "enabled", "token_hash", "created_at", "last_used_at"]
    readonly_fields = ["token_hash", "created_at", "last_used_at"]
    actions = ["enable", "disable"]

    def save_model(self, request, obj, form, change):
        token = None
        if not change:
            token = new_token()
            obj.token_hash = hash_token(token)
        super().save_model(request, obj, form, change)
        if token:
            self.message_user(
                request,
                f"Token for “{obj.name}”: {token} — copy it now, it is not shown again.",
                messages.WARNING,
            )

    @admin.action(description="Enable selected tokens")
    def enable(self, request, queryset):
        count = queryset.update(enabled=True)
        self.message_user(request, f"{count} token(s) enabled.", messages.SUCCESS)

    @admin.action(description="Disable selected tokens")
    def disable(self, request, queryset):
        count = queryset.update(enabled=False)
        self.message_user(request, f"{count} token(s) disabled.", messages.SUCCESS)
