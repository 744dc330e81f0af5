"""Each housekeeping job is a Celery task on the beat schedule; run in-process it does its work."""

from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core import mail
from django.test import TestCase

from housekeeping.jobs import JOBS
from housekeeping.models import JobRun
from signpost.celery import app
from tests.housekeeping.scenarios import SCENARIOS

ROOT = Path(__file__).resolve().parents[2]


def test_every_job_is_a_registered_late_acking_task_on_the_beat_schedule():
    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    for job in JOBS.values():
        assert job.task in scheduled, job.name
        assert app.tasks[job.task].acks_late is True
    assert set(SCENARIOS) == set(JOBS)


def test_the_worker_and_beat_run_with_the_web_app_settings_including_mail_for_reminders_and_alerts():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert services["worker"]["environment"] == services["web"]["environment"] == services["beat"]["environment"]
    for name in ("ADMIN_EMAILS", "EMAIL_BACKEND", "EMAIL_HOST", "DEFAULT_FROM_EMAIL", "TRAINING_VALID_DAYS"):
        assert name in services["worker"]["environment"], name


@pytest.mark.django_db
@pytest.mark.parametrize("job", sorted(SCENARIOS))
def test_each_task_run_in_process_does_its_job_and_returns_the_counts_it_recorded(job):
    scenario = SCENARIOS[job]
    arranged = scenario.arrange()
    with TestCase.captureOnCommitCallbacks(execute=True):  # emails go after their transaction commits
        counts = scenario.task.apply().get()
    run = JobRun.objects.get(job=job)
    assert run.outcome == JobRun.Outcome.SUCCEEDED and run.trigger == JobRun.Trigger.CELERY
    assert run.counts == counts
    scenario.check(arranged, counts)
    if job == "remind_practitioners":
        assert [m.to for m in mail.outbox] == [[arranged["due"].work_email]]
