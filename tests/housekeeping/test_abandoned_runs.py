"""A run whose worker died is marked abandoned and its job queued again; a live one is left alone."""

from datetime import date, timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from children.models import Child
from housekeeping import services
from housekeeping.jobs import run_job
from housekeeping.models import JobRun
from signpost.celery import app
from tests import factories
from tests.housekeeping.conftest import at_noon

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _timeouts(settings):
    settings.JOB_HEARTBEAT_TIMEOUT = timedelta(minutes=5)
    settings.JOB_LONGEST_RUN = timedelta(minutes=30)


@pytest.fixture
def tasks_in_process():
    """Queued tasks run here and now (Celery's eager mode), whatever broker the suite has."""
    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def run_left_running(job="expire_records", *, silent_for, dry_run=False, started_before=timedelta(0)):
    """A JobRun as a SIGKILLed worker leaves it: running, last heartbeat ``silent_for`` ago."""
    now = timezone.now()
    return JobRun.objects.create(job=job, dry_run=dry_run, started_at=now - silent_for - started_before,
                                 heartbeat_at=now - silent_for)


def stale_child():
    return factories.ChildFactory(last_activity_at=at_noon(timezone.localdate() - timedelta(days=800)),
                                  date_of_birth=date(2019, 5, 1))


def test_a_run_silent_longer_than_the_heartbeat_timeout_is_marked_abandoned_and_a_live_one_is_not():
    lost = run_left_running(silent_for=timedelta(minutes=6))
    live = run_left_running(silent_for=timedelta(minutes=4), started_before=timedelta(hours=1))
    result = services.sweep_abandoned_runs()
    lost.refresh_from_db()
    live.refresh_from_db()
    assert result.abandoned == [lost.pk]
    assert (lost.outcome, live.outcome) == (JobRun.Outcome.ABANDONED, JobRun.Outcome.RUNNING)
    assert "worker lost" in lost.error_summary and lost.finished_at is not None and lost.duration is not None


def test_a_job_that_cannot_heartbeat_mid_run_is_given_the_longest_run_time_instead():
    reading = run_left_running("verify_audit_chain", silent_for=timedelta(minutes=20))
    lost = run_left_running("score_anomalies", silent_for=timedelta(minutes=31))
    assert services.sweep_abandoned_runs().abandoned == [lost.pk]
    reading.refresh_from_db()
    assert reading.outcome == JobRun.Outcome.RUNNING


def test_the_abandoned_job_is_queued_again_and_its_rerun_finishes_the_work(tasks_in_process,
                                                                           django_capture_on_commit_callbacks):
    child = stale_child()
    lost = run_left_running(silent_for=timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        result = services.sweep_abandoned_runs()
    assert result.requeued == ["expire_records"]
    rerun = JobRun.objects.exclude(pk=lost.pk).get(job="expire_records")
    assert (rerun.outcome, rerun.trigger, rerun.counts["children"]) == (JobRun.Outcome.SUCCEEDED, "celery", 1)
    assert not Child.objects.filter(pk=child.pk).exists()


def test_sweeping_again_queues_nothing_more(tasks_in_process, django_capture_on_commit_callbacks):
    run_left_running(silent_for=timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        first = services.sweep_abandoned_runs()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        second = services.sweep_abandoned_runs()
    assert (len(first.abandoned), first.requeued) == (1, ["expire_records"])
    assert (second.abandoned, second.requeued, callbacks) == ([], [], [])
    assert JobRun.objects.filter(job="expire_records").count() == 2


def test_a_job_already_run_again_since_its_lost_run_is_not_queued_again(django_capture_on_commit_callbacks):
    run_left_running(silent_for=timedelta(minutes=10))
    run_job("expire_records")  # the broker's redelivery, or the next night's run, got there first
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = services.sweep_abandoned_runs()
    assert (len(result.abandoned), result.requeued, callbacks) == (1, [], [])


def test_several_lost_runs_of_one_job_queue_it_once(django_capture_on_commit_callbacks, tasks_in_process):
    run_left_running(silent_for=timedelta(minutes=50))
    run_left_running(silent_for=timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = services.sweep_abandoned_runs()
    assert (len(result.abandoned), result.requeued, len(callbacks)) == (2, ["expire_records"], 1)


def test_a_lost_dry_run_is_marked_but_not_repeated(django_capture_on_commit_callbacks):
    run_left_running(silent_for=timedelta(minutes=10), dry_run=True)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = services.sweep_abandoned_runs()
    assert (len(result.abandoned), result.requeued, callbacks) == (1, [], [])


def test_a_finished_run_is_never_abandoned_however_old():
    run = run_left_running(silent_for=timedelta(days=3))
    run.finish(outcome=JobRun.Outcome.SUCCEEDED)
    assert services.sweep_abandoned_runs().abandoned == []
    run.refresh_from_db()
    assert run.outcome == JobRun.Outcome.SUCCEEDED


def test_a_run_heartbeats_after_each_committed_batch(settings):
    settings.RETENTION_BATCH_SIZE = 1
    for _ in range(3):
        stale_child()
    beats = []

    def watch(done, total):
        beats.append(JobRun.objects.get(job="expire_records").heartbeat_at)

    run, result = run_job("expire_records", on_progress=watch)
    assert result.counts["batches"] == 3
    assert len(beats) == 3 and beats == sorted(beats) and beats[0] > run.started_at


def test_an_interrupted_run_is_recorded_as_failed_not_left_running(settings):
    stale_child()

    def interrupt(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_job("expire_records", on_progress=interrupt)
    run = JobRun.objects.get()
    assert run.outcome == JobRun.Outcome.FAILED and run.error_summary.startswith("Interrupted: KeyboardInterrupt")


def test_the_sweep_task_is_on_the_beat_schedule_and_late_acking():
    app.loader.import_default_modules()
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-abandoned-runs"]
    assert entry["task"] == "housekeeping.tasks.sweep_abandoned_runs"
    assert entry["schedule"] == settings.JOB_SWEEP_INTERVAL <= settings.JOB_HEARTBEAT_TIMEOUT.total_seconds()
    assert app.tasks[entry["task"]].acks_late is True


def test_a_task_lost_with_its_worker_goes_back_on_the_queue_after_the_longest_run_not_an_hour():
    # acks_late: a task is acknowledged only when it finishes; reject_on_worker_lost: a child
    # process that dies puts it back; the visibility timeout: a whole worker that dies (its
    # task unacknowledged in Redis) has it handed out again after the longest job, not 3,600 s.
    assert app.conf.task_acks_late is True and app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    visibility = app.conf.broker_transport_options["visibility_timeout"]
    assert visibility == settings.JOB_LONGEST_RUN.total_seconds() < 3600


def test_the_task_returns_its_counts(tasks_in_process):
    from housekeeping.tasks import sweep_abandoned_runs

    run_left_running("verify_audit_chain", silent_for=timedelta(hours=2), dry_run=True)
    assert sweep_abandoned_runs.apply().get() == {"abandoned": 1, "requeued": 0}


def test_a_verified_superuser_sees_abandoned_runs_in_the_job_list(client, login_verified):
    run_left_running(silent_for=timedelta(minutes=10), dry_run=True)
    services.sweep_abandoned_runs()
    # The Django admin is for superusers with a verified second factor (issue 16 item 4).
    login_verified(client, factories.UserFactory(is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:housekeeping_jobrun_changelist")).content.decode()
    assert "Abandoned: its worker stopped without finishing" in page and "worker lost" in page
