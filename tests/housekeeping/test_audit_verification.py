"""The nightly check of the audit log raises the alarm on a break, without personal data.

How breaks are found (edited rows, missing events, a rehashed chain against the anchor)
is specified in tests/audit/test_verify_audit_chain.py; this is about the job and the alert.
"""

import logging

import pytest
from django.core import mail
from django.test import TestCase
from django.db import connection

from audit import services
from audit.context import RequestContext
from audit.models import AccessEvent
from housekeeping.jobs import run_job
from housekeeping.models import JobRun
from tests import factories
from tests.audit.test_verify_audit_chain import triggers_disabled

pytestmark = pytest.mark.django_db
SYSTEM = RequestContext.system("test")


@pytest.fixture(autouse=True)
def anchor_file(settings, tmp_path):
    settings.AUDIT_ANCHOR_FILE = tmp_path / "anchors.jsonl"
    settings.ADMINS = [("Signpost admins", "admins@example.org")]


def some_events(n=3):
    child = factories.ChildFactory(given_names="Zebedee")
    return [services.record_event(action="child.view", context=SYSTEM, child=child) for _ in range(n)]


def tamper(event):
    """What someone with database superuser rights could do: rewrite a reason."""
    with triggers_disabled(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {AccessEvent._meta.db_table} SET reason = %s WHERE id = %s", ["edited", event.pk])


def test_an_intact_log_passes_the_nightly_job():
    some_events()
    run, result = run_job("verify_audit_chain")
    assert run.outcome == JobRun.Outcome.SUCCEEDED and result.counts == {"broken": 0}
    assert mail.outbox == []


def test_a_broken_chain_logs_an_error_emails_admins_and_fails_the_run_without_personal_data(caplog):
    events = some_events()
    tamper(events[1])
    with caplog.at_level(logging.ERROR), TestCase.captureOnCommitCallbacks(execute=True):
        run, _ = run_job("verify_audit_chain")

    assert run.outcome == JobRun.Outcome.FAILED and f"#{events[1].pk}" in run.error_summary
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and f"#{events[1].pk}" in errors[0]
    [email] = mail.outbox
    assert email.to == ["admins@example.org"] and f"#{events[1].pk}" in email.subject
    assert "Zebedee" not in email.body + email.subject + caplog.text
    assert AccessEvent.objects.filter(action="audit.chain_broken", details__event_id=events[1].pk).exists()


def test_a_dry_run_reports_a_broken_chain_without_alerting():
    events = some_events()
    tamper(events[0])
    run, result = run_job("verify_audit_chain", dry_run=True)
    assert result.counts["broken"] == 1
    assert mail.outbox == [] and not AccessEvent.objects.filter(action="audit.chain_broken").exists()
