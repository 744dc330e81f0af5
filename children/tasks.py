"""Celery tasks of the children app: thin wrappers, the work is in ``children.retention``."""

from celery import shared_task

from housekeeping.jobs import run_job


@shared_task(acks_late=True)
def expire_stale_records() -> dict[str, int]:
    """Delete stale child records in batches (SPEC 5); safe to redeliver or run twice. Returns counts."""
    _, result = run_job("expire_records")
    return result.counts
