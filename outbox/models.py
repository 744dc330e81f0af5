"""One row per email Signpost sends: what is waiting, what went, what failed.

The message itself (recipients, subject, body) is kept only until it is sent; a sent row
keeps the kind, the counts and the times, so the table is no copy of anyone's mail.
"""

from django.core.mail import EmailMultiAlternatives
from django.db import models
from django.utils import timezone


class OutboundEmailQuerySet(models.QuerySet):
    def waiting(self, *, now, queued_before):
        """Queued since before ``queued_before`` (the worker never got it), or whose next try is due."""
        return self.filter(
            models.Q(status=OutboundEmail.Status.QUEUED, created_at__lte=queued_before)
            | models.Q(status=OutboundEmail.Status.RETRYING, next_attempt_at__lte=now))


class OutboundEmail(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Waiting to be sent"
        RETRYING = "retrying", "Failed, will be tried again"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed, no more tries"

    kind = models.CharField(max_length=40, help_text="What the email is for, e.g. contact_request.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    recipient_count = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=120, blank=True,
                                  help_text="The exception's type only: its message may quote an address.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # The message: emptied once sent.
    from_email = models.CharField(max_length=254, blank=True)
    to = models.JSONField(default=list, blank=True)
    reply_to = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField(blank=True)
    html_body = models.TextField(blank=True)

    objects = OutboundEmailQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "outbound email"

    def __str__(self):
        return f"Email #{self.pk} ({self.kind}, {self.status})"  # str() reaches logs: never an address

    def as_message(self, *, connection) -> EmailMultiAlternatives:
        message = EmailMultiAlternatives(self.subject, self.body, self.from_email, self.to,
                                         reply_to=self.reply_to or None, connection=connection)
        if self.html_body:
            message.attach_alternative(self.html_body, "text/html")
        return message

    def forget_message(self) -> None:
        self.to, self.reply_to, self.subject, self.body, self.html_body = [], [], "", "", ""
