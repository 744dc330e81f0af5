"""Every job run is recorded and listed for admins; run_housekeeping runs jobs by hand."""

from datetime import date, timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from children.models import Child
from housekeeping.jobs import JOBS
from housekeeping.models import JobRun
from tests import factories
from tests.housekeeping.conftest import at_noon
from tests.housekeeping.test_audit_verification import some_events, tamper

pytestmark = pytest.mark.django_db
LIST_URL = reverse("admin:housekeeping_jobrun_changelist")


def stale_child(**fields):
    return factories.ChildFactory(last_activity_at=at_noon(timezone.localdate() - timedelta(days=800)),
                                  date_of_birth=date(2019, 5, 1), **fields)


def run_command(*args):
    out, err = StringIO(), StringIO()
    call_command("run_housekeeping", *args, stdout=out, stderr=err)
    return out.getvalue()


def test_a_dry_run_of_record_expiry_lists_references_changes_nothing_and_is_recorded():
    child = stale_child(given_names="Zebedee")
    out = run_command("--job", "expire_records", "--dry-run")
    assert f"expire_records: would change {child.reference}" in out
    assert "Dry run: nothing was changed" in out and "Zebedee" not in out
    assert Child.objects.filter(pk=child.pk).exists()
    run = JobRun.objects.get()
    assert (run.job, run.dry_run, run.trigger, run.outcome) == ("expire_records", True, "command", "succeeded")
    assert run.counts["would_delete"] == 1


def test_running_every_job_prints_a_summary_line_for_each_and_records_each_run():
    stale_child()
    out = run_command()
    for name in JOBS:
        assert name in out
    assert set(JobRun.objects.values_list("job", flat=True)) == set(JOBS)
    run = JobRun.objects.get(job="expire_records")
    assert run.outcome == "succeeded" and run.counts["children"] == 1 and run.duration is not None
    assert "children 1" in out


def test_an_unknown_job_is_refused_by_name():
    with pytest.raises(CommandError, match="invalid choice: 'expire_everything'"):
        run_command("--job", "expire_everything")


def test_a_failing_job_fails_the_command_after_the_other_jobs_ran():
    tamper(some_events()[1])  # the chain check fails (an unreachable mail server no longer fails a job: outbox)
    with pytest.raises(CommandError, match="Failed: verify_audit_chain"):
        run_command("--job", "verify_audit_chain", "--job", "expire_grants")
    outcomes = dict(JobRun.objects.values_list("job", "outcome"))
    assert outcomes == {"verify_audit_chain": "failed", "expire_grants": "succeeded"}


@pytest.fixture
def some_runs():
    call_command("run_housekeeping", "--job", "expire_grants", stdout=StringIO(), stderr=StringIO())


def test_anonymous_visitors_are_sent_to_log_in(client, some_runs):
    response = client.get(LIST_URL)
    assert response.status_code == 302 and "login" in response.url


def test_staff_who_are_not_superusers_are_refused_even_with_the_view_permission(client, some_runs, login_verified):
    """The Django admin is for verified superusers only (issue 16 item 4; tests/signpost/test_django_admin.py)."""
    user = factories.UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_jobrun"))
    login_verified(client, user)
    assert client.get(LIST_URL, follow=True).status_code == 403


def test_a_verified_superuser_sees_runs_with_counts_and_duration_and_cannot_change_them(client, some_runs,
                                                                                       login_verified):
    user = factories.UserFactory(is_staff=True, is_superuser=True)
    login_verified(client, user)
    response = client.get(LIST_URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert "expire_grants" in page and "Succeeded" in page and " s<" in page
    run = JobRun.objects.get()
    assert client.post(reverse("admin:housekeeping_jobrun_delete", args=[run.pk]), {"post": "yes"}).status_code == 403
    assert JobRun.objects.filter(pk=run.pk).exists()
