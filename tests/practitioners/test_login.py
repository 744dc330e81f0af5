"""Signing in: password then a real TOTP code, throttling, idle timeout, recovery codes, and the
audit trail of every success, failure and lockout."""

import time
from base64 import b32decode

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.hashers import identify_hasher, make_password
from django.contrib.sessions.models import Session
from django.test import override_settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AccessEvent
from practitioners.models import UserSession
from tests.practitioners.conftest import current_code, enrol

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery-staple"
LOGIN = "/account/login/"


def password_step(client, username, password=PASSWORD, **extra):
    return client.post(LOGIN, {"login_view-current_step": "auth", "auth-username": username,
                               "auth-password": password}, **extra)


def code_step(client, code, step="token"):
    return client.post(LOGIN, {"login_view-current_step": step, f"{step}-otp_token": code})


def test_sign_in_takes_the_password_then_the_code_from_the_authenticator(client, cast):
    user = cast.practitioner.user
    device = enrol(user)
    first = password_step(client, user.username)
    assert first.status_code == 200 and b"Enter the code from your authenticator app" in first.content
    assert client.get(reverse("practitioners:my_requests")).status_code == 302  # not signed in yet
    done = code_step(client, current_code(device))
    assert done.status_code == 302
    assert client.get(reverse("practitioners:my_requests")).status_code == 200
    event = AccessEvent.objects.get(action="login.success")
    assert event.actor_id == user.pk and event.details == {"second_factor": True}
    assert UserSession.objects.filter(user=user, session_key=client.session.session_key).exists()


def test_a_wrong_code_is_refused_on_the_form_and_audited(client, cast):
    user = cast.practitioner.user
    device = enrol(user)
    password_step(client, user.username)
    wrong = f"{(int(current_code(device)) + 1) % 1_000_000:06d}"
    response = code_step(client, wrong)
    assert response.status_code == 200
    assert b"There is a problem" in response.content
    assert client.get(reverse("practitioners:my_requests")).status_code == 302
    failure = AccessEvent.objects.get(action="login.failure")
    assert failure.outcome == "denied" and failure.details == {"username": user.username, "stage": "second_factor"}
    assert not AccessEvent.objects.filter(action="login.success").exists()


def test_a_wrong_password_is_refused_with_one_message_and_audited(client, cast):
    response = password_step(client, cast.practitioner.user.username, "not-the-password")
    assert response.status_code == 200
    assert b"There is a problem" in response.content and b"correct username and password" in response.content
    event = AccessEvent.objects.get(action="login.failure")
    assert event.details == {"username": cast.practitioner.user.username, "stage": "password"}
    assert event.actor_id == cast.practitioner.user.pk and event.ip_address == "127.0.0.1"


def test_repeated_wrong_passwords_lock_the_username_from_that_address(client, cast, settings):
    user = cast.practitioner.user
    enrol(user)
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        assert password_step(client, user.username, f"guess-{attempt}").status_code == 200
    locked = password_step(client, user.username, "guess-last")
    assert locked.status_code == 429
    assert b"Sign-in is locked" in locked.content
    # Even the right password is refused now, from that address...
    assert password_step(client, user.username).status_code == 429
    assert AccessEvent.objects.filter(action="login.lockout", outcome="denied", actor_id=user.pk).count() == 2
    assert AccessEvent.objects.filter(action="login.failure").count() == settings.AXES_FAILURE_LIMIT - 1
    # ...but not from another address (lockout is on username and IP).
    from django.test import Client

    elsewhere = password_step(Client(), user.username, REMOTE_ADDR="10.1.2.3")
    assert elsewhere.status_code == 200 and b"Enter the code" in elsewhere.content


def test_a_new_account_without_an_authenticator_must_set_one_up_with_a_real_code(client, cast):
    user = cast.practitioner.user
    response = password_step(client, user.username)
    assert response.status_code == 302 and response["Location"].startswith(reverse("two_factor:setup"))
    setup = response["Location"]
    assert client.get(reverse("practitioners:my_requests")).status_code == 302  # password alone is not enough
    assert AccessEvent.objects.get(action="login.success").details == {"second_factor": False}
    welcome = client.get(setup)
    assert b"Set up your authenticator app" in welcome.content
    generator = client.post(setup, {"setup_view-current_step": "welcome"})
    assert b"Scan this QR code" in generator.content
    key = b32decode(client.session["django_two_factor-qr_secret_key"])
    code = f"{totp(key):06d}"
    done = client.post(setup, {"setup_view-current_step": "generator", "generator-token": code})
    assert done.status_code == 302
    assert TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    assert client.get(reverse("practitioners:my_requests")).status_code == 200
    assert AccessEvent.objects.filter(action="second_factor.enrol", actor_id=user.pk).exists()


def test_recovery_codes_are_created_and_each_signs_in_once(client, cast):
    user = cast.practitioner.user
    device = enrol(user)
    password_step(client, user.username)
    code_step(client, current_code(device))
    page = client.post(reverse("two_factor:backup_tokens"), follow=True)
    assert page.status_code == 200 and b"Recovery codes" in page.content
    codes = list(StaticDevice.objects.get(user=user).token_set.values_list("token", flat=True))
    assert len(codes) == 10 and codes[0] in page.content.decode()
    client.post(reverse("logout"))
    password_step(client, user.username)
    client.post(LOGIN, {"login_view-current_step": "token", "wizard_goto_step": "backup"})
    assert code_step(client, codes[0], step="backup").status_code == 302
    assert client.get(reverse("practitioners:my_requests")).status_code == 200
    assert codes[0] not in StaticDevice.objects.get(user=user).token_set.values_list("token", flat=True)


def test_the_second_factor_cannot_be_switched_off():
    with pytest.raises(NoReverseMatch):
        reverse("two_factor:disable")


def test_signing_out_is_audited_and_forgets_the_session(client, as_user, cast):
    as_user(cast.practitioner.user)
    key = client.session.session_key
    client.post(reverse("logout"))
    assert AccessEvent.objects.filter(action="logout", actor_id=cast.practitioner.user.pk).exists()
    assert not UserSession.objects.filter(session_key=key).exists()


def test_an_idle_session_ends_and_activity_keeps_it_alive(as_user, cast, settings):
    settings.SESSION_COOKIE_AGE = 3  # seconds here; SESSION_IDLE_MINUTES (15) in deployment
    client = as_user(cast.practitioner.user)
    page = reverse("practitioners:my_requests")
    for _ in range(4):  # each request within the idle limit renews the session (margin for a loaded machine)
        time.sleep(1)
        assert client.get(page).status_code == 200
    time.sleep(3.3)
    response = client.get(page)
    assert response.status_code == 302 and response["Location"].startswith(reverse("two_factor:login"))


def test_the_deployed_idle_timeout_is_fifteen_minutes_and_renewed_on_every_request(as_user, cast):
    assert django_settings.SESSION_COOKIE_AGE == 15 * 60 and django_settings.SESSION_SAVE_EVERY_REQUEST
    client = as_user(cast.practitioner.user)
    client.get(reverse("practitioners:my_requests"))
    session = Session.objects.get(session_key=client.session.session_key)
    left = (session.expire_date - timezone.now()).total_seconds()
    assert 14 * 60 < left <= 15 * 60


def test_passwords_are_hashed_with_argon2():
    """Read from the settings module itself: the suite's fixture swaps in a fast hasher."""
    from signpost import settings as project_settings

    assert project_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    with override_settings(PASSWORD_HASHERS=project_settings.PASSWORD_HASHERS):
        assert identify_hasher(make_password(PASSWORD)).algorithm == "argon2"


def test_sign_in_pages_carry_the_content_security_policy(client):
    response = client.get(LOGIN)
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in policy and "frame-ancestors 'none'" in policy
    assert b"govuk-template" in response.content and b"Sign in to Signpost" in response.content


def test_session_and_csrf_cookies_are_http_only_and_same_site():
    assert django_settings.SESSION_COOKIE_HTTPONLY and django_settings.CSRF_COOKIE_HTTPONLY
    assert django_settings.SESSION_COOKIE_SAMESITE == "Lax"
