"""Children known to services, where they live, and who is working with them.

No case notes and no free text about a child's circumstances: Signpost points to
people, it does not hold their files (SPEC principle 1).
"""

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from children import identifiers, names

_REF_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
# Every reference new_child_reference makes, and nothing else (children/converters.py).
REFERENCE_PATTERN = f"C-[{_REF_ALPHABET}]{{5}}-[{_REF_ALPHABET}]{{5}}"


def new_child_reference() -> str:
    """A random, meaningless reference: what audit events and auditors see of a child."""
    body = "".join(secrets.choice(_REF_ALPHABET) for _ in range(10))
    return f"C-{body[:5]}-{body[5:]}"


class ChildQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=Child.Status.ACTIVE)

    def stale(self, *, today):
        """Past their retention date, not on legal hold, no open involvement."""
        open_involvement = Involvement.objects.filter(child=models.OuterRef("pk"), ended_on__isnull=True)
        return self.filter(retain_until__lt=today, legal_hold=False).exclude(models.Exists(open_involvement))


class Child(models.Model):
    class Sex(models.TextChoices):
        FEMALE = "F", "Female"
        MALE = "M", "Male"
        OTHER = "X", "Other"
        UNKNOWN = "U", "Not known"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        MERGED = "merged", "Merged into another record"

    reference = models.CharField(max_length=13, unique=True, default=new_child_reference, editable=False)
    # A source may lack a date of birth or one of the names (an unborn or newborn baby, a disputed
    # date of birth): the record is kept, marked "identity incomplete", and found by the facts it has.
    given_names = models.CharField(max_length=100, blank=True)
    family_name = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField(db_index=True, null=True, blank=True,
                                     validators=[identifiers.validate_date_of_birth])
    sex = models.CharField(max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    nhs_number = models.CharField(
        "NHS number", max_length=10, null=True, blank=True, unique=True, validators=[identifiers.validate_nhs_number]
    )
    upn = models.CharField(
        "UPN", max_length=13, null=True, blank=True, unique=True, validators=[identifiers.validate_upn]
    )
    la_child_id = models.CharField("LA child ID", max_length=40, blank=True)
    address_line = models.CharField(max_length=200, blank=True)
    postcode = models.CharField(max_length=8, blank=True, validators=[identifiers.validate_postcode])
    postcode_district = models.CharField(max_length=4, blank=True, db_index=True, editable=False)
    postcode_sector = models.CharField(max_length=6, blank=True, db_index=True, editable=False)
    local_authority = models.ForeignKey(
        "practitioners.LocalAuthority", on_delete=models.PROTECT, related_name="children"
    )
    shielded = models.BooleanField(
        default=False, help_text="Address and location hidden from everyone except the owning LA admin (e.g. refuge)."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    merged_into = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_activity_at = models.DateTimeField(default=timezone.now)
    retain_until = models.DateField(db_index=True, null=True, blank=True)
    legal_hold = models.BooleanField(default=False)
    legal_hold_reason = models.TextField(blank=True)

    objects = ChildQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "children"
        indexes = [
            models.Index(fields=["date_of_birth", "postcode_district"], name="child_dob_district"),
            # Feed ingest: which children a row with an unmatched NHS number could still be (matching.engine).
            models.Index(fields=["date_of_birth"], condition=Q(nhs_number__isnull=True), name="child_dob_without_nhs"),
        ]
        permissions = []  # view_child (a default permission) is the one guardian grants per object

    def __str__(self):
        return f"Child {self.reference}"  # str() reaches logs: never a name

    def get_absolute_url(self):
        return reverse("children:record", kwargs={"reference": self.reference})

    def clean(self):
        if not ((self.given_names or "").strip() or (self.family_name or "").strip()):
            raise ValidationError("A child needs at least a given name or a family name.")
        if self.nhs_number:
            self.nhs_number = identifiers.clean_nhs_number(self.nhs_number)
        if self.upn:
            self.upn = self.upn.strip().upper()
        if self.postcode:
            self.postcode = identifiers.normalise_postcode(self.postcode) or self.postcode

    def derive_fields(self):
        """Normalise identifiers and compute the stored postcode parts and retention date.

        ``save`` calls it; bulk paths (``bulk_create``) must call it themselves.
        """
        self.nhs_number = identifiers.clean_nhs_number(self.nhs_number) or None
        self.upn = (self.upn or "").strip().upper() or None
        if self.postcode:
            self.postcode = identifiers.normalise_postcode(self.postcode) or self.postcode
        self.postcode_district = identifiers.postcode_district(self.postcode)
        self.postcode_sector = identifiers.postcode_sector(self.postcode)
        if self.retain_until is None:
            self.retain_until = (self.last_activity_at or timezone.now()).date() + settings.RETENTION_PERIOD

    def save(self, *args, **kwargs):
        self.derive_fields()
        super().save(*args, **kwargs)
        ChildName.sync_current(self)
        # Date of birth, postcode or shielding may have changed: the name keys carry them.
        NameKey.objects.filter(child=self).update(date_of_birth=self.date_of_birth, postcode_district=self.key_district)

    @property
    def key_district(self) -> str:
        """The postcode district the matching engine may find this child by: none when shielded."""
        return "" if self.shielded else self.postcode_district

    @property
    def full_name(self):
        return f"{self.given_names} {self.family_name}".strip()

    @property
    def identity_incomplete(self) -> bool:
        """The source sent no date of birth, or no given or family name."""
        return self.date_of_birth is None or not self.given_names.strip() or not self.family_name.strip()


class ChildName(models.Model):
    """Every name a child is or was known by, with normalised and phonetic keys.

    The search looks names up here through indexes, never by scanning Child.
    """

    class Kind(models.TextChoices):
        CURRENT = "current", "Current name"
        PREVIOUS = "previous", "Previous name"
        OTHER = "other", "Other name (alias, known as)"

    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="names")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    given_names = models.CharField(max_length=100, blank=True)
    family_name = models.CharField(max_length=100, blank=True)
    given_norm = models.CharField(max_length=100, db_index=True, editable=False)
    family_norm = models.CharField(max_length=100, db_index=True, editable=False)
    given_phonetic = models.CharField(max_length=16, db_index=True, editable=False)
    family_phonetic = models.CharField(max_length=16, db_index=True, editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["family_phonetic", "given_phonetic"], name="childname_phonetic"),
            models.Index(fields=["family_norm", "given_norm"], name="childname_norm"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["child"], condition=Q(kind="current"), name="childname_one_current")
        ]

    def __str__(self):
        return f"Name #{self.pk}"

    def derive_fields(self):
        first_given = (self.given_names or "").split(" ")[0]
        self.given_norm = names.normalise(first_given)
        self.family_norm = names.normalise(self.family_name)
        self.given_phonetic = names.phonetic(first_given)
        self.family_phonetic = names.phonetic(self.family_name)

    def save(self, *args, **kwargs):
        self.derive_fields()
        super().save(*args, **kwargs)
        NameKey.rebuild_for_names([self])

    @classmethod
    def sync_current(cls, child: Child):
        """Keep the 'current' name row in step with the Child's own name fields."""
        row = cls.objects.filter(child=child, kind=cls.Kind.CURRENT).first() or cls(child=child, kind=cls.Kind.CURRENT)
        if row.pk and (row.given_names, row.family_name) == (child.given_names, child.family_name):
            return
        row.child = child  # the keys copy its date of birth and district: use the values just saved
        row.given_names, row.family_name = child.given_names, child.family_name
        row.save()


class NameKey(models.Model):
    """Blocking keys for the matching engine: one row per pairing of a given-name token, a
    family-name token (the whole name and each part of a hyphenated one) and their Double
    Metaphone keys, for every name a child is known by.

    Derived data, rebuilt from ChildName and Child (``rebuild_for_names``); date of birth
    and postcode district are copied here so each block is one index probe. A shielded
    child's row has no district, so no search by place can find it (SPEC 3.7).
    """

    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="+")
    name = models.ForeignKey(ChildName, on_delete=models.CASCADE, related_name="keys")
    given_norm = models.CharField(max_length=100)
    family_norm = models.CharField(max_length=100)
    given_key = models.CharField(max_length=16)
    family_key = models.CharField(max_length=16)
    date_of_birth = models.DateField(null=True)
    postcode_district = models.CharField(max_length=4, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["family_key", "given_key"], name="namekey_names"),
            models.Index(fields=["family_key", "date_of_birth"], name="namekey_family_dob"),
            models.Index(fields=["given_key", "date_of_birth"], name="namekey_given_dob"),
            models.Index(fields=["family_key", "postcode_district"], name="namekey_family_place"),
            models.Index(fields=["given_key", "postcode_district"], name="namekey_given_place"),
            models.Index(fields=["family_norm", "given_norm"], name="namekey_norm"),
        ]

    def __str__(self):
        return f"Name key #{self.pk}"

    @classmethod
    def rows_for(cls, name: ChildName, child: Child) -> list["NameKey"]:
        return [
            cls(child=child, name=name, given_norm=given, family_norm=family, given_key=given_key,
                family_key=family_key, date_of_birth=child.date_of_birth, postcode_district=child.key_district)
            for given, family, given_key, family_key in names.blocking_keys(name.given_names, name.family_name)
        ]

    @classmethod
    def rebuild_for_names(cls, child_names) -> int:
        """Replace the keys of these ChildName rows (saved, with ``child`` loaded). Returns rows written."""
        child_names = list(child_names)
        cls.objects.filter(name__in=[n.pk for n in child_names]).delete()
        rows = [row for n in child_names for row in cls.rows_for(n, n.child)]
        cls.objects.bulk_create(rows, batch_size=1000)
        return len(rows)

    @classmethod
    def rebuild_for_children(cls, children) -> int:
        """Rebuild every name key of these children: for bulk loads that bypass ``save``."""
        ids = [c.pk for c in children]
        child_names = ChildName.objects.filter(child__in=ids).select_related("child")
        return cls.rebuild_for_names(child_names)


class Address(models.Model):
    """Address history: where a child lived and when, so moves between areas are visible."""

    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="addresses")
    address_line = models.CharField(max_length=200, blank=True)
    postcode = models.CharField(max_length=8, validators=[identifiers.validate_postcode])
    local_authority = models.ForeignKey("practitioners.LocalAuthority", on_delete=models.PROTECT, related_name="+")
    moved_in_on = models.DateField()
    moved_out_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-moved_in_on", "-pk"]
        verbose_name_plural = "addresses"

    def __str__(self):
        return f"Address #{self.pk}"

    def clean(self):
        if self.moved_out_on and self.moved_in_on and self.moved_out_on < self.moved_in_on:
            raise ValidationError({"moved_out_on": "The move-out date cannot be before the move-in date."})


class InvolvementQuerySet(models.QuerySet):
    def open(self):
        return self.filter(ended_on__isnull=True)


class Involvement(models.Model):
    """An organisation's service working with a child: who, and how to reach them."""

    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="involvements")
    organisation = models.ForeignKey("practitioners.Organisation", on_delete=models.PROTECT, related_name="involvements")
    service = models.ForeignKey("practitioners.Service", on_delete=models.PROTECT, related_name="involvements")
    lead_practitioner = models.ForeignKey(
        "practitioners.Practitioner", on_delete=models.SET_NULL, null=True, blank=True, related_name="led_involvements"
    )
    contact_phone = models.CharField(max_length=40, blank=True)
    contact_email = models.EmailField(blank=True)
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True, db_index=True)
    external_id = models.CharField(max_length=100, blank=True)
    last_confirmed_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now)

    objects = InvolvementQuerySet.as_manager()

    class Meta:
        ordering = ["-started_on", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "external_id"], condition=~Q(external_id=""), name="involvement_external_id"
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("started_on")),
                name="involvement_end_after_start",
            ),
        ]
        indexes = [
            # "Has this organisation an open involvement with this child?": what an organisation's
            # access follows (practitioners.services.sync_organisation_access), one probe per child.
            models.Index(fields=["child", "organisation"], condition=Q(ended_on__isnull=True),
                         name="involvement_open_by_child"),
        ]

    def __str__(self):
        return f"Involvement #{self.pk}"

    @property
    def is_open(self):
        return self.ended_on is None

    def clean(self):
        if self.ended_on and self.started_on and self.ended_on < self.started_on:
            raise ValidationError({"ended_on": "The end date cannot be before the start date."})
        if not (self.contact_phone or self.contact_email):
            raise ValidationError("Give a contact route: a work phone number or email for the team.")


class ContactRequest(models.Model):
    """A practitioner asked the services working with a child to contact them (SPEC 3.8).

    It carries no case notes and no free text: the child's reference, a reason from a fixed
    list, and who is asking (the requester's own work details, read from their record).
    """

    class Reason(models.TextChoices):
        SAFEGUARDING = "safeguarding", "Safeguarding concern"
        REFERRAL = "referral", "New referral"
        PLANNING = "planning", "Planning support for the child"
        QUERY = "query", "Other professional query"

    requester = models.ForeignKey("practitioners.Practitioner", on_delete=models.CASCADE,
                                  related_name="contact_requests")
    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="contact_requests")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        # The rate limit: "this practitioner's requests about this child since ...", one probe.
        indexes = [models.Index(fields=["requester", "child", "created_at"], name="contact_request_recent")]

    def __str__(self):
        return f"Contact request #{self.pk}"

    @property
    def emailed(self) -> bool:
        """Did any of it leave by email (else every route was a phone number someone must call)?"""
        return self.recipients.filter(method=ContactRecipient.Method.EMAIL).exists()


class ContactRecipient(models.Model):
    """Where one contact request went, and how: emailed, or a phone number someone must call."""

    class Method(models.TextChoices):
        EMAIL = "email", "Emailed"
        RELAYED = "relayed", "Phone only: listed in the email to the LA safeguarding team"
        CALL = "call", "Phone only: not emailed, needs a call"

    request = models.ForeignKey(ContactRequest, on_delete=models.CASCADE, related_name="recipients")
    involvement = models.ForeignKey(Involvement, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                    help_text="Empty when the request went to the LA safeguarding team itself.")
    local_authority = models.ForeignKey("practitioners.LocalAuthority", on_delete=models.PROTECT, null=True,
                                        blank=True, related_name="+",
                                        help_text="Set when the route is this LA's safeguarding contact.")
    route = models.CharField(max_length=200, help_text="The email address or phone number used.")
    method = models.CharField(max_length=10, choices=Method.choices)

    def __str__(self):
        return f"Contact recipient #{self.pk}"
