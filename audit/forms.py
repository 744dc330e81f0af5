"""Auditors' console forms: filters (GET) and the anomaly review (POST)."""

import re
from datetime import date, timedelta

from crispy_forms_gds.fields import DateInputField
from crispy_forms_gds.widgets import DateInputWidget
from django import forms
from django.core.validators import RegexValidator
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


class DayMonthYearWidget(DateInputWidget):
    """GOV.UK date input (day, month, year boxes), not the browser's date picker, which showed mm/dd/yyyy.

    It also reads an ISO date (``date_from=2026-12-04``), the form links and older bookmarks carry."""

    def value_from_datadict(self, data, files, name):
        iso = data.get(name)
        if iso:
            try:
                day = date.fromisoformat(iso)
            except ValueError:
                return [iso, "", ""]  # shown back as not a real date
            return [str(day.day), str(day.month), str(day.year)]
        return super().value_from_datadict(data, files, name)

    def id_for_label(self, id_):
        return f"{id_}_0" if id_ else ""  # the error summary links to the day box


class FilterDateField(DateInputField):
    widget = DayMonthYearWidget

    def __init__(self, *, label, noun):
        super().__init__(label=label, required=False, require_all_fields=False, help_text="For example, 27 11 2026")
        self.noun = noun
        self.error_messages = {**self.error_messages, "incomplete": f"Enter the {noun} as a day, month and year",
                               "invalid": f"The {noun} must be a real date"}
        for part, word in zip(self.fields, ("day", "month", "year")):
            part.error_messages["incomplete"] = f"The {noun} must include a {word}"
            part.validators = [RegexValidator(r"^[0-9]+$", f"The {noun} must be a real date")]

    def compress(self, data_list):
        if not data_list or not any(data_list):
            return None
        try:
            return super().compress(data_list)
        except (forms.ValidationError, ValueError, TypeError) as error:
            raise forms.ValidationError(self.error_messages["invalid"]) from error


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
    date_from = FilterDateField(label="From", noun="start date")
    date_to = FilterDateField(label="To", noun="end date")

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
    date_from = FilterDateField(label="From", noun="start date")
    date_to = FilterDateField(label="To", noun="end date")
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
