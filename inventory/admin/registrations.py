"""Django admin for provider support: every inventory model, sized for a million
endpoints.

Support sees every account here, so nothing is scoped; but state changes still
go through the rules (``lifecycle`` for suspend / terminate / reinstate,
``editing`` for field edits, ``sim_import`` for batches), so the admin can never
make a transition the portal could not, and every change is in History with
the support user as actor. Rows that only rules may write (addresses, history,
teardowns, network events) are read-only here.

How the big tables count and filter is in ``admin_paging``, how they are
searched in ``admin_search``; the endpoint actions and the SIM import upload
are in ``admin_actions``, the change forms in ``admin_forms``.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from inventory.admin.actions import (
    import_sims_view,
    reinstate_selected,
    suspend_selected,
    terminate_selected,
)
from inventory.admin.forms import EndpointForm, GroupForm, IMSIForm, IMSIInlineForm, VSliceForm
from inventory.admin.search import search_endpoints, search_imsis
from inventory.editing import Edit, EditRefused, apply_edit
from inventory.history import Actor, record
from inventory.models import (
    IMSI,
    Endpoint,
    Group,
    History,
    HistoryAction,
    IPAllocation,
    NetworkEvent,
    NetworkToken,
    SecondaryMembership,
    SessionTeardown,
    State,
    VSlice,
)
from network.tokens import hash_token, new_token
from portal.changelists import RefusesNul
from portal.paging import LargeTableAdmin, fixed_choices_filter

# --- endpoints ----------------------------------------------------------------------


class IMSIInline(admin.TabularInline):
    model = IMSI
    form = IMSIInlineForm
    extra = 0
    min_num = 1
    validate_min = True


#: Shown on an endpoint's page, written only by actions and the network.
_LIFECYCLE_FIELDS = [
    "state",
    "primary_group",
    "secondary",
    "addresses",
    "last_activity",
    "state_changed_at",
    "terminated_at",
    "created_at",
]


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
    actions = [suspend_selected, terminate_selected, reinstate_selected]
    change_list_template = "admin/inventory/endpoint/change_list.html"
    fieldsets = [
        (None, {"fields": ["account", "iccid", "name", "reference", "tags"]}),
        ("IMEI lock", {"fields": ["imei_lock_enabled", "imei"]}),
        ("Lifecycle (changed by actions only)", {"fields": _LIFECYCLE_FIELDS}),
        ("History", {"fields": ["recent_history"]}),
    ]

    _LIFECYCLE = [*_LIFECYCLE_FIELDS, "recent_history"]

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
                (
                    h.at,
                    h.actor_label or h.actor_kind,
                    h.get_action_display(),
                    h.from_state,
                    h.to_state,
                )
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
            record(endpoint=obj, actor=actor, action=HistoryAction.CREATED, to_state=State.PENDING)
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
        return import_sims_view(self, request)


# --- identities and addresses ----------------------------------------------------


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
        return search_imsis(queryset, search_term), False

    def save_model(self, request, obj, form, change):
        obj.account_id = obj.endpoint.account_id
        super().save_model(request, obj, form, change)


class ReadOnlyAdmin(LargeTableAdmin):
    """Rows written only by the rules: staff look, the rules write."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RecordAdmin(ReadOnlyAdmin):
    """What the rules did (addresses, memberships, history, teardowns): kept,
    so not deletable here either."""

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(IPAllocation)
class IPAllocationAdmin(RecordAdmin):
    list_display = ["address", "kind", "endpoint", "group", "vslice", "created_at"]
    list_filter = ["kind", "account", "vslice"]
    list_select_related = ["endpoint", "group", "vslice"]
    search_fields = ["=address", "=endpoint__iccid"]


@admin.register(SecondaryMembership)
class SecondaryMembershipAdmin(RecordAdmin):
    list_display = ["endpoint", "group", "account"]
    list_filter = ["account", "group"]
    list_select_related = ["endpoint", "group", "account"]
    search_fields = ["=endpoint__iccid"]


@admin.register(History)
class HistoryAdmin(RecordAdmin):
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
        fixed_choices_filter("action", "action", tuple(HistoryAction.values)),
        "actor_kind",
        "account",
    ]
    list_select_related = ["endpoint"]
    search_fields = ["=endpoint__iccid", "=actor_label"]
    search_help_text = "Full ICCID, or the username who acted."


@admin.register(SessionTeardown)
class SessionTeardownAdmin(RecordAdmin):
    list_display = ["id", "imsi", "endpoint", "reason", "at"]
    list_filter = [
        fixed_choices_filter("reason", "reason", (State.SUSPENDED.value, State.TERMINATED.value)),
        "account",
    ]
    list_select_related = ["endpoint"]
    search_fields = ["=imsi", "=endpoint__iccid"]


@admin.register(NetworkEvent)
class NetworkEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "type", "imsi", "status", "reason", "endpoint", "ip"]
    list_filter = ["status", "type", "account"]
    list_select_related = ["endpoint"]
    search_fields = ["=imsi", "=event_id", "=endpoint__iccid"]


# --- network configuration ------------------------------------------------------------


@admin.register(VSlice)
class VSliceAdmin(RefusesNul, admin.ModelAdmin):
    form = VSliceForm
    list_display = ["name", "subnet", "account", "alloc_cursor", "created_at"]
    list_filter = ["account"]
    list_select_related = ["account"]
    search_fields = ["name", "account__name"]
    autocomplete_fields = ["account"]

    def get_readonly_fields(self, request, obj=None):
        # Addresses are allocated from the subnet: it cannot move under them.
        return ["account", "subnet", "alloc_cursor"] if obj else ["alloc_cursor"]


@admin.register(Group)
class GroupAdmin(RefusesNul, admin.ModelAdmin):
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
class NetworkTokenAdmin(RefusesNul, admin.ModelAdmin):
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
