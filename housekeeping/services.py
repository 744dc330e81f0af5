"""Runs whose worker died: marked abandoned and their job queued again (the sweep, on beat).

A worker killed outright (SIGKILL, out of memory, a lost machine) leaves its JobRun "running"
and its task unacknowledged in Redis. Redis hands the task out again only after the broker's
``visibility_timeout`` (``settings.JOB_LONGEST_RUN``: it must exceed the longest run, or a live
run would be handed out twice). The sweep is quicker for jobs that heartbeat per batch: a run
silent for ``settings.JOB_HEARTBEAT_TIMEOUT`` is abandoned, and its job queued again unless a
later run of it has already started. Every job is idempotent and locked, so a run queued both
ways does no harm: one run skips or finds nothing left.
"""

import logging
from dataclasses import dataclass, field

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from housekeeping.jobs import JOBS
from housekeeping.locks import try_job_lock
from housekeeping.models import JobRun

logger = logging.getLogger(__name__)

SWEEP_LOCK = "sweep_abandoned_runs"
# A re-queued run still waiting when the next scheduled one is due is dropped, as beat's are.
REQUEUE_EXPIRES = 23 * 3600


@dataclass
class SweepResult:
    abandoned: list[int] = field(default_factory=list)  # JobRun ids
    requeued: list[str] = field(default_factory=list)  # job names
    locked_out: bool = False


def silence_allowed(job_name: str):
    """How long a run of this job may go without a heartbeat before it counts as abandoned."""
    job = JOBS.get(job_name)
    return settings.JOB_HEARTBEAT_TIMEOUT if job is not None and job.heartbeats else settings.JOB_LONGEST_RUN


def sweep_abandoned_runs(*, now=None) -> SweepResult:
    """Mark silent runs abandoned and queue each such job once again; returns what it did.

    One transaction under the sweep's lock: two sweeps at once cannot both queue a job (the
    second stops with ``locked_out``). A run is abandoned by a conditional UPDATE, so a run
    that finished or beat meanwhile is left alone. The tasks are sent after the commit.
    Dry runs are marked but not repeated. Nothing here is audited: no personal data moves.
    """
    now = now or timezone.now()
    result = SweepResult()
    with transaction.atomic():
        if not try_job_lock(SWEEP_LOCK):
            result.locked_out = True
            return result
        newest_abandoned: dict[str, JobRun] = {}
        for run in JobRun.objects.filter(outcome=JobRun.Outcome.RUNNING).order_by("started_at", "pk"):
            silent_since = now - silence_allowed(run.job)
            if run.heartbeat_at >= silent_since:
                continue
            marked = JobRun.objects.filter(
                pk=run.pk, outcome=JobRun.Outcome.RUNNING, heartbeat_at__lt=silent_since
            ).update(
                outcome=JobRun.Outcome.ABANDONED, finished_at=now, duration=now - run.started_at,
                error_summary=f"No heartbeat since {run.heartbeat_at.isoformat(timespec='seconds')}: worker lost",
            )
            if marked:
                result.abandoned.append(run.pk)
                if not run.dry_run and run.job in JOBS:
                    newest_abandoned[run.job] = run  # ordered by start: the last one wins
        for name, run in sorted(newest_abandoned.items()):
            # Redelivered by the broker, or run again by beat or by hand: already taken care of.
            if JobRun.objects.filter(job=name, dry_run=False, started_at__gt=run.started_at).exists():
                continue
            result.requeued.append(name)
            transaction.on_commit(lambda task=JOBS[name].task: _queue(task))
    if result.abandoned:
        logger.warning("housekeeping sweep: abandoned runs %s, queued again %s", result.abandoned, result.requeued)
    return result


def _queue(task_name: str) -> None:
    current_app.loader.import_default_modules()  # the task modules, outside a worker too
    current_app.tasks[task_name].apply_async(expires=REQUEUE_EXPIRES)
