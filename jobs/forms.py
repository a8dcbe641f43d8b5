"""The jobs page's filters: a bad value is reported, never a 500."""

from __future__ import annotations

from django import forms

from jobs.models import Action, JobState


class JobFilterForm(forms.Form):
    state = forms.ChoiceField(
        choices=[("", "All states"), *JobState.choices], required=False, label="State"
    )
    action = forms.ChoiceField(
        choices=[("", "All actions"), *Action.choices], required=False, label="Action"
    )
    #: Keyset pagination: show jobs older than this id.
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def clean_before(self) -> int | None:
        before = self.cleaned_data["before"]
        if before is not None and before > 2**62:
            raise forms.ValidationError("This page link is broken; start from the newest jobs.")
        return before
