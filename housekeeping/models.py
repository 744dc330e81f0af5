"""Bookkeeping of the background jobs: what ran, when, with what result.

Nothing here is personal data: counts, outcomes, a failure's type and place, and
which practitioner was reminded about which date.
"""

from django.db import models
from django.utils import timezone


class JobRun(models.Model):
    """One run of one housekeeping job, as admins see it in the admin's "Job runs" list."""

    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        SKIPPED = "skipped", "Skipped: another run held the lock"
        FAILED = "failed", "Failed"
        ABANDONED = "abandoned", "Abandoned: its worker stopped without finishing"

    class Trigger(models.TextChoices):
        CELERY = "celery", "Celery task"
        COMMAND = "command", "run_housekeeping command"

    job = models.CharField(max_length=60, db_index=True)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.CELERY)
    dry_run = models.BooleanField(default=False)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration = models.DurationField(null=True, blank=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.RUNNING, db_index=True)
    heartbeat_at = models.DateTimeField(
        default=timezone.now, help_text="Last sign of life: the start, then each committed batch."
    )
    counts = models.JSONField(default=dict, blank=True)
    error_summary = models.CharField(
        max_length=300, blank=True, help_text="What failed and where in the code; never a message that could hold personal data."
    )

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["job", "-started_at"], name="jobrun_job_started")]

    def __str__(self):
        return f"{self.job} run #{self.pk}"

    def beat(self) -> None:
        """Record a sign of life (one UPDATE, committed at once outside a transaction)."""
        self.heartbeat_at = timezone.now()
        JobRun.objects.filter(pk=self.pk).update(heartbeat_at=self.heartbeat_at)

    def finish(self, *, outcome: str, counts: dict | None = None, error_summary: str = "") -> None:
        self.finished_at = timezone.now()
        self.duration = self.finished_at - self.started_at
        self.outcome = outcome
        self.counts = counts or {}
        self.error_summary = error_summary[:300]
        self.save(update_fields=["finished_at", "duration", "outcome", "counts", "error_summary"])


class AccessReminder(models.Model):
    """A practitioner was warned that their vetting or training expires on a date: sent once per date."""

    class Kind(models.TextChoices):
        VETTING = "vetting", "Vetting check"
        TRAINING = "training", "Training"

    practitioner = models.ForeignKey(
        "practitioners.Practitioner", on_delete=models.CASCADE, related_name="access_reminders"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    expires_on = models.DateField(help_text="The last day the vetting check or training counts.")
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-sent_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["practitioner", "kind", "expires_on"], name="access_reminder_once_per_date")
        ]

    def __str__(self):
        return f"Reminder #{self.pk}"
