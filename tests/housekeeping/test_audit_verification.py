"""The nightly check finds the first broken link of the audit chain and raises the alarm."""

import logging

import pytest
from django.core import mail

from audit import services
from audit.context import RequestContext
from audit.models import AccessEvent, ChainHead
from audit.verification import verify_chain
from housekeeping.jobs import run_job
from housekeeping.models import JobRun
from tests import factories

pytestmark = pytest.mark.django_db
SYSTEM = RequestContext.system("test")


def some_events(n=3):
    child = factories.ChildFactory(given_names="Zebedee")
    return [services.record_event(action="child.view", context=SYSTEM, child=child) for _ in range(n)]


def forge(*, hash):
    """Append a row with a made-up hash, as someone with database access could (INSERT is allowed)."""
    head = ChainHead.objects.get()
    event = AccessEvent(id=head.last_event_id + 1, action="child.view", prev_hash=head.last_hash, hash=hash)
    event.save(force_insert=True)
    ChainHead.objects.filter(pk=head.pk).update(last_event_id=event.id, last_hash=event.hash)
    return event


def test_an_intact_chain_and_an_empty_log_verify():
    assert verify_chain() is None
    some_events()
    assert verify_chain(batch_size=2) is None


def test_an_event_whose_hash_does_not_match_its_content_is_the_first_broken_link():
    some_events()
    forged = forge(hash="f" * 64)
    some_events()  # later events link to the forged hash and are themselves consistent
    assert verify_chain(batch_size=2) == forged.id


def test_an_event_that_does_not_link_to_the_one_before_is_the_first_broken_link():
    some_events()
    head = ChainHead.objects.get()
    event = AccessEvent(id=head.last_event_id + 1, action="child.view", prev_hash="0" * 64)
    event.hash = services.compute_hash(event)  # a well-formed event spliced from elsewhere
    event.save(force_insert=True)
    ChainHead.objects.filter(pk=head.pk).update(last_event_id=event.id, last_hash=event.hash)
    assert verify_chain() == event.id


def test_events_missing_from_the_end_show_as_the_head_pointing_past_the_last_event():
    events = some_events()
    ChainHead.objects.update(last_event_id=events[-1].id + 2)
    assert verify_chain() == events[-1].id + 1


def test_a_broken_chain_logs_an_error_emails_admins_and_fails_the_run_without_personal_data(settings, caplog):
    settings.ADMINS = [("Signpost admins", "admins@example.org")]
    some_events()
    forged = forge(hash="e" * 64)
    with caplog.at_level(logging.ERROR):
        run, _ = run_job("verify_audit_chain")

    assert run.outcome == JobRun.Outcome.FAILED and run.error_summary == f"Audit chain broken at event {forged.id}"
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        f"Audit chain broken: first broken event id {forged.id}"]
    [email] = mail.outbox
    assert email.to == ["admins@example.org"] and str(forged.id) in email.subject
    assert "Zebedee" not in email.body + email.subject + caplog.text
    assert AccessEvent.objects.filter(action="audit.chain_broken", details__first_broken_event_id=forged.id).exists()


def test_a_dry_run_reports_a_broken_chain_without_alerting(settings):
    settings.ADMINS = [("Signpost admins", "admins@example.org")]
    some_events()
    forge(hash="d" * 64)
    run, _ = run_job("verify_audit_chain", dry_run=True)
    assert run.outcome == JobRun.Outcome.FAILED and mail.outbox == []
