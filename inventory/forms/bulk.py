"""What a bulk action acts on, and the forms of its confirmation page.

A selection is either the ICCIDs ticked on the list (``ids``) or "all matching
this filter" (``select_all=1`` plus the list's query string in ``filter``). The
filter is re-evaluated on the server at every step, so the browser never posts
tens of thousands of ids and the count confirmed is the count acted on. Both
kinds are scoped to the current account: another account's ICCIDs are simply not
found.

The confirmation page signs what it showed (``Confirmation``) into its form; the
confirming POST acts only if the account, action, selection, group and the
number that would change are still the ones shown.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, replace

from django import forms
from django.core import signing
from django.db.models import QuerySet
from django.http import QueryDict

from inventory.filters import EndpointFilterSet
from inventory.identifiers import is_iccid_shaped
from inventory.models import Endpoint, Group

#: Terminating more endpoints than this asks the user to type their number.
TYPED_COUNT_ABOVE = 10
MAX_REASON = 500


class SelectionError(ValueError):
    """The posted selection cannot be acted on; the message says why."""


@dataclass
class Selection:
    endpoints: QuerySet[Endpoint]
    select_all: bool
    ids: list[str]
    filter_query: str

    def hidden_fields(self) -> list[tuple[str, str]]:
        """The inputs that post the same selection again from the confirmation page."""
        fields = [("filter", self.filter_query)]
        if self.select_all:
            return [*fields, ("select_all", "1")]
        return fields + [("ids", iccid) for iccid in self.ids]

    def digest(self) -> str:
        """What was selected, in a fixed size: the filter of "all matching" as
        posted, else the ICCIDs in sorted order."""
        what = f"filter:{self.filter_query}" if self.select_all else f"ids:{sorted(self.ids)}"
        return hashlib.sha256(what.encode()).hexdigest()


def parse_selection(
    *, data: QueryDict, endpoints: QuerySet[Endpoint], account_id: int, groups: list[Group]
) -> Selection:
    """The selection posted in ``data``, as a queryset of the account's
    ``endpoints``. Raises ``SelectionError`` when there is nothing to act on."""
    filter_query = data.get("filter", "")
    if data.get("select_all") == "1":
        filterset = EndpointFilterSet(
            QueryDict(filter_query), endpoints, account_id=account_id, groups=groups
        )
        if not filterset.is_valid():
            raise SelectionError("The list's filter is not valid any more; filter again.")
        return Selection(filterset.qs, True, [], filter_query)
    posted = [i.strip() for i in data.getlist("ids") if i.strip()]
    if not posted:
        raise SelectionError("Select at least one endpoint first.")
    # Only ICCID-shaped values reach the query: anything else cannot match a row,
    # and some values (a NUL byte) PostgreSQL would refuse outright.
    ids = list(dict.fromkeys(i for i in posted if is_iccid_shaped(i)))
    if not ids:
        raise SelectionError("The selection holds no ICCIDs; select the endpoints again.")
    return Selection(endpoints.filter(iccid__in=ids), False, ids, filter_query)


class GroupChoiceForm(forms.Form):
    """The group to assign to: one of the account's groups, nothing else."""

    group = forms.TypedChoiceField(
        coerce=int,
        label="Assign to group",
        error_messages={
            "required": "Choose the group to assign the endpoints to.",
            "invalid_choice": "That group is not one of this account's groups.",
        },
    )

    def __init__(self, *args, groups: list[Group], **kwargs):
        super().__init__(*args, **kwargs)
        self.groups = {g.pk: g for g in groups}
        self.fields["group"].choices = [("", "Choose a group…")] + [(g.pk, g.name) for g in groups]

    @property
    def chosen(self) -> Group | None:
        return self.groups.get(self.cleaned_data["group"]) if self.is_valid() else None


class ConfirmForm(forms.Form):
    """The confirmation: an optional reason, and for large terminations the count
    typed out (checked here, on the server)."""

    reason = forms.CharField(
        label="Reason (optional, kept in each endpoint's history)",
        required=False,
        max_length=MAX_REASON,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    typed_count = forms.CharField(label="Number of endpoints", required=False, max_length=12)

    def __init__(self, *args, must_type: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.must_type = must_type
        if must_type is None:
            del self.fields["typed_count"]
        else:
            self.fields["typed_count"].label = f"Type {must_type:,} to confirm"
            self.fields["typed_count"].widget.attrs.update(
                {"inputmode": "numeric", "autocomplete": "off", "data-typed-count": must_type}
            )

    def clean_typed_count(self) -> int | None:
        typed = (self.cleaned_data.get("typed_count") or "").replace(",", "").strip()
        if self.must_type is None:
            return None
        if typed != str(self.must_type):
            shown = f"you typed “{typed}”" if typed else "nothing was typed"
            raise forms.ValidationError(
                f"Type the number of endpoints that will be terminated, {self.must_type:,}, "
                f"to confirm ({shown}). Nothing was changed.",
                code="typed_count",
            )
        return self.must_type


_CONFIRMATION_SALT = "inventory.confirm_action"


@dataclass(frozen=True)
class Confirmation:
    """What a confirmation page was shown for, signed into its form.

    The confirming POST re-runs the selection in the account current at that
    moment; without this a confirmation previewed in one account (or for one
    selection, or one group) could act on another, and on more endpoints than
    the user read."""

    account_id: int
    action: str
    selection: str
    group_id: int | None
    count: int

    def sign(self) -> str:
        return signing.dumps(asdict(self), salt=_CONFIRMATION_SALT)

    @classmethod
    def read(cls, token: str) -> Confirmation | None:
        """The confirmation ``token`` was signed for; None if it is missing,
        altered or not ours."""
        try:
            return cls(**signing.loads(token, salt=_CONFIRMATION_SALT))
        except (signing.BadSignature, TypeError, ValueError):
            return None

    def same_request(self, other: Confirmation) -> bool:
        """The same account, action, selection and group, whatever the count."""
        return replace(self, count=0) == replace(other, count=0)
