"""Every email is queued with the change that caused it and sent after the commit; a mail server that
refuses never turns a page into an error, and what could not be sent is retried, then shown to operators."""

import logging
from datetime import timedelta

import pytest
from django.core import mail
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from audit.models import AccessEvent
from outbox import services, tasks
from outbox.models import OutboundEmail
from tests import factories
from tests.practitioners.test_new_accounts import URL as NEW_ACCOUNT_URL
from tests.practitioners.test_new_accounts import account
from tests.practitioners.conftest import as_user, cast  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db
UNREACHABLE = "tests.outbox.unreachable_mail_server.EmailBackend"


@pytest.fixture
def mail_server_down(settings):
    settings.EMAIL_BACKEND = UNREACHABLE


def after_commit():
    return TestCase.captureOnCommitCallbacks(execute=True)


def test_a_password_reset_shows_success_and_is_audited_when_the_mail_server_refuses(client, cast, mail_server_down,
                                                                                   caplog):
    user = cast.practitioner.user
    user.email = "nurse@trust.example.org"
    user.save()
    with caplog.at_level(logging.INFO), after_commit():
        response = client.post(reverse("password_reset"), {"email": "nurse@trust.example.org"})

    assert response.status_code == 302 and response["Location"] == reverse("password_reset_done")
    assert "Check your email" in client.get(response["Location"]).content.decode()
    assert AccessEvent.objects.filter(action="password.reset.request").exists()
    email = OutboundEmail.objects.get(kind="password_reset")
    assert (email.status, email.attempts, email.last_error) == ("retrying", 1, "SMTPRecipientsRefused")
    assert email.next_attempt_at is not None and email.to == ["nurse@trust.example.org"]  # kept for the retry
    assert "nurse@trust.example.org" not in caplog.text and mail.outbox == []


def test_a_new_account_is_created_and_announced_when_the_mail_server_refuses(as_user, cast, mail_server_down):
    admin = as_user(cast.admin.user)
    with after_commit():
        response = admin.post(NEW_ACCOUNT_URL, account(cast), follow=True)
    assert response.status_code == 200
    assert "Account created" in response.content.decode()
    assert AccessEvent.objects.filter(action="practitioner.create").exists()
    assert OutboundEmail.objects.get(kind="new_account").status == OutboundEmail.Status.RETRYING


def test_the_email_is_sent_after_the_commit_and_forgotten_once_sent(client, cast):
    cast.practitioner.user.email = "nurse@trust.example.org"
    cast.practitioner.user.save()
    with after_commit() as callbacks:
        client.post(reverse("password_reset"), {"email": "nurse@trust.example.org"})
        assert mail.outbox == []  # nothing leaves before the commit
    assert len(callbacks) == 1
    assert [m.to for m in mail.outbox] == [["nurse@trust.example.org"]]
    email = OutboundEmail.objects.get()
    assert (email.status, email.attempts, email.recipient_count) == ("sent", 1, 1)
    assert (email.to, email.subject, email.body) == ([], "", "")  # no copy of anyone's mail stays behind


def test_a_rolled_back_change_queues_and_sends_nothing(cast):
    from django.core.mail import EmailMessage
    from django.db import transaction

    with after_commit(), pytest.raises(RuntimeError):
        with transaction.atomic():
            services.queue(EmailMessage("s", "b", None, ["a@example.org"]), kind="test")
            raise RuntimeError
    assert not OutboundEmail.objects.exists() and mail.outbox == []


def _queued(kind="password_reset"):
    from django.core.mail import EmailMessage

    with after_commit():
        return services.queue(EmailMessage("Subject", "Body", None, ["nurse@trust.example.org"]), kind=kind)


@pytest.fixture
def retries_run_in_process():
    """Eager Celery runs each retry at once, but re-raises from the second one on when eager
    exceptions propagate (the suite's setting): let them return as results, as a worker's would."""
    conf = tasks.send_outbound_email.app.conf
    before, conf.task_eager_propagates = conf.task_eager_propagates, False
    yield
    conf.task_eager_propagates = before


def test_the_worker_task_retries_with_backoff_then_records_the_failure(mail_server_down, settings, caplog,
                                                                        retries_run_in_process):
    email = _queued()  # first attempt (in-process here) failed: retrying
    assert tasks.send_outbound_email.autoretry_for and tasks.send_outbound_email.retry_backoff
    with caplog.at_level(logging.WARNING):
        result = tasks.send_outbound_email.apply(args=[email.pk])  # each retry at once, no waiting
    email.refresh_from_db()
    assert result.get() == 0  # the retry after the last attempt found it given up
    assert email.attempts == settings.OUTBOX_MAX_RETRIES + 1 and email.status == OutboundEmail.Status.FAILED
    assert email.next_attempt_at is None and "nurse@trust.example.org" not in caplog.text
    # A failed email is never sent again by accident: neither a late task nor the sweep touch it.
    assert tasks.send_outbound_email.apply(args=[email.pk]).get() == 0
    assert services.send_waiting_emails() == {"sent": 0, "not_sent": 0, "forgotten": 0, "failed_total": 1}
    # A month on, the operator still sees that it failed, but its content (an address, a link) is gone.
    later = timezone.now() + settings.OUTBOX_FORGET_FAILED_AFTER + timedelta(days=1)
    assert services.send_waiting_emails(now=later)["forgotten"] == 1
    email.refresh_from_db()
    assert (email.status, email.to, email.body, email.recipient_count) == ("failed", [], "", 1)


def test_the_worker_task_sends_a_queued_email_once_however_often_it_runs():
    from django.core.mail import EmailMessage

    email = services.queue(EmailMessage("Subject", "Body", None, ["a@example.org"]), kind="test")  # not committed
    assert tasks.send_outbound_email.apply(args=[email.pk]).get() == 1
    assert tasks.send_outbound_email.apply(args=[email.pk]).get() == 0
    assert len(mail.outbox) == 1


def test_the_admin_lists_failed_emails_for_the_operator_without_their_content_and_audits_it(
        client, mail_server_down, login_verified):
    email = _queued()
    OutboundEmail.objects.filter(pk=email.pk).update(status=OutboundEmail.Status.FAILED)
    operator = factories.UserFactory(username="operator", is_staff=True, is_superuser=True)
    login_verified(client, operator)  # the Django admin asks for a verified second factor (issue 16 item 4)
    page = client.get(reverse("admin:outbox_outboundemail_changelist") + "?status__exact=failed").content.decode()
    assert "password_reset" in page and "SMTPRecipientsRefused" in page
    assert "nurse@trust.example.org" not in page and "Body" not in page
    assert AccessEvent.objects.filter(action="admin.view", actor_id=operator.pk).exists()
    detail = client.get(reverse("admin:outbox_outboundemail_change", args=[email.pk])).content.decode()
    assert "nurse@trust.example.org" not in detail


@pytest.mark.parametrize("who", ["practitioner", "la_admin"])
def test_practitioners_and_la_admins_cannot_open_the_email_list(client, cast, who):
    _queued()
    user = cast.practitioner.user if who == "practitioner" else cast.admin.user
    client.force_login(user)
    response = client.get(reverse("admin:outbox_outboundemail_changelist"))
    assert response.status_code == 302 and "login" in response["Location"]
