"""What a customer API usually looks like, for comparison only (benchmark runs
mount it at /naive-api/): a django-ninja list with ninja's LimitOffsetPagination
(COUNT(*) plus OFFSET), the ORM's ``icontains`` search and nested relations by
``prefetch_related``; the same token auth and endpoint shape as ours."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q
from ninja import NinjaAPI, Schema
from ninja.pagination import LimitOffsetPagination, paginate

from api.auth import ApiTokenAuth
from inventory.models import Endpoint

naive = NinjaAPI(urls_namespace="naive_api", auth=ApiTokenAuth(), docs_url=None)


class NaiveEndpoint(Schema):
    iccid: str
    imsis: list[str]
    name: str
    reference: str
    tags: list[str]
    state: str
    primary_group: str | None
    secondary_groups: list[str]
    ip_addresses: list[str]
    last_activity: datetime | None
    created_at: datetime

    @staticmethod
    def resolve_imsis(obj):
        return [imsi.imsi for imsi in obj.imsis.all()]

    @staticmethod
    def resolve_primary_group(obj):
        return obj.primary_group.name if obj.primary_group else None

    @staticmethod
    def resolve_secondary_groups(obj):
        return [group.name for group in obj.secondary_groups.all()]

    @staticmethod
    def resolve_ip_addresses(obj):
        return [allocation.address for allocation in obj.ip_allocations.all()]


@naive.get("/endpoints", response=list[NaiveEndpoint])
@paginate(LimitOffsetPagination)
def endpoints(
    request, state: str | None = None, group: str | None = None, tag: str | None = None,
    q: str | None = None, ordering: str = "iccid",
):  # fmt: skip
    rows = Endpoint.objects.filter(account=request.account)
    if state:
        rows = rows.filter(state=state)
    if group:
        rows = rows.filter(primary_group__name=group)
    if tag:
        rows = rows.filter(tags__contains=[tag])
    if q:
        rows = rows.filter(
            Q(iccid__icontains=q)
            | Q(name__icontains=q)
            | Q(reference__icontains=q)
            | Q(imsis__imsi__icontains=q)
        ).distinct()
    return (
        rows.order_by(ordering, "iccid")
        .select_related("primary_group")
        .prefetch_related("imsis", "secondary_groups", "ip_allocations")
    )
