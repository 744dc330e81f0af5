"""API shapes for child search and the child record: the same rules and the same masking as the web."""

from django.utils import timezone
from rest_framework import serializers

from children import identifiers, matching, names
from children.matching import Query


def _no_nul(value: str) -> str:
    return (value or "").replace("\x00", "").strip()


class SearchRequestSerializer(serializers.Serializer):
    given_name = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    family_name = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    date_of_birth = serializers.DateField(required=False, allow_null=True, default=None)
    dob_from = serializers.DateField(required=False, allow_null=True, default=None,
                                     help_text="Start of a date-of-birth range (with dob_to).")
    dob_to = serializers.DateField(required=False, allow_null=True, default=None)
    postcode = serializers.CharField(required=False, allow_blank=True, max_length=8, default="",
                                     help_text="Full postcode, sector (W6 9) or district (W6).")
    nhs_number = serializers.CharField(required=False, allow_blank=True, max_length=14, default="")
    upn = serializers.CharField(required=False, allow_blank=True, max_length=13, default="")
    sex = serializers.ChoiceField(choices=["", "F", "M"], required=False, allow_blank=True, default="",
                                  help_text="F or M when known: scored, a child of the other sex scores lower.")
    mode = serializers.ChoiceField(choices=matching.MODES, default=matching.AUTO,
                                   help_text="auto: plain first, then fuzzy unless plain's best answer is confident.")

    def validate(self, data):
        data = {k: _no_nul(v) if isinstance(v, str) else v for k, v in data.items()}
        errors = {}
        today = timezone.localdate()
        for key in ("date_of_birth", "dob_from", "dob_to"):
            if data.get(key) and data[key] > today:
                errors[key] = "Date of birth must be today or in the past."
            elif data.get(key) and data[key].year < 1900:
                errors[key] = "Date of birth must be after 1900."
        if bool(data.get("dob_from")) != bool(data.get("dob_to")):
            errors["dob_to" if data.get("dob_from") else "dob_from"] = "Give both ends of a date-of-birth range."
        elif data.get("dob_from") and data["dob_from"] > data["dob_to"]:
            errors["dob_to"] = "The end of the range must not be before its start."
        for key in ("given_name", "family_name"):
            if data.get(key) and not names.normalise(data[key]):
                errors[key] = "A name must include letters."
        if data.get("postcode") and not identifiers.parse_search_postcode(data["postcode"])[0]:
            errors["postcode"] = "Enter a real postcode, like W6 9LA, or its first part, like W6."
        if data.get("nhs_number") and not identifiers.is_valid_nhs_number(data["nhs_number"]):
            errors["nhs_number"] = "Enter a valid NHS number: 10 digits with a valid check digit."
        if data.get("upn") and not identifiers.is_valid_upn(data["upn"]):
            errors["upn"] = "Enter a valid UPN: a check letter then 12 characters."
        if errors:
            raise serializers.ValidationError(errors)
        given = sum([bool(data["given_name"] or data["family_name"]),
                     bool(data["date_of_birth"] or data["dob_from"]), bool(data["postcode"])])
        if given < 2 and not (data["nhs_number"] or data["upn"]):
            raise serializers.ValidationError(
                "Give at least two of: a name, a date of birth, a postcode — or an NHS number or UPN.")
        return data

    def query(self) -> Query:
        data = self.validated_data
        return Query.of(given_name=data["given_name"], family_name=data["family_name"],
                        date_of_birth=data["date_of_birth"], dob_from=data["dob_from"], dob_to=data["dob_to"],
                        postcode=data["postcode"], sex=data["sex"], nhs_number=data["nhs_number"],
                        upn=data["upn"])


class CandidateSerializer(serializers.Serializer):
    """Only what picks the right child: name, date of birth, sex, local authority, postcode district.
    A shielded child has no location (both null)."""

    reference = serializers.CharField(source="child.reference")
    given_names = serializers.CharField(source="child.given_names")
    family_name = serializers.CharField(source="child.family_name")
    date_of_birth = serializers.DateField(source="child.date_of_birth", allow_null=True)
    sex = serializers.CharField(source="child.get_sex_display")
    local_authority = serializers.SerializerMethodField()
    postcode_district = serializers.SerializerMethodField()
    score = serializers.FloatField()
    band = serializers.ChoiceField(choices=["confident", "possible"])
    reasons = serializers.ListField(child=serializers.CharField())

    def get_local_authority(self, candidate) -> str | None:
        return None if candidate.child.shielded else candidate.child.local_authority.name

    def get_postcode_district(self, candidate) -> str | None:
        return None if candidate.child.shielded else candidate.child.postcode_district


class SearchResultSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=[matching.PLAIN, matching.FUZZY], help_text="The stage that ran.")
    too_many = serializers.BooleanField(help_text="More matched than the cap: the best are listed; add detail.")
    matched = serializers.IntegerField()
    results = CandidateSerializer(many=True, source="candidates")


class InvolvementSerializer(serializers.Serializer):
    # A masked row has only masked, is_current and message; any other has everything but message.
    # required=False says so in the OpenAPI schema (schemathesis found the schema claiming all of them).
    masked = serializers.BooleanField(help_text="A sensitive service: only `message` is given.")
    message = serializers.CharField(required=False, help_text="Only on a masked row.")
    is_current = serializers.BooleanField()
    organisation = serializers.CharField(required=False)
    organisation_area = serializers.CharField(required=False)
    service = serializers.CharField(required=False)
    lead_name = serializers.CharField(required=False)
    lead_job_title = serializers.CharField(required=False)
    contact_phone = serializers.CharField(required=False)
    contact_email = serializers.CharField(required=False)
    started_on = serializers.DateField(allow_null=True, required=False)
    ended_on = serializers.DateField(allow_null=True, required=False)
    last_confirmed_at = serializers.DateTimeField(allow_null=True, required=False)

    def to_representation(self, row):
        data = super().to_representation(row)
        if row.masked:  # nothing but the message leaves the server
            return {"masked": True, "is_current": row.is_current, "message": row.message}
        data.pop("message")
        return data


class AddressSerializer(serializers.Serializer):
    local_authority = serializers.CharField()
    postcode_district = serializers.CharField()
    moved_in_on = serializers.DateField()
    moved_out_on = serializers.DateField(allow_null=True)
    is_current = serializers.BooleanField()


class OtherNameSerializer(serializers.Serializer):
    kind = serializers.CharField()
    name = serializers.CharField()


class ChildRecordSerializer(serializers.Serializer):
    reference = serializers.CharField()
    given_names = serializers.CharField()
    family_name = serializers.CharField()
    date_of_birth = serializers.DateField()
    sex = serializers.CharField()
    nhs_number = serializers.CharField()
    upn = serializers.CharField()
    la_child_id = serializers.CharField()
    other_names = OtherNameSerializer(many=True)
    local_authority = serializers.CharField(allow_null=True)
    out_of_hours_phone = serializers.CharField(allow_null=True)
    shielded = serializers.BooleanField()
    location_visible = serializers.BooleanField(
        help_text="False for a shielded child unless the caller is the owning LA admin or their organisation has a "
                  "confirmed involvement: no local authority, postcode area, other organisations or out-of-hours "
                  "number is given, only safeguarding_contact.")
    address_visible = serializers.BooleanField(help_text="False for a shielded child: no address is given.")
    safeguarding_contact = serializers.CharField(
        allow_null=True, help_text="For a shielded child whose location is withheld: whom to call.")
    address_line = serializers.CharField(allow_null=True)
    postcode = serializers.CharField(allow_null=True)
    areas = serializers.ListField(child=serializers.CharField())
    addresses = AddressSerializer(many=True)
    current_involvements = InvolvementSerializer(many=True)
    previous_involvements = InvolvementSerializer(many=True)

    def to_representation(self, record):
        data = super().to_representation(record)
        if not record.address_visible:
            data["address_line"] = data["postcode"] = None
        if not record.location_visible:
            data["local_authority"] = data["out_of_hours_phone"] = None
        if record.location_visible or not record.shielded:
            data["safeguarding_contact"] = None
        return data


class NoGrantSerializer(serializers.Serializer):
    detail = serializers.CharField()
    request_access_url = serializers.CharField(help_text="The page to ask the child's LA admins for access.")
    break_glass_url = serializers.CharField(help_text="The page to open the record in an emergency, with a reason.")
