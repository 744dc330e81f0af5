"""Source-system feeds: the tokens organisations push with, what each push did,
the rows waiting for an LA admin to decide who the child is, CSV uploads, and
merges of duplicate child records.

Personal data lives only in ``MatchReview.row`` (until decided) and in
``CsvUpload.content`` (until processed); ``str()`` of every model is an id.
"""

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

TOKEN_PREFIX = "sp_"


class OrganisationTokenQuerySet(models.QuerySet):
    def live(self):
        return self.filter(revoked_at__isnull=True)


class OrganisationToken(models.Model):
    """An API key bound to one organisation. Only a SHA-256 of the key is stored.

    The key is 256 random bits, so a plain SHA-256 is enough (a slow hash guards
    guessable passwords, not random keys) and lets the lookup use a unique index.
    """

    name = models.CharField(max_length=100, help_text="What uses this token, e.g. 'School MIS nightly export'.")
    organisation = models.ForeignKey(
        "practitioners.Organisation", on_delete=models.PROTECT, related_name="feed_tokens"
    )
    prefix = models.CharField(max_length=12, help_text="The first characters of the key, to tell tokens apart.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    rotated_from = models.OneToOneField(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="rotated_to"
    )

    objects = OrganisationTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"Token #{self.pk}"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @staticmethod
    def new_key() -> str:
        return TOKEN_PREFIX + secrets.token_urlsafe(32)

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None


class FeedBatch(models.Model):
    """One push (an API call, or one chunk of a CSV upload): what it did, for the dashboard."""

    class Source(models.TextChoices):
        API = "api", "API"
        CSV = "csv", "CSV upload"

    organisation = models.ForeignKey(
        "practitioners.Organisation", on_delete=models.PROTECT, related_name="feed_batches"
    )
    token = models.ForeignKey(OrganisationToken, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    upload = models.ForeignKey("CsvUpload", on_delete=models.SET_NULL, null=True, blank=True, related_name="batches")
    source = models.CharField(max_length=3, choices=Source.choices)
    received_at = models.DateTimeField(default=timezone.now)
    rows = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    queued = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-received_at", "-pk"]
        indexes = [models.Index(fields=["organisation", "received_at"], name="feedbatch_org_received")]
        verbose_name_plural = "feed batches"

    def __str__(self):
        return f"Batch #{self.pk}"


class MatchReview(models.Model):
    """An incoming row whose child could not be told apart with confidence (SPEC 6: 0.85-0.95).

    ``row`` holds the validated incoming data; ``candidates`` the children it may be,
    as ``[{"child_id", "score", "reasons"}]``. An LA admin of the organisation's
    authority decides: the same child as one candidate, or a new child.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for a decision"
        ATTACHED = "attached", "Same child as an existing record"
        NEW_CHILD = "new_child", "New child record created"
        SUPERSEDED = "superseded", "Resolved by a later row from the source"

    organisation = models.ForeignKey(
        "practitioners.Organisation", on_delete=models.PROTECT, related_name="match_reviews"
    )
    batch = models.ForeignKey(FeedBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    external_id = models.CharField(max_length=100)
    row = models.JSONField()
    candidates = models.JSONField(default=list)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    child = models.ForeignKey("children.Child", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    involvement = models.ForeignKey(
        "children.Involvement", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["organisation", "external_id"], condition=Q(status="open"), name="matchreview_one_open_per_row"
            )
        ]

    def __str__(self):
        return f"Match review #{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class CsvUpload(models.Model):
    """A CSV file of involvements: validated, shown with its errors, then committed by a task.

    The file's bytes are kept in the database (web and worker need not share a disk)
    and cleared once the upload is committed or discarded.
    """

    class Status(models.TextChoices):
        VALIDATING = "validating", "Checking the file"
        VALIDATED = "validated", "Checked: ready to add"
        REJECTED = "rejected", "The file could not be read"
        COMMITTING = "committing", "Adding involvements"
        DONE = "done", "Finished"
        DISCARDED = "discarded", "Discarded"

    organisation = models.ForeignKey("practitioners.Organisation", on_delete=models.PROTECT, related_name="+")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now)
    filename = models.CharField(max_length=255)
    content = models.BinaryField(editable=False, default=b"")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.VALIDATING, db_index=True)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    valid_rows = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, help_text="[{line, column, message}], the first few hundred.")
    file_error = models.TextField(blank=True)
    result = models.JSONField(default=dict)
    task_id = models.CharField(max_length=64, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-uploaded_at", "-pk"]

    def __str__(self):
        return f"Upload #{self.pk}"

    @property
    def in_progress(self) -> bool:
        return self.status in (self.Status.VALIDATING, self.Status.COMMITTING)

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if not self.in_progress else 0
        return min(100, self.processed_rows * 100 // self.total_rows)


class ChildMerge(models.Model):
    """One duplicate record folded into another, with what moved, so it can be undone.

    ``moved`` = {"involvements": [ids], "addresses": [ids], "names": [[id, kind]],
    "identifiers": {"nhs_number": v, "upn": v}} — exactly what ``undo`` puts back.
    """

    merged_child = models.ForeignKey("children.Child", on_delete=models.CASCADE, related_name="+")
    into = models.ForeignKey("children.Child", on_delete=models.CASCADE, related_name="+")
    reason = models.TextField()
    moved = models.JSONField(default=dict)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    merged_at = models.DateTimeField(default=timezone.now)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-merged_at", "-pk"]

    def __str__(self):
        return f"Merge #{self.pk}"

    @property
    def is_undone(self) -> bool:
        return self.undone_at is not None
