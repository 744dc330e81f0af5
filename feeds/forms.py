from django import forms
from django.conf import settings

from children.models import Child
from practitioners.models import Organisation


class OrganisationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.local_authority.name})"


class IssueTokenForm(forms.Form):
    organisation = OrganisationChoiceField(
        queryset=Organisation.objects.none(), empty_label="Choose an organisation",
        error_messages={"required": "Choose the organisation the token is for."},
    )
    name = forms.CharField(
        label="Token name", max_length=100, help_text="What will use it, for example 'School MIS nightly export'.",
        error_messages={"required": "Enter a name for the token."},
    )

    def __init__(self, *args, organisations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = organisations


class ReviewDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label="Who is this row about?", widget=forms.RadioSelect,
        error_messages={"required": "Choose a record, or that this is a new child."},
    )

    def __init__(self, *args, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(str(c.child.pk), f"The same child as record {c.child.reference}") for c in candidates]
        self.fields["decision"].choices = choices + [("new", "A child with no record yet: create one")]


class MergeForm(forms.Form):
    merged_reference = forms.CharField(
        label="Duplicate record", max_length=13, help_text="Its reference, like C-ABCDE-FGHJK. This record is "
        "folded into the other and marked as merged.",
        error_messages={"required": "Enter the reference of the duplicate record."},
    )
    into_reference = forms.CharField(
        label="Record to keep", max_length=13, help_text="Its reference. Involvements, names and addresses of "
        "the duplicate move here.", error_messages={"required": "Enter the reference of the record to keep."},
    )
    reason = forms.CharField(
        label="Why these are the same child", widget=forms.Textarea(attrs={"rows": 3}), max_length=500,
        error_messages={"required": "Give the reason for merging."},
    )

    def __init__(self, *args, authorities, **kwargs):
        super().__init__(*args, **kwargs)
        self.authorities = authorities

    def _child(self, name):
        reference = self.cleaned_data[name].strip().upper()
        child = Child.objects.filter(reference=reference, local_authority__in=self.authorities).first()
        if child is None:
            raise forms.ValidationError("No record in your local authority has this reference.")
        if child.status != Child.Status.ACTIVE:
            raise forms.ValidationError("This record has already been merged into another.")
        return child

    def clean_merged_reference(self):
        return self._child("merged_reference")

    def clean_into_reference(self):
        return self._child("into_reference")

    def clean(self):
        data = super().clean()
        if data.get("merged_reference") and data.get("merged_reference") == data.get("into_reference"):
            self.add_error("into_reference", "Enter two different records.")
        return data


class UploadForm(forms.Form):
    organisation = OrganisationChoiceField(
        queryset=Organisation.objects.none(), empty_label=None,
        error_messages={"required": "Choose the organisation the involvements belong to."},
    )
    file = forms.FileField(
        label="CSV file", help_text="In the template's format, saved as 'CSV UTF-8'.",
        error_messages={"required": "Choose a CSV file to upload.", "empty": "The file is empty."},
    )

    def __init__(self, *args, organisations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = organisations

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.FEED_CSV_MAX_BYTES:
            raise forms.ValidationError(
                f"The file must be smaller than {settings.FEED_CSV_MAX_BYTES // (1024 * 1024)} MB; split it.")
        if not upload.name.lower().endswith((".csv", ".txt")):
            raise forms.ValidationError("The file must be a CSV file.")
        return upload


class QualityForm(forms.Form):
    months = forms.IntegerField(
        label="Open with no update for more than (months)", min_value=1, max_value=36,
        widget=forms.TextInput(attrs={"class": "govuk-input govuk-input--width-3", "inputmode": "numeric"}),
        error_messages={"min_value": "Enter a number of months from 1 to 36.",
                        "max_value": "Enter a number of months from 1 to 36.",
                        "invalid": "Enter a number of months from 1 to 36."},
    )
