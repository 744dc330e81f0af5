"""Email that never breaks a request: queue it with the change, send it after the commit.

``queue`` stores the message in the caller's transaction and hands it on after the commit:
to a Celery worker (which retries with backoff), or, with no ``REDIS_URL`` (tasks run
in-process: ``OUTBOX_SEND_IN_PROCESS``), to one attempt here, whose failure is logged and
recorded, never raised. Rows
still waiting (a retry due, a hand-off that never happened) are sent by the
``send_waiting_emails`` housekeeping job. Logs carry ids, kinds and exception types only.
"""

import logging
from datetime import timedelta
from smtplib import SMTPException

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone

from outbox.models import OutboundEmail

logger = logging.getLogger(__name__)
RETRYABLE = (SMTPException, OSError)


class EmailNotSent(OSError):
    """A send failed: carries only the original exception's type (an SMTP error's text can quote
    the recipient's address, and Celery logs what a task raises). An OSError, so it is retried."""


def max_attempts() -> int:
    return settings.OUTBOX_MAX_RETRIES + 1


def queue(message: EmailMessage, *, kind: str) -> OutboundEmail:
    """Store ``message`` and send it once the current transaction commits (nothing, if it rolls back).

    Never raises because of the mail server: a failed send is recorded on the row and retried.
    """
    html = next((content for content, mimetype in getattr(message, "alternatives", []) if mimetype == "text/html"), "")
    recipients = list(message.to) + list(message.cc) + list(message.bcc)
    email = OutboundEmail.objects.create(
        kind=kind, from_email=message.from_email or settings.DEFAULT_FROM_EMAIL, to=recipients,
        reply_to=list(message.reply_to), subject=message.subject, body=message.body, html_body=html,
        recipient_count=len(recipients))
    transaction.on_commit(lambda: dispatch(email_id=email.pk))
    return email


def queue_admin_alert(*, subject: str, message: str) -> OutboundEmail | None:
    """``mail_admins``, queued: to every ``ADMINS`` address; None when there are none."""
    admins = [address for _, address in settings.ADMINS]
    if not admins:
        logger.warning("No ADMIN_EMAILS set: an alert to admins was not emailed")
        return None
    return queue(EmailMessage(f"{settings.EMAIL_SUBJECT_PREFIX}{subject}", message, settings.SERVER_EMAIL, admins),
                 kind="admin_alert")


def dispatch(*, email_id: int) -> None:
    """Hand one queued email on: to the worker, or with no broker, one attempt in-process. Never raises."""
    if settings.OUTBOX_SEND_IN_PROCESS:
        try:
            deliver(email_id=email_id)
        except Exception:  # deliver has recorded and logged it; the request goes on
            pass
        return
    from outbox import tasks  # tasks imports this module

    try:
        tasks.send_outbound_email.delay(email_id)
    except Exception as exc:  # broker down: the row stays queued for send_waiting_emails
        logger.error("Email %s not handed to the worker (%s); it waits for the next sweep", email_id,
                     type(exc).__name__)


def _backoff(attempts: int) -> timedelta:
    return min(settings.OUTBOX_RETRY_BACKOFF * 2 ** max(attempts - 1, 0), settings.OUTBOX_RETRY_BACKOFF_MAX)


def deliver(*, email_id: int, now=None) -> int:
    """Send one waiting email; 1 if sent, 0 if it was not waiting (sent already, given up, another
    worker holds it). Safe to run twice: the row is locked and its status checked.

    On failure records the attempt (``retrying`` with the next try's time, or ``failed`` after
    ``OUTBOX_MAX_RETRIES`` retries or an error no retry can fix) and raises ``EmailNotSent``.
    """
    error = None
    with transaction.atomic():
        email = (OutboundEmail.objects.select_for_update(skip_locked=True)
                 .filter(pk=email_id, status__in=[OutboundEmail.Status.QUEUED, OutboundEmail.Status.RETRYING])
                 .first())
        if email is None:
            return 0
        now = now or timezone.now()
        email.attempts += 1
        email.last_attempt_at = now
        try:
            email.as_message(connection=get_connection(timeout=settings.EMAIL_TIMEOUT)).send()
        except Exception as exc:
            error = exc
            given_up = email.attempts >= max_attempts() or not isinstance(exc, RETRYABLE)
            email.status = OutboundEmail.Status.FAILED if given_up else OutboundEmail.Status.RETRYING
            # With a worker, Celery schedules the retry; the sweep steps in only if that is lost.
            lost_after = timedelta(0) if settings.OUTBOX_SEND_IN_PROCESS else settings.OUTBOX_STALE_AFTER
            email.next_attempt_at = None if given_up else now + _backoff(email.attempts) + lost_after
            email.last_error = type(exc).__name__
        else:
            email.status, email.sent_at, email.next_attempt_at, email.last_error = (
                OutboundEmail.Status.SENT, now, None, "")
            email.forget_message()
        email.save()
    if error is None:
        return 1
    log = logger.error if email.status == OutboundEmail.Status.FAILED else logger.warning
    log("Email %s (%s) not sent, attempt %s of %s: %s; now %s", email.pk, email.kind, email.attempts,
        max_attempts(), email.last_error, email.status)
    raise EmailNotSent(email.last_error) from None


def send_waiting_emails(*, now=None, dry_run: bool = False) -> dict[str, int]:
    """Send every email whose retry is due, and any the worker never got (queued longer than
    ``OUTBOX_STALE_AFTER``); forget the content of emails that failed ``OUTBOX_FORGET_FAILED_AFTER``
    ago (the row stays, for the operator). Counts sent, not sent, forgotten and failed in all."""
    now = now or timezone.now()
    waiting = OutboundEmail.objects.waiting(now=now, queued_before=now - settings.OUTBOX_STALE_AFTER)
    ids = list(waiting.order_by("created_at").values_list("pk", flat=True)[:settings.OUTBOX_SWEEP_BATCH])
    if dry_run:
        return {"would_send": len(ids)}
    counts = {"sent": 0, "not_sent": 0}
    for pk in ids:
        try:
            counts["sent"] += deliver(email_id=pk, now=now)
        except EmailNotSent:
            counts["not_sent"] += 1
    failed = OutboundEmail.objects.filter(status=OutboundEmail.Status.FAILED)
    counts["forgotten"] = failed.filter(last_attempt_at__lt=now - settings.OUTBOX_FORGET_FAILED_AFTER).exclude(
        body="", subject="", to=[]).update(to=[], reply_to=[], subject="", body="", html_body="")
    counts["failed_total"] = failed.count()
    return counts
