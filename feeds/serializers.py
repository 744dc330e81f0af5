"""What one incoming involvement row must look like (API and CSV share it).

One serializer instance validates every row of a batch (``run_validation`` per
row): building a DRF serializer per row costs ~200 µs, reusing one ~35 µs, and
the ingest target is 5,000 rows/s (SPEC 7).

Dates and identifiers are matched with ASCII patterns before anything parses
them: Python's ``int()``, ``strptime`` and ``\\d`` accept "９" (SPEC 8). NUL bytes
are refused by DRF's CharField (PostgreSQL would reject them with a 500).
"""

import re
from collections.abc import Mapping
from datetime import date

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import SkipField, empty, get_error_detail
from rest_framework.settings import api_settings

from children import identifiers, names
from children.models import Child

_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})\Z")
_UK_DATE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})\Z")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_PHONE = re.compile(r"[0-9+() \-]{6,40}\Z")
_ASCII_LETTER = re.compile(r"[A-Za-z]")

_FORBIDDEN_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
_SEXES = frozenset(Child.Sex.values)

NON_ASCII_MESSAGE = "Use the ordinary digits 0 to 9 and letters A to Z only."


def _refuse_non_ascii(value: str):
    if _NON_ASCII.search(value):
        raise serializers.ValidationError(NON_ASCII_MESSAGE, code="non_ascii")


class FeedCharField(serializers.CharField):
    """DRF's CharField with its three validators (max length, NUL, surrogates), which walk
    the string character by character in Python, replaced by one regex search."""

    default_error_messages = {
        "null_characters": "Null characters are not allowed.",
        "surrogate_characters": "Surrogate characters are not allowed.",
    }

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators = []

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if bad := _FORBIDDEN_CHARACTERS.search(value):
            self.fail("null_characters" if bad.group() == "\x00" else "surrogate_characters")
        if self.max_length is not None and len(value) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return value


class FeedEmailField(FeedCharField):
    default_error_messages = {"invalid_email": "Enter a valid email address."}
    _validate = EmailValidator()

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            self._validate(value)
        except DjangoValidationError:
            self.fail("invalid_email")
        return value


@extend_schema_field(OpenApiTypes.DATE)
class FeedDateField(serializers.Field):
    """A date as YYYY-MM-DD (or DD/MM/YYYY, as spreadsheets write it); ASCII digits only."""

    default_error_messages = {
        "invalid": "Enter a real date as YYYY-MM-DD, like 2015-03-27.",
    }

    def validate_empty_values(self, data):
        if data == "" and not self.required:  # an empty CSV cell or JSON "" for an optional date
            return True, None
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        if isinstance(data, date):
            return data
        if not isinstance(data, str):
            self.fail("invalid")
        value = data.strip()
        _refuse_non_ascii(value)
        if match := _ISO_DATE.match(value):
            year, month, day = match.groups()
        elif match := _UK_DATE.match(value):
            day, month, year = match.groups()
        else:
            self.fail("invalid")
        try:
            return date(int(year), int(month), int(day))
        except ValueError:
            self.fail("invalid")

    def to_representation(self, value):
        return value.isoformat() if value else None


class InvolvementRowSerializer(serializers.Serializer):
    """One involvement of the sending organisation with one child.

    Context: ``services`` ({code: Service}), ``delivered`` (ids of the services the
    organisation delivers; empty means any), ``organisation``.
    """

    external_id = FeedCharField(
        max_length=100, help_text="The source system's own id for this involvement; unique per organisation."
    )
    given_names = FeedCharField(max_length=100)
    family_name = FeedCharField(max_length=100)
    date_of_birth = FeedDateField()
    sex = FeedCharField(max_length=10, required=False, allow_blank=True, default=Child.Sex.UNKNOWN,
                                help_text="F, M, X (other) or U (not known).")
    nhs_number = FeedCharField(max_length=20, required=False, allow_blank=True, default="")
    upn = FeedCharField(max_length=20, required=False, allow_blank=True, default="")
    address_line = FeedCharField(max_length=200, required=False, allow_blank=True, default="")
    postcode = FeedCharField(max_length=20, required=False, allow_blank=True, default="")
    service = FeedCharField(max_length=60, help_text="The service's code, e.g. 'school-nursing'.")
    started_on = FeedDateField()
    ended_on = FeedDateField(required=False, allow_null=True, default=None)
    contact_phone = FeedCharField(max_length=40, required=False, allow_blank=True, default="")
    contact_email = FeedEmailField(max_length=254, required=False, allow_blank=True, default="")

    def to_internal_value(self, data):
        """DRF's ``Serializer.to_internal_value`` without what a flat serializer of JSON or CSV rows
        never needs (nested sources, HTML form input), its fields and ``validate_<name>`` methods
        looked up once per batch rather than once per row: a third less time per row."""
        if not isinstance(data, Mapping):
            message = self.error_messages["invalid"].format(datatype=type(data).__name__)
            raise serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [message]}, code="invalid")
        if self._plan is None:
            self._plan = [(f, getattr(self, f"validate_{f.field_name}", None)) for f in self._writable_fields]
        validated, errors = {}, {}
        for field, validate in self._plan:
            try:
                value = field.run_validation(data.get(field.field_name, empty))
                if validate is not None:
                    value = validate(value)
            except serializers.ValidationError as exc:
                errors[field.field_name] = exc.detail
            except DjangoValidationError as exc:
                errors[field.field_name] = get_error_detail(exc)
            except SkipField:
                continue
            else:
                validated[field.source] = value
        if errors:
            raise serializers.ValidationError(errors)
        return validated

    _plan = None

    def validate_given_names(self, value):
        return self._name(value)

    def validate_family_name(self, value):
        return self._name(value)

    @staticmethod
    def _name(value):
        # An ASCII letter always survives normalisation; only names without one need the full fold.
        if not _ASCII_LETTER.search(value) and not names.normalise(value):
            raise serializers.ValidationError("Enter a name with at least one letter.")
        return value

    def validate_sex(self, value):
        value = (value or Child.Sex.UNKNOWN).upper()
        if value not in _SEXES:
            raise serializers.ValidationError("Enter F, M, X (other) or U (not known).")
        return value

    def validate_date_of_birth(self, value):
        if "today" not in self.context:  # once per batch: localdate() converts time zones
            self.context["today"] = timezone.localdate()
        if value > self.context["today"]:  # identifiers.validate_date_of_birth's rules, without its clock read
            raise serializers.ValidationError("Date of birth must be today or in the past.")
        if value.year < 1900:
            raise serializers.ValidationError("Date of birth must be after 1900.")
        return value

    def validate_nhs_number(self, value):
        if not value:
            return ""
        _refuse_non_ascii(value)
        if not identifiers.is_valid_nhs_number(value):
            raise serializers.ValidationError(
                "Enter a valid NHS number: 10 digits, like 943 476 5919 (the last digit is a check digit)."
            )
        return identifiers.clean_nhs_number(value)

    def validate_upn(self, value):
        if not value:
            return ""
        _refuse_non_ascii(value)
        if not identifiers.is_valid_upn(value):
            raise serializers.ValidationError(
                "Enter a valid UPN: 13 characters, a check letter then 12 digits (the last may be a letter)."
            )
        return value.strip().upper()

    def validate_postcode(self, value):
        if not value:
            return ""
        _refuse_non_ascii(value)
        postcode = identifiers.normalise_postcode(value)
        if not postcode:
            raise serializers.ValidationError("Enter a real UK postcode, like SW1A 1AA.")
        return postcode

    def validate_service(self, value):
        service = self.context["services"].get(value.strip().lower())
        if service is None:
            raise serializers.ValidationError(f"Unknown service code '{value[:60]}'.")
        delivered = self.context.get("delivered")
        if delivered and service.pk not in delivered:
            raise serializers.ValidationError("Your organisation is not recorded as delivering this service.")
        return service

    def validate_contact_phone(self, value):
        if not value:
            return ""
        _refuse_non_ascii(value)
        if not _PHONE.match(value):
            raise serializers.ValidationError("Enter a phone number using digits, spaces, brackets, + and -.")
        return value

    def validate(self, attrs):
        ended_on = attrs.get("ended_on")
        if ended_on is not None and ended_on < attrs["started_on"]:
            raise serializers.ValidationError({"ended_on": ["The end date cannot be before the start date."]})
        if not attrs.get("contact_phone") and not attrs.get("contact_email"):
            organisation = self.context["organisation"]
            attrs["contact_phone"] = organisation.contact_phone
            attrs["contact_email"] = organisation.contact_email
            if not (attrs["contact_phone"] or attrs["contact_email"]):
                raise serializers.ValidationError(
                    {"contact_phone": ["Give a contact route: a work phone number or email for the team."]}
                )
        return attrs


def row_to_json(data: dict) -> dict:
    """A validated row as plain JSON (for the review queue): dates ISO, service by code."""
    out = {}
    for key, value in data.items():
        if isinstance(value, date):
            value = value.isoformat()
        elif key == "service":
            value = value.code
        out[key] = value
    return out


def row_from_json(data: dict, *, services: dict) -> dict:
    """The inverse of ``row_to_json``."""
    out = dict(data)
    for key in ("date_of_birth", "started_on", "ended_on"):
        if out.get(key):
            out[key] = date.fromisoformat(out[key])
    out["service"] = services[out["service"]]
    return out


class BulkInvolvementsSerializer(serializers.Serializer):
    """The request body of ``POST /api/v1/involvements/bulk`` (for the schema; rows are checked one by one)."""

    rows = InvolvementRowSerializer(many=True)


class RowResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the row in the request, from 0.")
    external_id = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=["created", "updated", "unchanged", "queued_for_review", "error"])
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class BulkResultSerializer(serializers.Serializer):
    batch = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField())
    results = RowResultSerializer(many=True)
