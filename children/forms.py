"""Forms for the search and the record's actions. Each error names what to fix, next to its field."""

from datetime import date

from django import forms
from django.utils import timezone

from children import identifiers, names
from children.matching import Query
from children.models import ContactRequest
from practitioners.forms import Radios
from practitioners.models import LocalAuthority


def _no_nul(value: str) -> str:
    """PostgreSQL refuses NUL bytes in text: strip them here rather than fail later (SPEC 8)."""
    return (value or "").replace("\x00", "").strip()


class DateParts:
    """Day, month and year boxes (GOV.UK date input) checked into one date."""

    @staticmethod
    def clean(form, prefix: str, label: str, *, required: bool) -> date | None:
        raw = [_no_nul(form.data.get(f"{prefix}_{part}", "")) for part in ("day", "month", "year")]
        if not any(raw):
            if required:
                form.add_error(f"{prefix}_day", f"Enter the {label}")
            return None
        missing = [part for part, value in zip(("day", "month", "year"), raw) if not value]
        if missing:
            form.add_error(f"{prefix}_{missing[0]}", f"The {label} must include a {missing[0]}")
            return None
        # Day and month at most two digits: date() overflows (OverflowError, not ValueError) on huge numbers.
        if (not all(value.isascii() and value.isdigit() for value in raw)
                or len(raw[0]) > 2 or len(raw[1]) > 2 or len(raw[2]) != 4):
            form.add_error(f"{prefix}_day", f"The {label} must be a real date, like 27 3 2015")
            return None
        try:
            value = date(int(raw[2]), int(raw[1]), int(raw[0]))
        except (ValueError, OverflowError):
            form.add_error(f"{prefix}_day", f"The {label} must be a real date, like 27 3 2015")
            return None
        if value > timezone.localdate():
            form.add_error(f"{prefix}_day", f"The {label} must be today or in the past")
            return None
        if value.year < 1900:
            form.add_error(f"{prefix}_year", f"The {label} must be after 1900")
            return None
        return value


class SearchForm(forms.Form):
    given_name = forms.CharField(label="Given name", required=False, max_length=100)
    family_name = forms.CharField(label="Family name", required=False, max_length=100)
    dob_day = forms.CharField(label="Day", required=False, max_length=2)
    dob_month = forms.CharField(label="Month", required=False, max_length=2)
    dob_year = forms.CharField(label="Year", required=False, max_length=4)
    postcode = forms.CharField(label="Postcode", required=False, max_length=8,
                               help_text="A full postcode, or just the first part, like W6 or W6 9")
    # Scored when given: a child of the other sex scores lower (issue #15). Not one of the "two of" facts.
    sex = forms.ChoiceField(label="Sex (optional)", required=False,
                            choices=[("", "Not known"), ("F", "Female"), ("M", "Male")])
    nhs_number = forms.CharField(label="NHS number", required=False, max_length=14,
                                 help_text="10 digits, like 943 476 5919")
    upn = forms.CharField(label="Unique pupil number (UPN)", required=False, max_length=13,
                          help_text="13 characters, like A801200001001")
    similar = forms.BooleanField(label="Include similar names and dates", required=False)

    def clean(self):
        data = {k: _no_nul(v) if isinstance(v, str) else v for k, v in super().clean().items()}
        data["date_of_birth"] = DateParts.clean(self, "dob", "date of birth", required=False)
        if data.get("given_name") and not names.normalise(data["given_name"]):
            self.add_error("given_name", "Given name must include letters")
        if data.get("family_name") and not names.normalise(data["family_name"]):
            self.add_error("family_name", "Family name must include letters")
        if data.get("postcode") and not identifiers.parse_search_postcode(data["postcode"])[0]:
            self.add_error("postcode", "Enter a real postcode, like W6 9LA, or its first part, like W6")
        if data.get("nhs_number") and not identifiers.is_valid_nhs_number(data["nhs_number"]):
            self.add_error("nhs_number", "Enter a valid NHS number: 10 digits, like 943 476 5919 "
                                         "(the last digit is a check digit)")
        if data.get("upn") and not identifiers.is_valid_upn(data["upn"]):
            self.add_error("upn", "Enter a valid UPN: a check letter then 12 characters, like A801200001001")
        if self.errors:
            return data
        has_name = bool(data.get("given_name") or data.get("family_name"))
        given = sum([has_name, data["date_of_birth"] is not None, bool(data.get("postcode"))])
        if given < 2 and not (data.get("nhs_number") or data.get("upn")):
            target = "family_name" if not has_name else ("dob_day" if data["date_of_birth"] is None else "postcode")
            self.add_error(target, "Enter at least two of: a name, a date of birth, a postcode — "
                                   "or an NHS number or UPN")
        return data

    def query(self) -> Query:
        data = self.cleaned_data
        return Query.of(given_name=data["given_name"], family_name=data["family_name"],
                        date_of_birth=data["date_of_birth"], postcode=data["postcode"], sex=data.get("sex", ""),
                        nhs_number=data["nhs_number"], upn=data["upn"])


class InvolvementForm(forms.Form):
    service = forms.ModelChoiceField(queryset=None, label="Service", empty_label="Choose a service",
                                     error_messages={"required": "Choose the service that is working with the child",
                                                     "invalid_choice": "Choose a service your organisation provides"})
    lead_practitioner = forms.ModelChoiceField(
        queryset=None, label="Lead practitioner (optional)", required=False, empty_label="No named lead",
        error_messages={"invalid_choice": "Choose a lead practitioner from your organisation"})
    contact_phone = forms.CharField(label="Team phone number", required=False, max_length=40)
    contact_email = forms.EmailField(label="Team email address", required=False,
                                     error_messages={"invalid": "Enter an email address, like team@example.org"})
    start_day = forms.CharField(label="Day", required=False, max_length=2)
    start_month = forms.CharField(label="Month", required=False, max_length=2)
    start_year = forms.CharField(label="Year", required=False, max_length=4)

    def __init__(self, *args, services, colleagues, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = services
        self.fields["lead_practitioner"].queryset = colleagues
        self.fields["lead_practitioner"].label_from_instance = lambda p: f"{p.user.get_full_name()} ({p.job_title})"

    def clean(self):
        data = super().clean()
        for key in ("contact_phone",):
            data[key] = _no_nul(data.get(key, ""))
        data["started_on"] = DateParts.clean(self, "start", "start date", required=True)
        if not self.has_error("contact_phone") and not (data.get("contact_phone") or data.get("contact_email")):
            if not self.has_error("contact_email"):
                self.add_error("contact_phone", "Give a contact route: a team phone number or email address")
        return data


class EndInvolvementForm(forms.Form):
    end_day = forms.CharField(label="Day", required=False, max_length=2)
    end_month = forms.CharField(label="Month", required=False, max_length=2)
    end_year = forms.CharField(label="Year", required=False, max_length=4)

    def clean(self):
        data = super().clean()
        data["ended_on"] = DateParts.clean(self, "end", "end date", required=True)
        return data


class MoveForm(forms.Form):
    address_line = forms.CharField(label="Address", max_length=200,
                                   error_messages={"required": "Enter the new address"})
    postcode = forms.CharField(label="Postcode", max_length=8, error_messages={"required": "Enter the postcode"})
    local_authority = forms.ModelChoiceField(
        queryset=LocalAuthority.objects.all(), label="Local authority", empty_label="Choose a local authority",
        error_messages={"required": "Choose the local authority of the new address"})
    moved_day = forms.CharField(label="Day", required=False, max_length=2)
    moved_month = forms.CharField(label="Month", required=False, max_length=2)
    moved_year = forms.CharField(label="Year", required=False, max_length=4)

    def clean(self):
        data = super().clean()
        data["address_line"] = _no_nul(data.get("address_line", ""))
        if data.get("postcode") and not identifiers.normalise_postcode(_no_nul(data["postcode"])):
            self.add_error("postcode", "Enter a real UK postcode, like SW1A 1AA")
        data["moved_in_on"] = DateParts.clean(self, "moved", "date of the move", required=True)
        return data


class ContactRequestForm(forms.Form):
    """Why the practitioner wants to be contacted: a choice, never free text, so no case detail can
    travel in the request (SPEC principle 1)."""

    reason = forms.ChoiceField(
        label="Why do you want the services to contact you?", widget=Radios, choices=ContactRequest.Reason.choices,
        error_messages={"required": "Choose why you want the services to contact you",
                        "invalid_choice": "Choose why you want the services to contact you"})
