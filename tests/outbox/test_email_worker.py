"""The email task through the real Redis broker and a real worker whose mail server refuses: the
failure is recorded by the worker and Celery holds a retry, with backoff, for it."""

import time

import pytest
from django.core.mail import EmailMessage

from outbox import services, tasks
from outbox.models import OutboundEmail
from tests.housekeeping.conftest import start_worker

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def worker_with_mail_server_down(django_db_setup, tmp_path_factory):
    yield from start_worker(tmp_path_factory, EMAIL_BACKEND="tests.outbox.unreachable_mail_server.EmailBackend")


def test_a_worker_that_cannot_send_records_the_attempt_and_holds_a_retry(worker_with_mail_server_down, settings):
    worker = worker_with_mail_server_down
    settings.OUTBOX_SEND_IN_PROCESS = False  # the worker sends, as in production
    email = services.queue(EmailMessage("Subject", "Body", None, ["nurse@trust.example.org"]), kind="test")
    tasks.send_outbound_email.apply_async(args=[email.pk], queue=worker.queue)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        email.refresh_from_db()
        if email.attempts:
            break
        time.sleep(0.2)
    assert (email.status, email.last_error) == ("retrying", "SMTPRecipientsRefused")
    assert email.next_attempt_at is not None  # for the sweep, should the retry below be lost

    from signpost.celery import app

    # Celery holds the retry until its (jittered, so possibly near-zero) backoff is over: see it
    # waiting in the worker, or already made as the second attempt.
    deadline = time.monotonic() + 35
    retried = False
    while time.monotonic() < deadline and not retried:
        replies = app.control.inspect(destination=[worker.nodename], timeout=1).scheduled() or {}
        waiting = [t["request"]["args"] for t in replies.get(worker.nodename, [])
                   if t["request"]["name"] == tasks.send_outbound_email.name]
        email.refresh_from_db()
        retried = [email.pk] in waiting or email.attempts >= 2
    assert retried
