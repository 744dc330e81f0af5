"""The access log: append-only and hash-chained (SPEC 4).

No foreign keys: an event must outlive the user, organisation or child it names,
and an ``on_delete`` would have to UPDATE the row, which the database refuses.
Children appear only by their pseudonymous ``reference``.
"""

from django.db import models
from django.utils import timezone


class AccessEvent(models.Model):
    class Outcome(models.TextChoices):
        ALLOWED = "allowed", "Allowed"
        DENIED = "denied", "Denied"

    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor_username = models.CharField(max_length=150, blank=True)
    actor_role = models.CharField(max_length=60, blank=True)
    organisation_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    local_authority_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    action = models.CharField(max_length=60, db_index=True)
    child_ref = models.CharField(max_length=13, blank=True, db_index=True)
    reason = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.ALLOWED)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-id"]
        default_permissions = ("view",)

    def __str__(self):
        return f"Event #{self.pk} {self.action}"


class ChainHead(models.Model):
    """The latest link of the chain. Writers lock this row, so two can't share a prev_hash."""

    id = models.PositiveSmallIntegerField(primary_key=True)
    last_event_id = models.BigIntegerField(null=True)
    last_hash = models.CharField(max_length=64)

    def __str__(self):
        return f"Chain head {self.pk}"
