"""Celery tasks of the audit app: thin wrappers, the work is in ``audit.verification``."""

from celery import shared_task

from housekeeping.jobs import run_job


@shared_task(acks_late=True)
def verify_audit_chain() -> dict[str, int]:
    """Verify the hash chain nightly; a broken chain alerts (ERROR log, email to ADMINS). Returns counts."""
    _, result = run_job("verify_audit_chain")
    return result.counts
