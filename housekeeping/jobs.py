"""The housekeeping jobs by name, and the one way each is run: recorded as a ``JobRun``.

Celery tasks (``children.tasks``, ``practitioners.tasks``, ``audit.tasks``) and the
``run_housekeeping`` command both call ``run_job``, so admins see every run, however started.
"""

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from audit import services as audit_services
from audit import verification
from children import retention
from housekeeping.models import JobRun
from outbox import services as outbox
from practitioners import expiry

logger = logging.getLogger(__name__)
Progress = Callable[[int, int], None] | None


class JobFailed(Exception):
    """A job raised: carries only the safe summary (type and place), never the original message,
    which may quote a row (an IntegrityError's DETAIL names the values) into Celery's log."""


@dataclass
class JobResult:
    counts: dict[str, int] = field(default_factory=dict)
    outcome: str = JobRun.Outcome.SUCCEEDED
    listing: list[str] = field(default_factory=list)  # dry run: what would change (references, ids)
    summary: str = ""  # one safe line for admins when the outcome is not plain success


@dataclass(frozen=True)
class Job:
    name: str
    description: str
    task: str  # the Celery task that runs it, as named in CELERY_BEAT_SCHEDULE
    perform: Callable[..., JobResult]  # (*, dry_run, on_progress) -> JobResult
    # Calls on_progress after each committed batch, so its run heartbeats while it works. A job
    # that is one long read (verify_audit_chain) cannot: it counts as abandoned only after
    # settings.JOB_LONGEST_RUN, not settings.JOB_HEARTBEAT_TIMEOUT.
    heartbeats: bool = True


def _expire_records(*, dry_run: bool, on_progress: Progress) -> JobResult:
    result = retention.expire_stale_records(
        today=timezone.localdate(), batch_size=settings.RETENTION_BATCH_SIZE, dry_run=dry_run, on_progress=on_progress
    )
    return JobResult(
        counts=result.counts(), listing=result.would_delete,
        outcome=JobRun.Outcome.SKIPPED if result.locked_out else JobRun.Outcome.SUCCEEDED,
        summary="Another run held the lock" if result.locked_out else "",
    )


def _from_expiry(result: expiry.ExpiryResult) -> JobResult:
    return JobResult(
        counts=dict(sorted(result.counts.items())), listing=result.listing,
        outcome=JobRun.Outcome.SKIPPED if result.locked_out else JobRun.Outcome.SUCCEEDED,
        summary="Another run held the lock" if result.locked_out else "",
    )


def _expire_practitioners(*, dry_run: bool, on_progress: Progress) -> JobResult:
    return _from_expiry(expiry.expire_lapsed_practitioners(
        today=timezone.localdate(), dry_run=dry_run, on_progress=on_progress))


def _remind_practitioners(*, dry_run: bool, on_progress: Progress) -> JobResult:
    return _from_expiry(expiry.send_access_reminders(today=timezone.localdate(), dry_run=dry_run, on_progress=on_progress))


def _expire_grants(*, dry_run: bool, on_progress: Progress) -> JobResult:
    return _from_expiry(expiry.revoke_expired_grants(dry_run=dry_run, on_progress=on_progress))


def _verify_audit_chain(*, dry_run: bool, on_progress: Progress) -> JobResult:
    """Read-only either way; a dry run only leaves out the alert."""
    first_break = verification.verify_chain()
    if first_break is None:
        return JobResult(counts={"broken": 0})
    if not dry_run:
        verification.alert_broken_chain(first_break)
    return JobResult(
        counts={"broken": 1, "first_broken_event_id": first_break.event_id or 0}, outcome=JobRun.Outcome.FAILED,
        summary=f"Audit chain broken: {first_break}",
    )


def _score_anomalies(*, dry_run: bool, on_progress: Progress) -> JobResult:
    """Tally searches per practitioner per completed day: the anomaly view's volume flag reads it."""
    if dry_run:
        return JobResult(counts={"days_tallied": 0})
    return JobResult(counts={"days_tallied": audit_services.tally_recent_searches(today=timezone.localdate())})


def _send_waiting_emails(*, dry_run: bool, on_progress: Progress) -> JobResult:
    """Retries that are due, and emails the worker never got; failed ones stay listed in the admin."""
    return JobResult(counts=outbox.send_waiting_emails(dry_run=dry_run))


JOBS: dict[str, Job] = {job.name: job for job in [
    Job("expire_grants", "Revoke grants and break-glass windows past their expiry",
        "practitioners.tasks.revoke_expired_grants", _expire_grants),
    Job("expire_practitioners", "Expire practitioners whose vetting or training lapsed",
        "practitioners.tasks.expire_lapsed_practitioners", _expire_practitioners),
    Job("remind_practitioners", "Email practitioners whose vetting or training is about to lapse",
        "practitioners.tasks.send_access_reminders", _remind_practitioners),
    Job("expire_records", "Delete stale child records",
        "children.tasks.expire_stale_records", _expire_records),
    Job("verify_audit_chain", "Verify the audit log's hash chain",
        "audit.tasks.verify_audit_chain", _verify_audit_chain, heartbeats=False),
    Job("score_anomalies", "Tally searches per practitioner per day for the anomaly view",
        "audit.tasks.tally_search_volume", _score_anomalies, heartbeats=False),
    Job("send_waiting_emails", "Send emails whose retry is due or that no worker picked up",
        "housekeeping.tasks.send_waiting_emails", _send_waiting_emails),
]}


def failure_summary(exc: BaseException) -> str:
    """The exception's type and the innermost place it was raised: no message, no values."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    if frames:
        frame = frames[-1]
        where = f" at {Path(frame.filename).name}:{frame.lineno} in {frame.name}"
    return f"{type(exc).__name__}{where}"


def run_job(
    name: str, *, dry_run: bool = False, trigger: str = JobRun.Trigger.CELERY, on_progress: Progress = None
) -> tuple[JobRun, JobResult]:
    """Run job ``name`` now and record it as a ``JobRun``; returns both.

    The JobRun row is written outside the job's own transactions, so a failed run is recorded
    too. Raises ``JobFailed`` (safe summary only) if the job raised; KeyError for an unknown name.
    """
    job = JOBS[name]
    run = JobRun.objects.create(job=name, trigger=trigger, dry_run=dry_run)

    def progress(done: int, total: int) -> None:
        run.beat()  # after each committed batch: the sweep tells a live run from a lost one by this
        if on_progress is not None:
            on_progress(done, total)

    try:
        result = job.perform(dry_run=dry_run, on_progress=progress)
    except Exception as exc:
        summary = failure_summary(exc)
        run.finish(outcome=JobRun.Outcome.FAILED, error_summary=summary)
        logger.error("housekeeping job %s (run %s) failed: %s", name, run.pk, summary)
        raise JobFailed(f"{name} failed: {summary}") from None
    except BaseException as exc:  # KeyboardInterrupt, SystemExit: record it, then let it stop us
        _record_interrupted(run, exc)
        raise
    run.finish(outcome=result.outcome, counts=result.counts, error_summary=result.summary)
    logger.info("housekeeping job %s (run %s) %s: %s", name, run.pk, result.outcome, result.counts)
    return run, result


def _record_interrupted(run: JobRun, exc: BaseException) -> None:
    """Mark a run stopped by an interrupt as failed, if the database still answers. A run killed
    outright (SIGKILL, lost machine) gets here never: the sweep marks it abandoned instead."""
    try:
        run.finish(outcome=JobRun.Outcome.FAILED, error_summary=f"Interrupted: {failure_summary(exc)}")
    except Exception:  # noqa: BLE001 -- never hide the interrupt behind a second error
        logger.error("housekeeping job %s (run %s) interrupted and not recorded", run.job, run.pk)
