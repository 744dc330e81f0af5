"""The same tasks, sent through the real Redis broker to a real Celery worker process."""

import time

import pytest

from housekeeping.models import JobRun
from tests.housekeeping.scenarios import SCENARIOS

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def finished_runs(jobs, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = {run.job: run for run in JobRun.objects.filter(job__in=jobs).exclude(outcome=JobRun.Outcome.RUNNING)}
        if set(runs) == set(jobs):
            return runs
        time.sleep(0.1)
    pytest.fail(f"the worker did not finish {sorted(set(jobs) - set(runs))} within {timeout} s")


def test_a_worker_runs_every_housekeeping_task_from_the_queue_and_records_each_run(real_worker):
    # One world for all five (their rows do not overlap), so the database is flushed once.
    arranged = {job: scenario.arrange() for job, scenario in SCENARIOS.items()}
    for scenario in SCENARIOS.values():
        real_worker.run(scenario.task)
    runs = finished_runs(list(SCENARIOS))
    for job, scenario in SCENARIOS.items():
        run = runs[job]
        assert (run.outcome, run.trigger) == (JobRun.Outcome.SUCCEEDED, JobRun.Trigger.CELERY), (job, run.error_summary)
        scenario.check(arranged[job], run.counts)
