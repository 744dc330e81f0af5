"""Forms for the practitioner and LA admin pages. They parse input; the services decide."""

import re

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.utils import timezone
from crispy_forms_gds.fields import DateInputField
from crispy_forms_gds.widgets import DateInputWidget

from practitioners.models import AccessGrant, Organisation, Practitioner


def add_service_errors(form, error: forms.ValidationError, *, fields: dict[str, str] | None = None) -> None:
    """Put a service's ValidationError on a form (any app's): each message at its field when the
    form has it (``fields`` maps the model's field name to the form's), the rest at the top."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for field, errors in error.error_dict.items():
        target = (fields or {}).get(field, field)
        form.add_error(target if target in form.fields else None, errors)


_USERNAME = re.compile(r"^[\w.@+-]+\Z")


def _no_nul(value: str) -> str:
    if "\x00" in (value or ""):
        raise forms.ValidationError("Remove the invalid character from your answer.")
    return value


class DayMonthYearWidget(DateInputWidget):
    def id_for_label(self, id_):
        # Django's MultiWidget labels nothing; the error summary must link to the day box.
        return f"{id_}_0" if id_ else ""


class Radios(forms.RadioSelect):
    def id_for_label(self, id_, index=None):
        # The GOV.UK radios template numbers options from 1; the error summary links to the first.
        return f"{id_}_1" if id_ and index is None else super().id_for_label(id_, index)


class DateField(DateInputField):
    """GOV.UK date input (day, month, year) with messages that say which date is wrong."""

    widget = DayMonthYearWidget

    def __init__(self, *, label, noun="", help_text="", required=True):
        super().__init__(label=label, help_text=help_text, required=required, require_all_fields=False)
        noun = noun or label.lower()
        self.error_messages = {**self.error_messages,
                               "required": f"Enter the {noun}",
                               "incomplete": f"Enter the {noun} as a day, month and year",
                               "invalid": f"The {noun} must be a real date"}

    def compress(self, data_list):
        # The boxes hold ASCII digits by now; more than 2 (day, month) or 4 (year) of them is no date,
        # and date() would raise OverflowError, not ValueError, on a 10-digit day.
        day, month, year = (str(part or "") for part in data_list)
        if len(day) > 2 or len(month) > 2 or len(year) > 4:
            raise forms.ValidationError(self.error_messages["invalid"])
        try:
            return super().compress(data_list)
        except (forms.ValidationError, OverflowError) as error:
            raise forms.ValidationError(self.error_messages["invalid"]) from error


class _AccountDetails(forms.Form):
    """Who the account is for: shared by self-registration and an LA admin's new account."""

    first_name = forms.CharField(label="First name", max_length=150, validators=[_no_nul])
    last_name = forms.CharField(label="Last name", max_length=150, validators=[_no_nul])
    email = forms.EmailField(label="Work email address", help_text="Signpost will contact you here.")
    organisation = forms.ModelChoiceField(
        label="Organisation you work for", queryset=Organisation.objects.select_related("local_authority"),
        empty_label="Choose your organisation",
        help_text="The local authority for this organisation's area will check your vetting and training.",
    )
    job_title = forms.CharField(label="Job title", max_length=120, validators=[_no_nul])
    work_phone = forms.CharField(label="Work phone number", max_length=40, validators=[_no_nul])
    username = forms.RegexField(
        label="Username", max_length=150, regex=_USERNAME,
        help_text="Letters, digits and . @ + - _ only. You will sign in with this.",
        error_messages={"invalid": "Enter a username using only letters, digits and . @ + - _"},
    )

    # Each missing answer says what to enter, so the error summary never repeats "This field is required."
    REQUIRED = {"first_name": "Enter a first name", "last_name": "Enter a last name",
                "email": "Enter a work email address", "organisation": "Choose your organisation",
                "job_title": "Enter a job title", "work_phone": "Enter a work phone number",
                "username": "Enter a username", "password1": "Enter a password",
                "password2": "Enter the password again"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].label_from_instance = lambda o: f"{o.name} ({o.local_authority.name})"
        # A long list: static/signpost/autocomplete.js lets people type to find theirs (the <select> works without JS).
        self.fields["organisation"].widget.attrs["data-signpost-autocomplete"] = ""
        for name, message in self.REQUIRED.items():
            if name in self.fields:
                self.fields[name].error_messages["required"] = message
        self.fields["email"].error_messages["invalid"] = ("Enter an email address in the correct format, "
                                                          "like name@example.org")
        self.fields["organisation"].error_messages["invalid_choice"] = "Choose an organisation from the list"

    def clean_username(self):
        # Normalise (NFKC) as the user model will when it saves, and only then check it is free:
        # a full-width "ｊｏｅ１" is "joe1", and must meet the existing "joe1" here, not in the database.
        username = get_user_model().normalize_username(self.cleaned_data["username"])
        # NFKC can also bring in other characters ("¼" is "1⁄4") or lengthen it ("ﷺ" is 18 letters).
        if not _USERNAME.fullmatch(username):
            raise forms.ValidationError(self.fields["username"].error_messages["invalid"])
        if len(username) > self.fields["username"].max_length:
            raise forms.ValidationError(f"Enter a username of at most {self.fields['username'].max_length} characters")
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("That username is taken: choose another")
        return username


class RegistrationForm(_AccountDetails):
    # Signpost chooses the username (services.register_practitioner), so the public form cannot be
    # used to find out which usernames exist (issue 17).
    username = None

    password1 = forms.CharField(
        label="Password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 12 characters. Avoid common passwords and your own name.",
    )
    password2 = forms.CharField(
        label="Confirm password", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The passwords do not match")
        elif first:
            candidate = get_user_model()(username=cleaned.get("username", ""), email=cleaned.get("email", ""),
                                         first_name=cleaned.get("first_name", ""),
                                         last_name=cleaned.get("last_name", ""))
            try:
                password_validation.validate_password(first, candidate)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class VettingForm(forms.Form):
    vetting_checked_on = DateField(label="Date of vetting check", help_text="For example, 27 3 2026")
    vetting_expires_on = DateField(label="Vetting check expiry date")
    training_completed_on = DateField(
        label="Date safeguarding training was completed",
        help_text=f"Training counts as current for {settings.TRAINING_VALID_FOR.days} days.",
    )


class NewAccountForm(_AccountDetails, VettingForm):
    """An LA admin creates an approved account for a practitioner in one of their organisations.

    The labels speak to the admin about the practitioner; who they are comes before their vetting."""

    REQUIRED = {**_AccountDetails.REQUIRED, "organisation": "Choose the practitioner's organisation"}
    field_order = [*_AccountDetails.base_fields, *VettingForm.base_fields]

    def __init__(self, *args, organisations, **kwargs):
        super().__init__(*args, **kwargs)
        organisation = self.fields["organisation"]
        organisation.queryset = organisations
        organisation.label = "Practitioner's organisation"
        organisation.empty_label = "Choose the practitioner's organisation"
        organisation.help_text = "One of the organisations in your local authority's area."
        self.fields["email"].label = "Practitioner's work email address"
        self.fields["email"].help_text = "We email a link here for them to set a password."
        self.fields["job_title"].label = "Practitioner's job title"
        self.fields["work_phone"].label = "Practitioner's work phone number"
        self.fields["username"].help_text = "Letters, digits and . @ + - _ only. They sign in with this."


class ApproveForm(VettingForm):
    note = forms.CharField(label="Note (optional)", required=False, widget=forms.Textarea(attrs={"rows": 3}),
                           validators=[_no_nul], help_text="Recorded with the approval.")


class SuspendForm(forms.Form):
    reason = forms.CharField(label="Why are you suspending this account?", widget=forms.Textarea(attrs={"rows": 4}),
                             validators=[_no_nul], error_messages={"required": "Enter the reason for suspending"},
                             help_text="The practitioner is signed out at once and loses every grant.")


class ResetAuthenticatorForm(forms.Form):
    reason = forms.CharField(
        label="Why are you resetting their authenticator?", widget=forms.Textarea(attrs={"rows": 3}),
        validators=[_no_nul], error_messages={"required": "Enter the reason for resetting the authenticator"},
        help_text="For example: reported a lost phone by phone call on 4 December; identity checked with their manager.")


class ReinstateForm(forms.Form):
    reason = forms.CharField(label="Why are you reinstating this account?", widget=forms.Textarea(attrs={"rows": 4}),
                             validators=[_no_nul], error_messages={"required": "Enter the reason for reinstating"})
    vetting_checked_on = DateField(label="Date of vetting check", required=False,
                                   help_text="Only if it has been renewed.")
    vetting_expires_on = DateField(label="Vetting check expiry date", required=False)
    training_completed_on = DateField(label="Date safeguarding training was completed", required=False)


class StatusFilterForm(forms.Form):
    status = forms.ChoiceField(label="Status", required=False,
                               choices=[("", "All statuses"), *Practitioner.Status.choices])


class ReasonForm(forms.Form):
    """A practitioner's reason for access: requests and break-glass."""

    minimum = 1

    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), validators=[_no_nul])

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if len(reason) < self.minimum:
            raise forms.ValidationError(f"Give the reason in at least {self.minimum} characters")
        return reason


class AccessRequestForm(ReasonForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.minimum = settings.ACCESS_REQUEST_REASON_MIN_LENGTH
        field = self.fields["reason"]
        field.label = "Why do you need to see this child's record?"
        field.help_text = "The local authority's Signpost administrator reads this before deciding."
        field.error_messages["required"] = "Enter why you need to see this record"


class BreakGlassForm(ReasonForm):
    confirm = forms.BooleanField(
        label="I understand that this emergency access is recorded and will be reviewed",
        error_messages={"required": "Confirm that you understand emergency access is reviewed"},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.minimum = settings.BREAK_GLASS_REASON_MIN_LENGTH
        field = self.fields["reason"]
        field.label = "What is the emergency?"
        field.help_text = (f"At least {self.minimum} characters. Auditors and the child's local authority "
                           "will review this use.")
        field.error_messages["required"] = "Enter the reason for emergency access"


class DecisionForm(forms.Form):
    APPROVE, REFUSE = "approve", "refuse"

    decision = forms.ChoiceField(
        label="Your decision", widget=Radios,
        choices=[(APPROVE, "Approve: give access until the date below"), (REFUSE, "Refuse: give the reason below")],
        error_messages={"required": "Choose whether to approve or refuse the request"},
    )
    expires_on = DateField(label="Access ends on", noun="date access ends", required=False,
                           help_text=f"If you approve. At most {settings.ACCESS_GRANT_MAX_DURATION.days} days from today.")
    refusal_reason = forms.CharField(label="Reason for refusing", required=False, validators=[_no_nul],
                                     widget=forms.Textarea(attrs={"rows": 3}),
                                     help_text="If you refuse. The practitioner sees this.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["expires_on"].initial = timezone.localdate() + settings.ACCESS_GRANT_DEFAULT_DURATION

    def clean(self):
        cleaned = super().clean()
        decision = cleaned.get("decision")
        if decision == self.APPROVE and not cleaned.get("expires_on") and "expires_on" not in self.errors:
            self.add_error("expires_on", "Enter the date access ends")
        if decision == self.REFUSE and not (cleaned.get("refusal_reason") or "").strip():
            self.add_error("refusal_reason", "Enter the reason for refusing")
        return cleaned


class BreakGlassReviewForm(forms.Form):
    outcome = forms.ChoiceField(label="Was this emergency access justified?", widget=Radios,
                                choices=AccessGrant.ReviewOutcome.choices,
                                error_messages={"required": "Choose whether the use was justified"})
    comment = forms.CharField(label="Comment", required=False, widget=forms.Textarea(attrs={"rows": 3}),
                              validators=[_no_nul], help_text="Required if it was not justified: the follow-up. Not justified ends the emergency access "
                                        "at once, and any relationship claimed under it.")


class ClaimDecisionForm(forms.Form):
    CONFIRM, END = "confirm", "end"
    decision = forms.ChoiceField(
        label="Is this organisation working with the child?", widget=Radios,
        choices=[(CONFIRM, "Yes: confirm it. The organisation's practitioners can open the record while the "
                           "involvement is open"),
                 (END, "No, or not known: end it now. The involvement ends and any access it gave ends")],
        error_messages={"required": "Choose whether to confirm or end this claim"})
    reason = forms.CharField(label="Reason", required=False, widget=forms.Textarea(attrs={"rows": 3}),
                             validators=[_no_nul], help_text="Required when you end it. Do not describe the child.")

    def clean(self):
        data = super().clean()
        if data.get("decision") == self.END and not (data.get("reason") or "").strip():
            self.add_error("reason", "Enter the reason for ending this claim")
        return data


class EndGrantForm(forms.Form):
    reason = forms.CharField(label="Why are you ending this access?", widget=forms.Textarea(attrs={"rows": 3}),
                             validators=[_no_nul], error_messages={"required": "Enter the reason for ending this access"},
                             help_text="The practitioner loses access at once. Do not describe the child.")


class DataManagerForm(forms.Form):
    data_manager = forms.TypedChoiceField(
        label="Can this practitioner upload involvements for their organisation as a CSV file?", widget=Radios,
        choices=[("yes", "Yes: give the data manager duty"), ("no", "No")], coerce=lambda v: v == "yes",
        error_messages={"required": "Choose whether this practitioner is a data manager"})
