"""The email worker: one task per email, retried with exponential backoff on SMTP and network errors."""

from smtplib import SMTPException

from celery import shared_task
from django.conf import settings

from outbox import services


@shared_task(acks_late=True, autoretry_for=(SMTPException, OSError), retry_backoff=int(settings.OUTBOX_RETRY_BACKOFF.total_seconds()),
             retry_backoff_max=int(settings.OUTBOX_RETRY_BACKOFF_MAX.total_seconds()),
             retry_jitter=True, max_retries=settings.OUTBOX_MAX_RETRIES)
def send_outbound_email(email_id: int) -> int:
    """Send one queued email; 1 if sent, 0 if it was no longer waiting. Raises EmailNotSent (retried)."""
    return services.deliver(email_id=email_id)
