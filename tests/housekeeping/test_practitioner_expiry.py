"""Practitioners whose vetting or training lapsed lose access; they are warned 30 days before."""

import logging
from datetime import date, timedelta

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import TestCase
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from audit.context import RequestContext
from audit.models import AccessEvent
from housekeeping.jobs import run_job
from outbox.models import OutboundEmail
from housekeeping.models import AccessReminder, JobRun
from practitioners import expiry, permissions
from practitioners import services as grants
from practitioners.models import AccessGrant, Practitioner, PractitionerStatusChange
from tests import factories

pytestmark = pytest.mark.django_db
TODAY = date(2026, 6, 15)
TRAINING = timedelta(days=3 * 365)



def sent_after_commit():
    """The job's emails are queued in its transactions and sent after each commits."""
    return TestCase.captureOnCommitCallbacks(execute=True)

@pytest.fixture
def verified(monkeypatch):
    """These tests are about expiry, not the second factor: treat users as OTP-verified."""
    monkeypatch.setattr(User, "is_verified", lambda self: True, raising=False)


def practitioner_with(**dates):
    dates.setdefault("vetting_expires_on", TODAY + timedelta(days=300))
    dates.setdefault("training_completed_on", TODAY - timedelta(days=30))
    return factories.PractitionerFactory(**dates)


def signed_in_session(user):
    client = Client()
    client.force_login(user)
    return client.session.session_key


def test_vetting_that_expired_yesterday_ends_access_and_vetting_that_expires_today_does_not():
    lapsed = practitioner_with(vetting_expires_on=TODAY - timedelta(days=1))
    current = practitioner_with(vetting_expires_on=TODAY)
    result = expiry.expire_lapsed_practitioners(today=TODAY)
    lapsed.refresh_from_db(), current.refresh_from_db()
    assert (lapsed.status, current.status) == (Practitioner.Status.EXPIRED, Practitioner.Status.ACTIVE)
    assert result.counts["expired"] == 1


def test_training_older_than_its_validity_ends_access_by_one_day():
    lapsed = practitioner_with(training_completed_on=TODAY - TRAINING - timedelta(days=1))
    current = practitioner_with(training_completed_on=TODAY - TRAINING)
    expiry.expire_lapsed_practitioners(today=TODAY)
    assert Practitioner.objects.get(pk=lapsed.pk).status == Practitioner.Status.EXPIRED
    assert Practitioner.objects.get(pk=current.pk).status == Practitioner.Status.ACTIVE


def test_expiry_records_the_status_change_revokes_grants_and_ends_sessions_and_tokens(verified):
    practitioner = practitioner_with(vetting_expires_on=TODAY - timedelta(days=1))
    bystander = practitioner_with()
    child = factories.ChildFactory()
    for who in (practitioner, bystander):
        grants.grant_access(practitioner=who, child=child, source=AccessGrant.Source.ACCESS_REQUEST, reason="Enquiry",
                            expires_at=timezone.now() + timedelta(days=30), context=RequestContext.system("test"))
        Token.objects.create(user=who.user)
    session, other_session = signed_in_session(practitioner.user), signed_in_session(bystander.user)

    expiry.expire_lapsed_practitioners(today=TODAY)

    change = PractitionerStatusChange.objects.get(practitioner=practitioner)
    assert (change.from_status, change.to_status, change.changed_by) == ("active", "expired", None)
    assert "Vetting check expired on 14 June 2026" in change.reason
    grant = AccessGrant.objects.get(practitioner=practitioner)
    assert grant.revoked_at is not None
    assert AccessEvent.objects.filter(action="grant.revoke", details__grant_id=grant.pk).exists()
    assert not permissions.children_visible_to(practitioner).exists()
    assert not Token.objects.filter(user=practitioner.user).exists()
    from django.contrib.sessions.models import Session

    assert not Session.objects.filter(session_key=session).exists()
    # Nobody else is touched.
    assert Session.objects.filter(session_key=other_session).exists()
    assert Token.objects.filter(user=bystander.user).exists()
    assert AccessGrant.objects.live().filter(practitioner=bystander).exists()
    event = AccessEvent.objects.get(action="practitioner.expire")
    assert event.details == {"practitioner_id": practitioner.pk, "lapsed": ["vetting"], "grants_revoked": 1,
                             "sessions_ended": 1, "tokens_deleted": 1}


def test_a_browser_signed_in_before_expiry_is_signed_out_after_it(client):
    practitioner = practitioner_with(vetting_expires_on=TODAY - timedelta(days=1))
    client.force_login(practitioner.user)
    assert client.get(reverse("home")).wsgi_request.user.is_authenticated
    expiry.expire_lapsed_practitioners(today=TODAY)
    assert not client.get(reverse("home")).wsgi_request.user.is_authenticated


def test_a_lapsed_practitioner_is_refused_before_the_job_has_run(verified):
    practitioner = practitioner_with(vetting_expires_on=timezone.localdate() - timedelta(days=1))
    assert practitioner.status == Practitioner.Status.ACTIVE
    assert not permissions.may_search(practitioner.user)


def test_running_twice_expires_once_and_suspended_practitioners_are_left_alone():
    lapsed = practitioner_with(vetting_expires_on=TODAY - timedelta(days=1))
    suspended = practitioner_with(vetting_expires_on=TODAY - timedelta(days=1), status=Practitioner.Status.SUSPENDED)
    expiry.expire_lapsed_practitioners(today=TODAY)
    assert expiry.expire_lapsed_practitioners(today=TODAY).counts["expired"] == 0
    assert PractitionerStatusChange.objects.filter(practitioner=lapsed).count() == 1
    assert Practitioner.objects.get(pk=suspended.pk).status == Practitioner.Status.SUSPENDED


def test_a_dry_run_lists_practitioners_by_id_and_changes_nothing():
    lapsed = practitioner_with(vetting_expires_on=TODAY - timedelta(days=1))
    result = expiry.expire_lapsed_practitioners(today=TODAY, dry_run=True)
    assert result.listing == [f"Practitioner #{lapsed.pk}"]
    assert Practitioner.objects.get(pk=lapsed.pk).status == Practitioner.Status.ACTIVE


# --- reminders --------------------------------------------------------------------------------

def test_a_practitioner_is_reminded_30_days_before_vetting_expires_once_only():
    due = practitioner_with(vetting_expires_on=TODAY + timedelta(days=30))
    later = practitioner_with(vetting_expires_on=TODAY + timedelta(days=31))

    with sent_after_commit():
        assert expiry.send_access_reminders(today=TODAY).counts["reminded"] == 1
        assert expiry.send_access_reminders(today=TODAY).counts["reminded"] == 0
        assert expiry.send_access_reminders(today=TODAY + timedelta(days=1)).counts["reminded"] == 1  # only `later`

    email, next_day = mail.outbox
    assert next_day.to == [later.work_email]
    assert email.to == [due.work_email]
    assert email.subject == "Your Signpost access will stop after 15 July 2026 unless it is renewed"
    assert "Vetting check: expires on 15 July 2026" in email.body
    assert due.organisation.local_authority.name in email.body
    reminder = AccessReminder.objects.get(practitioner=due)
    assert (reminder.practitioner, reminder.kind, reminder.expires_on) == (due, "vetting", TODAY + timedelta(days=30))


def test_vetting_and_training_lapsing_in_the_window_are_named_in_one_email():
    practitioner_with(vetting_expires_on=TODAY + timedelta(days=20),
                      training_completed_on=TODAY + timedelta(days=5) - TRAINING)
    with sent_after_commit():
        expiry.send_access_reminders(today=TODAY)
    [email] = mail.outbox
    assert "Training: expires on 20 June 2026" in email.body
    assert email.body.index("Training") < email.body.index("Vetting check")  # soonest first
    assert AccessReminder.objects.count() == 2


def test_a_renewed_date_gets_its_own_reminder():
    practitioner = practitioner_with(vetting_expires_on=TODAY + timedelta(days=10))
    with sent_after_commit():
        expiry.send_access_reminders(today=TODAY)
    practitioner.vetting_expires_on = TODAY + timedelta(days=25)  # renewed, but only briefly
    practitioner.save()
    with sent_after_commit():
        expiry.send_access_reminders(today=TODAY)
    assert len(mail.outbox) == 2


def test_a_failed_send_is_recorded_without_personal_data_and_sent_by_the_next_sweep(settings, caplog):
    practitioner = practitioner_with(vetting_expires_on=timezone.localdate() + timedelta(days=10))
    practitioner.user.first_name = "Zebedee"
    practitioner.user.save()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens

    with caplog.at_level(logging.WARNING), sent_after_commit():
        run, result = run_job("remind_practitioners")

    assert run.outcome == JobRun.Outcome.SUCCEEDED and result.counts["reminded"] == 1  # the mail server is not the job's
    email = OutboundEmail.objects.get(kind="access_reminder")
    assert (email.status, email.attempts, email.last_error) == ("retrying", 1, "ConnectionRefusedError")
    assert practitioner.work_email not in caplog.text and "Zebedee" not in caplog.text
    assert AccessReminder.objects.count() == 1  # reminded once: the outbox, not the next run, retries the send
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    _, swept = run_job("send_waiting_emails")  # the sweep sends what is due (here: a retry due in the past)
    assert swept.counts == {"sent": 0, "not_sent": 0, "forgotten": 0, "failed_total": 0}  # not yet due
    OutboundEmail.objects.filter(pk=email.pk).update(next_attempt_at=timezone.now())
    _, swept = run_job("send_waiting_emails")
    assert swept.counts["sent"] == 1 and [m.to for m in mail.outbox] == [[practitioner.work_email]]
