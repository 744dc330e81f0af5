"""Sessions (issue 17): an absolute lifetime independent of the idle timeout, background polling that does
not renew the idle timer, and "Your sessions", where a user sees where they are signed in and ends the others."""

import time
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from audit.models import AccessEvent
from feeds.models import CsvUpload
from practitioners.middleware import SIGNED_IN_AT
from practitioners.models import UserSession
from tests.practitioners.conftest import current_code, enrol
from tests.practitioners.test_login import code_step, password_step

pytestmark = pytest.mark.django_db
PAGE = reverse("practitioners:my_requests")
SESSIONS = reverse("practitioners:sessions")


def signed_in_at(client, seconds_ago: float) -> None:
    session = client.session
    session[SIGNED_IN_AT] = time.time() - seconds_ago
    session.save()


def expiry(client):
    return Session.objects.get(session_key=client.session.session_key).expire_date


# --- Absolute lifetime ---------------------------------------------------------------------

def test_the_deployed_absolute_lifetime_is_twelve_hours_beside_a_fifteen_minute_idle_timeout():
    from signpost import settings as project_settings

    assert project_settings.SESSION_ABSOLUTE_LIFETIME == timedelta(hours=12)
    assert project_settings.SESSION_COOKIE_AGE == 15 * 60


def test_a_session_ends_twelve_hours_after_sign_in_however_active_and_that_is_audited(as_user, cast):
    client = as_user(cast.practitioner.user)
    key = client.session.session_key
    signed_in_at(client, 12 * 3600 - 60)
    assert client.get(PAGE).status_code == 200  # 11h59m: still fine (and renewed its idle timer)
    signed_in_at(client, 12 * 3600 + 1)
    response = client.get(PAGE)
    assert response.status_code == 302 and response["Location"].startswith(reverse("two_factor:login"))
    assert client.get(PAGE).status_code == 302  # the session is gone, not just this request refused
    assert not Session.objects.filter(session_key=key).exists()
    assert not UserSession.objects.filter(session_key=key).exists()
    event = AccessEvent.objects.get(action="session.expired")
    assert event.actor_id == cast.practitioner.user.pk and event.details == {"why": "absolute lifetime"}
    assert not AccessEvent.objects.filter(action="logout").exists()  # it ended; nobody signed out


def test_the_lifetime_is_counted_from_a_real_sign_in(client, cast):
    user = cast.practitioner.user
    device = enrol(user)
    password_step(client, user.username)
    before = time.time()
    code_step(client, current_code(device))
    assert before <= client.session[SIGNED_IN_AT] <= time.time()


# --- Background polling does not renew the idle timer ----------------------------------------

@pytest.fixture
def upload(cast):
    return CsvUpload.objects.create(
        organisation=cast.organisation, uploaded_by=cast.practitioner.user, filename="involvements.csv",
        content=b"x", status=CsvUpload.Status.VALIDATED, total_rows=2, valid_rows=2, error_count=0, errors=[])


def test_the_upload_progress_poll_does_not_move_the_session_expiry_but_a_page_does(as_user, cast, upload):
    client = as_user(cast.practitioner.user)
    status_url = reverse("feeds:upload_status", args=[upload.pk])
    client.get(PAGE)
    first = expiry(client)
    time.sleep(1.1)
    assert client.get(status_url).status_code == 200
    assert expiry(client) == first
    client.get(PAGE)
    assert expiry(client) > first


def test_a_page_left_polling_still_times_out(as_user, cast, upload, settings):
    settings.SESSION_COOKIE_AGE = 4  # seconds here; 15 minutes deployed
    client = as_user(cast.practitioner.user)
    status_url = reverse("feeds:upload_status", args=[upload.pk])
    client.get(PAGE)
    last_page = time.time()  # the session's expiry is at most 4 s from here
    polls = 0
    while time.time() - last_page < 2.5:  # poll well inside the idle limit (margin for a loaded machine)
        assert client.get(status_url).status_code == 200
        polls += 1
        time.sleep(0.5)
    time.sleep(max(0.0, last_page + 4.5 - time.time()))  # polls kept coming, but no person did anything
    assert polls >= 2
    assert client.get(status_url).status_code in (302, 403)
    assert client.get(PAGE).status_code == 302


# --- "Your sessions" -------------------------------------------------------------------------

def sign_in_real(user, device, *, address: str, agent: str) -> Client:
    browser = Client(REMOTE_ADDR=address, HTTP_USER_AGENT=agent)
    password_step(browser, user.username)
    assert code_step(browser, current_code(device)).status_code == 302
    return browser


@pytest.fixture
def two_browsers(cast):
    user = cast.practitioner.user
    device = enrol(user)
    laptop = sign_in_real(user, device, address="192.0.2.10", agent="Firefox on the office laptop")
    device.throttle_reset()
    device.last_t = -1  # the same code may sign in the second browser in this test
    device.save()
    phone = sign_in_real(user, device, address="203.0.113.5", agent="Safari on an iPhone")
    return laptop, phone


def test_a_user_sees_each_browser_they_are_signed_in_on_and_the_view_is_audited(cast, two_browsers):
    laptop, phone = two_browsers
    page = laptop.get(SESSIONS)
    body = page.content.decode()
    assert page.status_code == 200 and "Your sessions" in body
    assert "Firefox on the office laptop" in body and "192.0.2.10" in body
    assert "Safari on an iPhone" in body and "203.0.113.5" in body
    assert body.count("End session") == 1 and "This session" in body  # the phone can be ended, not this one
    assert AccessEvent.objects.filter(action="session.list", actor_id=cast.practitioner.user.pk).count() == 1


def test_ending_another_session_signs_that_browser_out_and_is_audited(cast, two_browsers):
    laptop, phone = two_browsers
    row = UserSession.objects.get(session_key=phone.session.session_key)
    response = laptop.post(reverse("practitioners:end_session", args=[row.pk]), follow=True)
    assert "That session has ended" in response.content.decode()
    assert phone.get(PAGE).status_code == 302  # signed out there
    assert laptop.get(PAGE).status_code == 200  # not here
    event = AccessEvent.objects.get(action="session.end")
    assert event.actor_id == cast.practitioner.user.pk and event.details == {"session_id": row.pk}


def test_the_current_session_is_ended_by_signing_out_not_here(cast, two_browsers):
    laptop, _ = two_browsers
    row = UserSession.objects.get(session_key=laptop.session.session_key)
    response = laptop.post(reverse("practitioners:end_session", args=[row.pk]), follow=True)
    assert "sign out instead" in response.content.decode()
    assert laptop.get(PAGE).status_code == 200
    assert not AccessEvent.objects.filter(action="session.end").exists()


def test_nobody_can_see_or_end_another_users_session(cast, two_browsers, as_user):
    _, phone = two_browsers
    row = UserSession.objects.get(session_key=phone.session.session_key)
    intruder = as_user(cast.admin.user)  # even an LA admin of the same area
    assert "Safari on an iPhone" not in intruder.get(SESSIONS).content.decode()
    assert intruder.post(reverse("practitioners:end_session", args=[row.pk])).status_code == 404
    assert phone.get(PAGE).status_code == 200
    assert UserSession.objects.filter(pk=row.pk).exists()
    assert not AccessEvent.objects.filter(action="session.end").exists()


def test_the_sessions_page_needs_a_signed_in_verified_user(client, cast):
    response = client.get(SESSIONS)
    assert response.status_code == 302 and response["Location"].startswith(reverse("two_factor:login"))
    assert client.post(reverse("practitioners:end_session", args=[1])).status_code == 302
    client.force_login(cast.practitioner.user)  # password only: no second factor yet
    assert client.get(SESSIONS).status_code in (302, 403)


def test_ending_needs_a_post(cast, two_browsers):
    laptop, phone = two_browsers
    row = UserSession.objects.get(session_key=phone.session.session_key)
    assert laptop.get(reverse("practitioners:end_session", args=[row.pk])).status_code == 405
    assert phone.get(PAGE).status_code == 200


def test_expired_sessions_are_not_listed(cast, two_browsers):
    laptop, phone = two_browsers
    Session.objects.filter(session_key=phone.session.session_key).delete()  # timed out
    assert "Safari on an iPhone" not in laptop.get(SESSIONS).content.decode()


def test_last_seen_is_noted_at_most_once_a_minute(as_user, cast):
    client = as_user(cast.practitioner.user)
    row = UserSession.objects.get(session_key=client.session.session_key)
    UserSession.objects.filter(pk=row.pk).update(last_seen_at=row.last_seen_at - timedelta(hours=1))
    session = client.session
    session["signpost_last_seen_at"] = time.time() - 61
    session.save()
    client.get(PAGE)
    row.refresh_from_db()
    first = row.last_seen_at
    assert first > row.started_at - timedelta(minutes=1)
    client.get(PAGE)
    row.refresh_from_db()
    assert row.last_seen_at == first


def test_sign_in_security_links_to_your_sessions(as_user, cast):
    body = as_user(cast.practitioner.user).get(reverse("two_factor:profile")).content.decode()
    assert f'href="{SESSIONS}"' in body
