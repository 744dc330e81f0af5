"""Auditors' console forms: filters (GET) and the anomaly review (POST)."""

import re
from datetime import timedelta

from django import forms
from django.utils import timezone

from audit import actions
from audit.models import AccessEvent
from audit.selectors import ANOMALY_KINDS, EventFilter

CHILD_REF = re.compile(r"^C-[A-Z0-9]{5}-[A-Z0-9]{5}\Z")


def clean_child_ref(value: str) -> str:
    value = (value or "").strip().upper()
    if value and not CHILD_REF.match(value):
        raise forms.ValidationError("Enter a child reference in the form C-XXXXX-XXXXX, like C-AB2CD-EF3GH.")
    return value


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self):
        super().__init__(format="%Y-%m-%d", attrs={"class": "govuk-input govuk-input--width-10"})


def _text(label, width=20, **kwargs):
    return forms.CharField(label=label, required=False, max_length=150, strip=True,
                           widget=forms.TextInput(attrs={"class": f"govuk-input govuk-input--width-{width}"}), **kwargs)


class DateRangeMixin:
    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date must be the same as or after the start date.")
        return data


class EventFilterForm(DateRangeMixin, forms.Form):
    actor = _text("Username of the person who acted")
    organisation = _text("Organisation name (or part of it)")
    child_ref = _text("Child reference", width=10, help_text="For example, C-AB2CD-EF3GH")
    action = forms.ChoiceField(label="Action", required=False, choices=[("", "Any action"), *actions.choices()],
                               widget=forms.Select(attrs={"class": "govuk-select"}))
    outcome = forms.ChoiceField(label="Outcome", required=False,
                                choices=[("", "Allowed or denied"), *AccessEvent.Outcome.choices],
                                widget=forms.Select(attrs={"class": "govuk-select"}))
    date_from = forms.DateField(label="From", required=False, widget=DateInput())
    date_to = forms.DateField(label="To", required=False, widget=DateInput())

    def clean_child_ref(self):
        return clean_child_ref(self.cleaned_data["child_ref"])

    def event_filter(self) -> EventFilter:
        return EventFilter(**{name: self.cleaned_data.get(name) or EventFilter.__dataclass_fields__[name].default
                              for name in EventFilter.__dataclass_fields__})


class ChildReportForm(forms.Form):
    ref = _text("Child reference", width=10, help_text="For example, C-AB2CD-EF3GH")

    def clean_ref(self):
        value = clean_child_ref(self.cleaned_data["ref"])
        if not value:
            raise forms.ValidationError("Enter the child reference")
        return value


class AnomalyFilterForm(DateRangeMixin, forms.Form):
    kind = forms.ChoiceField(choices=list(ANOMALY_KINDS.items()), required=False)
    date_from = forms.DateField(label="From", required=False, widget=DateInput())
    date_to = forms.DateField(label="To", required=False, widget=DateInput())
    include_reviewed = forms.BooleanField(label="Include anomalies already reviewed", required=False,
                                          widget=forms.CheckboxInput(attrs={"class": "govuk-checkboxes__input"}))

    DEFAULT_DAYS = 30

    @classmethod
    def period(cls, cleaned_data: dict):
        """(since, until) dates: the last 30 days unless the auditor chose."""
        today = timezone.localdate()
        since = cleaned_data.get("date_from") or today - timedelta(days=cls.DEFAULT_DAYS)
        return since, cleaned_data.get("date_to") or today


class ReviewForm(forms.Form):
    comment = forms.CharField(
        label="What did you find?", max_length=2000, strip=True,
        error_messages={"required": "Enter what you found"},
        widget=forms.Textarea(attrs={"class": "govuk-textarea", "rows": 4}),
    )
