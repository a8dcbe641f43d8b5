"""The event log's filters (Inventory → Activity, ``GET /api/v1/events``): type,
endpoint, a time range and the keyset cursor; a bad value is a message, never
a 500. The time and cursor rules are the Network events page's."""

from __future__ import annotations

from django import forms

from events.models import EventType
from inventory.forms.events import EventFilterForm
from inventory.models import Endpoint


class ActivityFilterForm(EventFilterForm):
    type = forms.ChoiceField(
        choices=[("", "All types"), *EventType.choices], required=False, label="Type"
    )
    status = None

    def __init__(self, data, *args, account, **kwargs):
        self.account = account
        super().__init__(data, *args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        iccid = cleaned.get("endpoint")
        if iccid:
            # Scoped to the account: another account's ICCID matches nothing.
            found = (
                Endpoint.objects.filter(account=self.account, iccid=iccid)
                .values_list("pk", flat=True)
                .first()
            )
            cleaned["endpoint_id"] = found if found is not None else -1
        return cleaned
