"""Celery tasks of the housekeeping app itself: jobs whose work lives in an app below every other
(``outbox``), and the sweep for runs whose worker died (``housekeeping.services``)."""

from celery import shared_task

from housekeeping import services
from housekeeping.jobs import run_job


@shared_task(acks_late=True)
def send_waiting_emails() -> dict[str, int]:
    """Send emails whose retry is due or that no worker picked up. Returns counts."""
    _, result = run_job("send_waiting_emails")
    return result.counts


@shared_task(acks_late=True)
def sweep_abandoned_runs() -> dict[str, int]:
    """Mark runs without a heartbeat abandoned and queue their jobs again. Safe to run twice. Returns counts."""
    result = services.sweep_abandoned_runs()
    return {"abandoned": len(result.abandoned), "requeued": len(result.requeued)}
