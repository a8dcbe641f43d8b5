"""What the benchmark asks for, chosen from the loaded data: the account of
600,000, its users, a group, a tag, one endpoint to search for, an export of
about 100,000 rows. Deterministic for a given load, so reruns time the same
pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count
from django.utils import timezone

from inventory.models import IMSI, Endpoint, Group, State
from portal.models import Account, Member, Role

ACCOUNT_SLUG = "vantiq"
OPERATOR = "vantiq-operator"
STAFF = "bench-staff"


@dataclass
class Picks:
    account: Account
    operator: object
    staff: object
    endpoints: int  # in the account
    total: int  # in the database
    group: Group  # "one group"
    combo_group: Group
    tag: str
    endpoint: Endpoint  # the one searched for and opened
    imsi: str
    name_fragment: str
    reference_fragment: str
    export_filter: tuple[str, str]  # (param, value) selecting about 100,000 rows
    export_rows: int
    small_export_filter: str  # query string of a few thousand rows
    deep_rows: int  # how deep "the deep page" is


def _operator(account: Account):
    user_model = get_user_model()
    user = user_model.objects.filter(username=OPERATOR).first()
    if user and Member.objects.filter(user=user, account=account).exists():
        return user
    user, _ = user_model.objects.get_or_create(username="bench-operator")
    Member.objects.update_or_create(user=user, account=account, defaults={"role": Role.ADMIN})
    return user


def _staff():
    user, _ = get_user_model().objects.get_or_create(
        username=STAFF, defaults={"is_staff": True, "is_superuser": True}
    )
    return user


def long_standing_admin(account: Account, username: str):
    """An admin of ``account`` who joined 400 days ago: longer than the audit log
    keeps, so all of their own rows are the account's to read."""
    user, _ = get_user_model().objects.get_or_create(username=username)
    Member.objects.update_or_create(
        user=user,
        account=account,
        defaults={"role": Role.ADMIN, "joined_at": timezone.now() - timedelta(days=400)},
    )
    return user


def _fragment(text: str) -> str:
    """Six characters from the middle of the last word: selective, as a user
    typing part of a VIN would be."""
    word = text.split()[-1].split("-")[-1]
    middle = max(0, len(word) // 2 - 3)
    return word[middle : middle + 6]


def choose(*, export_target: int = 100_000) -> Picks:
    account = Account.objects.get(slug=ACCOUNT_SLUG)
    mine = Endpoint.objects.filter(account=account)
    count = mine.count()
    groups = list(
        Group.objects.filter(account=account)
        .annotate(n=Count("primary_endpoints"))
        .order_by("-n", "name")
    )
    # The second-largest group: a filter that neither matches most rows nor few.
    group = groups[1] if len(groups) > 1 else groups[0]
    combo_group = groups[0]
    tag_counts: dict[str, int] = {}
    for tags in mine.filter(id__gte=_median_id(account)).values_list("tags", flat=True)[:20_000]:
        for tag in tags:
            tag_counts[tag] = tag_counts.get(tag, 0) + 1
    tag = sorted(tag_counts, key=lambda t: (tag_counts[t], t))[len(tag_counts) // 2]
    endpoint = (
        mine.filter(id__gte=_median_id(account), state=State.ACTIVE, name__contains=" WVQ")
        .exclude(reference="")
        .order_by("id")
        .first()
    )
    imsi = IMSI.objects.filter(endpoint=endpoint).order_by("imsi").values_list("imsi", flat=True)[0]
    candidates: list[tuple[str, str, int]] = []
    for state in State.values:
        candidates.append(("state", state, mine.filter(state=state).count()))
    for g in groups:
        candidates.append(("group", str(g.pk), g.n))
    for t, n in tag_counts.items():
        candidates.append(("tag", t, mine.filter(tags__contains=[t]).count() if n else 0))
    big = [c for c in candidates if c[2] >= min(export_target, count)]
    param, value, rows = min(big or candidates, key=lambda c: (abs(c[2] - export_target), c[0]))
    return Picks(
        account=account,
        operator=_operator(account),
        staff=_staff(),
        endpoints=count,
        total=Endpoint.objects.count(),
        group=group,
        combo_group=combo_group,
        tag=tag,
        endpoint=endpoint,
        imsi=imsi,
        name_fragment=_fragment(endpoint.name),
        # The start of a reference as typed ("VIN-WVQ" and a few characters).
        reference_fragment=endpoint.reference[:11],
        export_filter=(param, value),
        export_rows=rows,
        small_export_filter=f"state=detached&group={group.pk}",
        deep_rows=min(250_000, count // 2),
    )


def _median_id(account: Account) -> int:
    ids = Endpoint.objects.filter(account=account).order_by("id").values_list("id", flat=True)
    first, last = ids.first(), ids.last()
    return (first + last) // 2
