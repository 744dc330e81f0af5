"""The sweep for runs whose worker died (``housekeeping.services``), on the beat schedule."""

from celery import shared_task

from housekeeping import services


@shared_task(acks_late=True)
def sweep_abandoned_runs() -> dict[str, int]:
    """Mark runs without a heartbeat abandoned and queue their jobs again. Safe to run twice. Returns counts."""
    result = services.sweep_abandoned_runs()
    return {"abandoned": len(result.abandoned), "requeued": len(result.requeued)}
