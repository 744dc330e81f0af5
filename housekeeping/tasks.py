"""Celery tasks for housekeeping jobs whose work lives in an app below every other (``outbox``)."""

from celery import shared_task

from housekeeping.jobs import run_job


@shared_task(acks_late=True)
def send_waiting_emails() -> dict[str, int]:
    """Send emails whose retry is due or that no worker picked up. Returns counts."""
    _, result = run_job("send_waiting_emails")
    return result.counts
