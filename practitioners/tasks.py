"""Celery tasks of the practitioners app: thin wrappers, the work is in ``practitioners.expiry``."""

from celery import shared_task

from housekeeping.jobs import run_job


@shared_task(acks_late=True)
def revoke_expired_grants() -> dict[str, int]:
    """Revoke grants and break-glass windows past their expiry. Returns counts."""
    _, result = run_job("expire_grants")
    return result.counts


@shared_task(acks_late=True)
def expire_lapsed_practitioners() -> dict[str, int]:
    """Expire practitioners whose vetting or training lapsed, ending their grants and sessions. Returns counts."""
    _, result = run_job("expire_practitioners")
    return result.counts


@shared_task(acks_late=True)
def send_access_reminders() -> dict[str, int]:
    """Email practitioners whose vetting or training lapses soon, once per date. Returns counts."""
    _, result = run_job("remind_practitioners")
    return result.counts
