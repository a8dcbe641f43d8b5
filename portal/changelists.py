"""What every Django admin changelist refuses, whichever app registered it.

PostgreSQL cannot compare text holding a NUL character. Django checks a filter
value by converting it with its field (``?id=x`` is refused), but text passes
as it is, and any local field may be filtered on from the URL: ``?state=%00``
or ``?name=%00`` answered a 500 (#10). Every ModelAdmin puts ``RefusesNul``
first among its bases; those of Django and django-axes are registered again
with it (portal/admin.py).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist


class NulRefusingChangeList(ChangeList):
    """Refuses a filter holding a NUL the way Django refuses any other lookup
    it cannot run: back to the unfiltered list, here with a message."""

    def get_filters(self, request):
        for name, values in self.get_filters_params().items():
            if "\x00" in name or any("\x00" in value for value in values):
                messages.error(
                    request, "A filter value held a NUL character; showing the list unfiltered."
                )
                raise IncorrectLookupParameters(f"NUL in the filter {name!r}")
            if not self._among_choices(name, values):
                messages.error(request, "A filter value is not one of its choices; showing all.")
                raise IncorrectLookupParameters(f"not a choice of {name!r}")
        return super().get_filters(request)

    def _among_choices(self, name: str, values: list[str]) -> bool:
        """Whether a filter on a field with choices names only those choices:
        some columns behind choices are PostgreSQL enums (Procrastinate's job
        status), which refuse any other text with an error, not an empty list."""
        field_name, _, lookup = name.partition("__")
        if lookup not in ("", "exact"):
            return True
        try:
            field = self.model._meta.get_field(field_name)
        except FieldDoesNotExist:
            return True
        if not getattr(field, "choices", None):
            return True
        allowed = {str(value) for value, _label in field.flatchoices}
        return all(value in allowed for value in values)


class RefusesNul:
    """A ModelAdmin whose filters refuse a NUL, whose search finds nothing for
    one, and whose object views take an empty ``_to_field`` for the primary key.
    The changelist's search box refuses a NUL itself; the autocomplete of a
    foreign key does not."""

    def get_changelist(self, request, **kwargs):
        return NulRefusingChangeList

    def get_object(self, request, object_id, from_field=None):
        # Django's delete and history views pass an empty ``?_to_field=`` on as a
        # field name, and ``_meta.get_field("")`` raises: a 500. Empty means the
        # primary key, as it does in the change view.
        return super().get_object(request, object_id, from_field or None)

    def get_search_results(self, request, queryset, search_term):
        if "\x00" in search_term:
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)
