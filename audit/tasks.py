"""Scheduled audit jobs: thin wrappers over the same functions the commands use."""

import logging

from celery import shared_task

from audit import integrity, partitions
from housekeeping.jobs import run_job

logger = logging.getLogger("signpost.audit")


@shared_task(acks_late=True)
def anchor_chain_heads() -> int:
    """Anchor the chain heads outside the database; a broken chain is logged at ERROR and not anchored."""
    try:
        line = integrity.anchor()
    except integrity.ChainBroken as broken:
        logger.error("audit chain broken, not anchored: %s", broken)
        raise
    return sum(seq for _, seq, _ in line["heads"])


@shared_task(acks_late=True)
def verify_audit_chain() -> dict[str, int]:
    """Verify every chain nightly, as a recorded housekeeping job; a break alerts (see audit.verification)."""
    _, result = run_job("verify_audit_chain")
    return result.counts


@shared_task(acks_late=True)
def ensure_partitions() -> int:
    return len(partitions.ensure_upcoming())


@shared_task(acks_late=True)
def tally_search_volume() -> dict[str, int]:
    """Count yesterday's (and any missed day's) searches per practitioner, as a recorded job."""
    _, result = run_job("score_anomalies")
    return result.counts
