"""Who may use Signpost: local authorities, organisations, services, practitioners,
and the permissions that let a practitioner open one child's record."""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

gss_code_validator = RegexValidator(
    r"^[ENSW]\d{8}\Z", "Enter a GSS code: a letter E, N, S or W followed by 8 digits, like E09000033."
)


class LocalAuthority(models.Model):
    name = models.CharField(max_length=120, unique=True)
    gss_code = models.CharField("GSS code", max_length=9, unique=True, validators=[gss_code_validator])
    safeguarding_contact = models.CharField(
        max_length=200, help_text="Safeguarding team phone or email, shown for sensitive services."
    )
    out_of_hours_phone = models.CharField(
        "Out-of-hours (emergency duty) number", max_length=40, help_text="Shown on every record in this area."
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "local authorities"

    def __str__(self):
        return self.name


class Organisation(models.Model):
    class Kind(models.TextChoices):
        SCHOOL = "school", "School"
        GP_PRACTICE = "gp", "GP practice"
        NHS_TRUST = "nhs_trust", "NHS trust"
        SOCIAL_CARE = "social_care", "Social care team"
        POLICE = "police", "Police"
        YOUTH_JUSTICE = "youth_justice", "Youth justice"
        VOLUNTARY = "voluntary", "Voluntary sector"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    local_authority = models.ForeignKey(LocalAuthority, on_delete=models.PROTECT, related_name="organisations")
    contact_phone = models.CharField(max_length=40, blank=True)
    contact_email = models.EmailField(blank=True)
    services = models.ManyToManyField("Service", related_name="organisations", blank=True)
    access_group = models.OneToOneField(
        "auth.Group", on_delete=models.PROTECT, null=True, blank=True, editable=False, related_name="organisation",
        help_text="The organisation in guardian's terms: it holds view_child on every child it has an open "
                  "involvement with (see practitioners.permissions).",
    )

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["local_authority", "name"], name="organisation_unique_name_per_la")]

    def __str__(self):
        return self.name


class Service(models.Model):
    """A type of service an organisation delivers (school nursing, CAMHS, ...)."""

    name = models.CharField(max_length=120, unique=True)
    code = models.SlugField(max_length=60, unique=True)
    sensitive = models.BooleanField(
        default=False,
        help_text="Sexual health, substance misuse, mental health and similar: others see only "
        "that a sensitive service is involved, never its name.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class PractitionerQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=Practitioner.Status.ACTIVE, user__is_active=True)

    def lapsing(self, *, today):
        """Active practitioners whose vetting or training is past its date."""
        training_cutoff = today - settings.TRAINING_VALID_FOR
        return self.active().filter(
            Q(vetting_expires_on__lt=today)
            | Q(vetting_expires_on__isnull=True)
            | Q(training_completed_on__lt=training_cutoff)
            | Q(training_completed_on__isnull=True)
        )


class Practitioner(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending approval"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        EXPIRED = "expired", "Expired"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="practitioner")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="practitioners")
    job_title = models.CharField(max_length=120)
    work_phone = models.CharField(max_length=40, blank=True)
    work_email = models.EmailField(blank=True)
    vetting_checked_on = models.DateField(null=True, blank=True)
    vetting_expires_on = models.DateField(null=True, blank=True)
    training_completed_on = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    objects = PractitionerQuerySet.as_manager()

    class Meta:
        ordering = ["user__last_name", "user__first_name"]

    def __str__(self):
        return f"Practitioner #{self.pk}"

    @property
    def local_authority(self):
        return self.organisation.local_authority

    def vetting_current(self, today=None) -> bool:
        today = today or timezone.localdate()
        return bool(self.vetting_expires_on and self.vetting_expires_on >= today)

    def training_current(self, today=None) -> bool:
        today = today or timezone.localdate()
        return bool(self.training_completed_on and self.training_completed_on + settings.TRAINING_VALID_FOR >= today)

    def credentials_current(self, today=None) -> bool:
        return self.vetting_current(today) and self.training_current(today)


class PractitionerStatusChange(models.Model):
    """Every lifecycle transition: who, when, why. Shown on the practitioner's page."""

    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=12, choices=Practitioner.Status.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=Practitioner.Status.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)
    reason = models.TextField()

    class Meta:
        ordering = ["-changed_at", "-pk"]


class LocalAuthorityAdmin(models.Model):
    """A user who administers one local authority (a user may admin several)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="la_admin_roles")
    local_authority = models.ForeignKey(LocalAuthority, on_delete=models.CASCADE, related_name="admins")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "local_authority"], name="la_admin_unique")]

    def __str__(self):
        return f"LA admin #{self.pk}"


class AccessGrantQuerySet(models.QuerySet):
    def live(self, *, now=None):
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True, expires_at__gt=now)

    def expired(self, *, now=None):
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True, expires_at__lte=now)

    def break_glass(self):
        return self.filter(source=AccessGrant.Source.BREAK_GLASS)

    def awaiting_review(self):
        """Break-glass uses no LA admin has reviewed yet."""
        return self.break_glass().filter(reviewed_at__isnull=True)


class AccessGrant(models.Model):
    """Why one practitioner may open one child's record, and until when: an approved access
    request or break-glass.

    The guardian object permission (``ChildUserObjectPermission``) is what the
    permission checks read; this row carries the reason and the expiry, and
    ``practitioners.permissions`` requires both. Access through the practitioner's own
    organisation's involvement is the organisation's (``ChildGroupObjectPermission``), not a
    grant per practitioner.
    """

    class Source(models.TextChoices):
        # Until migration 0011 each practitioner of an involved organisation held one of these;
        # kept so the revoked rows still read. No new grant has this source.
        INVOLVEMENT = "involvement", "Own organisation is involved"
        ACCESS_REQUEST = "access_request", "Access request approved"
        BREAK_GLASS = "break_glass", "Break-glass (emergency)"

    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="grants")
    child = models.ForeignKey("children.Child", on_delete=models.CASCADE, related_name="grants")
    source = models.CharField(max_length=20, choices=Source.choices)
    reason = models.TextField()
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    granted_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    involvement = models.ForeignKey(
        "children.Involvement", on_delete=models.SET_NULL, null=True, blank=True, related_name="grants"
    )
    class ReviewOutcome(models.TextChoices):
        JUSTIFIED = "justified", "Use was justified"
        NOT_JUSTIFIED = "not_justified", "Use was not justified: follow up"

    reviewed_at = models.DateTimeField(null=True, blank=True, help_text="Break-glass uses: when an LA admin reviewed it.")
    review_outcome = models.CharField(max_length=20, choices=ReviewOutcome.choices, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    review_comment = models.TextField(blank=True)

    objects = AccessGrantQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["practitioner", "child", "expires_at"], name="grant_lookup")]

    def __str__(self):
        return f"Grant #{self.pk}"

    def is_live(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now


class AccessRequest(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Waiting for a decision"
        APPROVED = "approved", "Approved"
        REFUSED = "refused", "Refused"
        WITHDRAWN = "withdrawn", "Withdrawn"

    practitioner = models.ForeignKey(Practitioner, on_delete=models.CASCADE, related_name="access_requests")
    child = models.ForeignKey("children.Child", on_delete=models.CASCADE, related_name="access_requests")
    reason = models.TextField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN, db_index=True)
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    grant = models.OneToOneField(AccessGrant, on_delete=models.SET_NULL, null=True, blank=True, related_name="request")

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self):
        return f"Access request #{self.pk}"


class UserSession(models.Model):
    """A signed-in session of a user, so suspension can end every one of them at once (SPEC 8).

    Rows are written on login and removed on logout; a row whose session already
    timed out is harmless (ending it again is a no-op).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="signpost_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    started_at = models.DateTimeField(default=timezone.now)
    # Shown to the user on "Your sessions" so they can tell their devices apart (ASVS 3.3.4).
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    last_seen_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"Session #{self.pk}"


class SignInFailure(models.Model):
    """One failed sign-in (wrong password or code) for a username, from any address.

    Counted over a sliding window to lock the account across all addresses (ASVS 2.2.1:
    at most ``LOGIN_ACCOUNT_FAILURE_LIMIT`` an hour); django-axes keeps the per-address
    lockout. Keyed by the username as typed (cut to the field's length), whether or not
    an account has it, so a lockout says nothing about which usernames exist. Rows older
    than the window are deleted as new ones arrive.
    """

    username = models.CharField(max_length=150)
    failed_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["username", "failed_at"], name="signin_failure_user_time")]

    def __str__(self):
        return f"Sign-in failure #{self.pk}"


class ChildUserObjectPermission(UserObjectPermissionBase):
    """Direct-FK guardian permission on Child: indexes well at millions of rows (SPEC 8)."""

    content_object = models.ForeignKey("children.Child", on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        pass


class ChildGroupObjectPermission(GroupObjectPermissionBase):
    """Direct-FK guardian group permission on Child. The group is an organisation's
    ``access_group``: one row per (organisation, child) while the organisation has an open
    involvement with the child, whatever the number of its practitioners."""

    content_object = models.ForeignKey("children.Child", on_delete=models.CASCADE)
    # Looked up by (group, permission, child) through the unique index, which serves a group alone
    # too: single-column indexes on these would only slow every feed batch's inserts.
    group = models.ForeignKey("auth.Group", on_delete=models.CASCADE, db_index=False)
    permission = models.ForeignKey("auth.Permission", on_delete=models.CASCADE, db_index=False)

    class Meta(GroupObjectPermissionBase.Meta):
        pass
