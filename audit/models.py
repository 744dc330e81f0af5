"""The access log: append-only and hash-chained (SPEC 4).

No foreign keys: an event must outlive the user, organisation or child it names,
and an ``on_delete`` would have to UPDATE the row, which the database refuses.
Children appear only by their pseudonymous ``reference``.

Events are sealed into one of several hash chains (``chain``, ``seq``): each chain
is a strict sequence, so writers only queue behind writers of the same chain
(see docs/decisions.md, "Audit chains"). On PostgreSQL the table is range-partitioned
by month of ``occurred_at`` (migration 0010); the model does not know, and need not.
"""

from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class AccessEventQuerySet(models.QuerySet):
    def newest_first(self):
        return self.order_by("-occurred_at", "-id")

    def before(self, occurred_at, pk):
        """Keyset step: events strictly older than (occurred_at, pk) in newest-first order."""
        return self.filter(Q(occurred_at__lt=occurred_at) | Q(occurred_at=occurred_at, id__lt=pk),
                           occurred_at__lte=occurred_at)

    def after(self, occurred_at, pk):
        """Keyset step the other way: events strictly newer than (occurred_at, pk)."""
        return self.filter(Q(occurred_at__gt=occurred_at) | Q(occurred_at=occurred_at, id__gt=pk),
                           occurred_at__gte=occurred_at)

    def out_of_area(self):
        """The child's local authority is not the actor's."""
        return self.filter(child_local_authority_id__isnull=False, local_authority_id__isnull=False).exclude(
            child_local_authority_id=F("local_authority_id"))


class AccessEvent(models.Model):
    class Outcome(models.TextChoices):
        ALLOWED = "allowed", "Allowed"
        DENIED = "denied", "Denied"

    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField(default=timezone.now)
    chain = models.PositiveSmallIntegerField(default=1)
    seq = models.BigIntegerField(default=0)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_username = models.CharField(max_length=150, blank=True)
    actor_role = models.CharField(max_length=60, blank=True)
    organisation_id = models.BigIntegerField(null=True, blank=True)
    local_authority_id = models.BigIntegerField(null=True, blank=True)
    action = models.CharField(max_length=60)
    child_ref = models.CharField(max_length=13, blank=True)
    # Facts about the child at the moment of access, for the anomaly view: the child
    # record may be gone by the time an auditor looks (retention deletes it).
    child_local_authority_id = models.BigIntegerField(null=True, blank=True)
    shielded = models.BooleanField(default=False)
    reason = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.ALLOWED)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AccessEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        default_permissions = ("view",)
        # Every auditor filter is "<column> = x, newest first, keyset on (occurred_at, id)":
        # one composite index per filter column. Kept few: each index costs every write.
        indexes = [
            models.Index(fields=["chain", "seq"], name="auditevent_chain_seq"),
            models.Index(fields=["occurred_at", "id"], name="auditevent_time"),
            models.Index(fields=["actor_id", "occurred_at", "id"], name="auditevent_actor_time"),
            models.Index(fields=["organisation_id", "occurred_at", "id"], name="auditevent_org_time"),
            models.Index(fields=["action", "occurred_at", "id"], name="auditevent_action_time"),
            models.Index(fields=["child_ref", "occurred_at", "id"], condition=~Q(child_ref=""),
                         name="auditevent_child_time"),
            models.Index(fields=["occurred_at", "id"], condition=Q(outcome="denied"), name="auditevent_denied"),
            models.Index(fields=["occurred_at", "id"], condition=Q(shielded=True), name="auditevent_shielded"),
            models.Index(fields=["occurred_at", "id"],
                         condition=Q(child_local_authority_id__isnull=False, local_authority_id__isnull=False)
                         & ~Q(child_local_authority_id=F("local_authority_id")),
                         name="auditevent_out_of_area"),
        ]

    def __str__(self):
        return f"Event #{self.pk} {self.action}"


class ChainHead(models.Model):
    """The latest link of one chain. A writer locks a head row, so two can't share a prev_hash."""

    id = models.PositiveSmallIntegerField(primary_key=True)
    last_seq = models.BigIntegerField(default=0)
    last_event_id = models.BigIntegerField(null=True)
    last_hash = models.CharField(max_length=64)

    def __str__(self):
        return f"Chain head {self.pk}"


class EventDisclosure(models.Model):
    """A child an event disclosed without naming it as *the* child: the results of a search.

    A match is itself a disclosure (SPEC 3.6), and a subject access request must find
    it. The refs are also in the event's hashed ``details``; this table is their index.
    Append-only like the events.
    """

    id = models.BigAutoField(primary_key=True)
    event_id = models.BigIntegerField()
    occurred_at = models.DateTimeField()
    child_ref = models.CharField(max_length=13)

    class Meta:
        default_permissions = ("view",)
        indexes = [models.Index(fields=["child_ref", "occurred_at"], name="disclosure_child_time")]

    def __str__(self):
        return f"Disclosure #{self.pk}"


class AnomalyReview(models.Model):
    """An auditor's note that an anomaly was looked at. The event itself is never touched.

    ``anomaly_key`` names the anomaly: ``event:<id>`` for one event, or
    ``search-volume:<actor id>:<day>`` for a practitioner's day of searches.
    """

    anomaly_key = models.CharField(max_length=80, unique=True)
    kind = models.CharField(max_length=30)
    event_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    comment = models.TextField()
    reviewed_by_id = models.BigIntegerField(null=True)
    reviewed_by_username = models.CharField(max_length=150)
    reviewed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-reviewed_at"]

    def __str__(self):
        return f"Review of {self.anomaly_key}"


class DailySearchCount(models.Model):
    """Searches per practitioner per day, tallied nightly for the anomaly view.

    Counting a month of searches from the log on every page view would aggregate
    millions of events; completed days are counted once (``audit.services.tally_searches``).
    """

    day = models.DateField()
    actor_id = models.BigIntegerField()
    actor_username = models.CharField(max_length=150)
    searches = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "actor_id"], name="daily_search_count_unique")]
        indexes = [models.Index(fields=["day", "searches"], name="daily_search_count_busy")]

    def __str__(self):
        return f"Searches of actor {self.actor_id} on {self.day}"


class DailySearchTally(models.Model):
    """A day whose searches have been counted into DailySearchCount."""

    day = models.DateField(primary_key=True)
    tallied_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"Searches tallied for {self.day}"
