"""Recovery from a lost phone: recovery codes made with the authenticator and shown once, new ones on
request, and the LA admin's "reset authenticator" for their own area's practitioners."""

from base64 import b32decode

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from audit.models import AccessEvent
from practitioners.models import UserSession
from tests import factories
from tests.practitioners.conftest import current_code, enrol
from tests.practitioners.test_login import LOGIN, code_step, password_step

pytestmark = pytest.mark.django_db
PROFILE = reverse("two_factor:profile")
CODES = reverse("two_factor:backup_tokens")


def codes_of(user) -> list[str]:
    return list(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))


def set_up_authenticator(client, user):
    """Sign in with the password, then set up an authenticator with a real code; returns the next page."""
    setup = password_step(client, user.username)["Location"]
    client.get(setup)
    client.post(setup, {"setup_view-current_step": "welcome"})
    key = b32decode(client.session["django_two_factor-qr_secret_key"])
    return client.post(setup, {"setup_view-current_step": "generator", "generator-token": f"{totp(key):06d}"},
                       follow=True)


def sign_in_with_code(client, user, device):
    password_step(client, user.username)
    return code_step(client, current_code(device))


def test_setting_up_an_authenticator_shows_ten_recovery_codes_once(client, cast):
    user = cast.practitioner.user
    page = set_up_authenticator(client, user).content.decode()
    codes = codes_of(user)
    assert len(codes) == 10 and all(code in page for code in codes)
    assert "we will not show them again" in page
    assert AccessEvent.objects.filter(action="second_factor.recovery_codes", actor_id=user.pk).count() == 1
    for again in (reverse("two_factor:setup_complete"), CODES, PROFILE):
        shown = client.get(again).content.decode()
        assert not any(code in shown for code in codes), again
    assert "You have 10 recovery codes left" in client.get(CODES).content.decode()


def test_new_recovery_codes_replace_the_old_ones_which_stop_working(client, cast):
    user = cast.practitioner.user
    device = enrol(user)
    sign_in_with_code(client, user, device)
    first = client.post(CODES, follow=True).content.decode()
    old = codes_of(user)
    assert all(code in first for code in old)
    second = client.post(CODES, follow=True).content.decode()
    new = codes_of(user)
    assert set(old).isdisjoint(new) and all(code in second for code in new)
    assert StaticDevice.objects.filter(user=user).count() == 1
    assert AccessEvent.objects.filter(action="second_factor.recovery_codes", actor_id=user.pk).count() == 2

    client.post(reverse("logout"))
    password_step(client, user.username)
    client.post(LOGIN, {"login_view-current_step": "token", "wizard_goto_step": "backup"})
    refused = code_step(client, old[0], step="backup")
    assert refused.status_code == 200 and client.get(reverse("practitioners:my_requests")).status_code == 302
    assert AccessEvent.objects.filter(action="login.failure", details__stage="recovery_code").exists()


def test_recovery_codes_are_throttled_like_authenticator_codes(client, cast):
    user = cast.practitioner.user
    enrol(user)
    StaticDevice.objects.create(user=user, name="backup").token_set.create(token="goodcode")
    password_step(client, user.username)
    client.post(LOGIN, {"login_view-current_step": "token", "wizard_goto_step": "backup"})
    assert code_step(client, "badcode1", step="backup").status_code == 200
    # django-otp now refuses even the right code for a moment after a wrong one.
    assert code_step(client, "goodcode", step="backup").status_code == 200
    assert client.get(reverse("practitioners:my_requests")).status_code == 302
    assert StaticDevice.objects.get(user=user).throttling_failure_count >= 1


@pytest.mark.parametrize("device_name", ["default", "phone", "demo"])
def test_sign_in_security_says_an_authenticator_is_set_up_whatever_it_is_called(client, cast, device_name):
    user = cast.practitioner.user
    device = TOTPDevice.objects.create(user=user, name=device_name, confirmed=True)
    sign_in_with_code(client, user, device)
    page = client.get(PROFILE).content.decode()
    assert "Your authenticator app is set up" in page and "not set up" not in page


def test_sign_in_security_says_so_when_there_is_no_authenticator(client, cast):
    client.force_login(cast.practitioner.user)
    page = client.get(PROFILE).content.decode()
    assert "You have not set up an authenticator app yet" in page


# --- the LA admin's reset ---------------------------------------------------------------------

def reset_url(practitioner):
    return reverse("practitioners:reset_authenticator", kwargs={"pk": practitioner.pk})


@pytest.fixture
def lost_phone(cast):
    """The practitioner, signed in on one browser with an API token, an authenticator and recovery codes."""
    user = cast.practitioner.user
    device = enrol(user)
    browser = Client()
    assert sign_in_with_code(browser, user, device).status_code == 302
    assert browser.get(reverse("practitioners:my_requests")).status_code == 200
    StaticDevice.objects.create(user=user, name="backup").token_set.create(token="abcd1234")
    Token.objects.create(user=user)
    return browser


def test_an_la_admin_resets_a_lost_authenticator_and_the_practitioner_must_set_up_again(as_user, cast, lost_phone):
    user = cast.practitioner.user
    admin = as_user(cast.admin.user)
    detail = admin.get(reverse("practitioners:practitioner_detail", kwargs={"pk": cast.practitioner.pk}))
    assert reset_url(cast.practitioner) in detail.content.decode()
    form = admin.get(reset_url(cast.practitioner))
    assert form.status_code == 200 and "Reset their authenticator app" in form.content.decode()
    assert AccessEvent.objects.filter(action="console.reset_authenticator_form", actor_id=cast.admin.user.pk).exists()

    response = admin.post(reset_url(cast.practitioner), {"reason": "Phone lost; called back on work number"},
                          follow=True)
    assert "Authenticator reset" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=user).exists() and not StaticDevice.objects.filter(user=user).exists()
    assert not Token.objects.filter(user=user).exists() and not UserSession.objects.filter(user=user).exists()
    assert lost_phone.get(reverse("practitioners:my_requests")).status_code == 302  # signed out there
    event = AccessEvent.objects.get(action="second_factor.reset")
    assert event.actor_id == cast.admin.user.pk and event.reason == "Phone lost; called back on work number"
    assert event.details["practitioner_id"] == cast.practitioner.pk and event.details["sessions_ended"] == 1

    fresh = Client()
    after_password = password_step(fresh, user.username)
    assert after_password["Location"].startswith(reverse("two_factor:setup"))  # no code asked, set-up required
    assert fresh.get(reverse("practitioners:my_requests")).status_code == 302
    page = set_up_authenticator(fresh, user).content.decode()
    assert len(codes_of(user)) == 10 and all(code in page for code in codes_of(user))
    assert "abcd1234" not in codes_of(user)


def test_the_reset_needs_a_reason(as_user, cast, lost_phone):
    response = as_user(cast.admin.user).post(reset_url(cast.practitioner), {"reason": ""})
    assert response.status_code == 200 and "Enter the reason" in response.content.decode()
    assert TOTPDevice.objects.filter(user=cast.practitioner.user).exists()


@pytest.mark.parametrize("who", ["other_admin", "practitioner", "auditor"])
def test_only_an_la_admin_of_the_practitioners_own_area_can_reset(as_user, cast, lost_phone, who):
    user = {"other_admin": cast.other_admin.user, "practitioner": factories.PractitionerFactory(
        organisation=cast.organisation).user, "auditor": cast.auditor}[who]
    client = as_user(user)
    for method in ("get", "post"):
        response = getattr(client, method)(reset_url(cast.practitioner), {"reason": "Phone lost, says they"})
        assert response.status_code == 403
    assert TOTPDevice.objects.filter(user=cast.practitioner.user, name="phone").exists()
    assert codes_of(cast.practitioner.user) == ["abcd1234"] and Token.objects.filter(user=cast.practitioner.user)
    assert lost_phone.get(reverse("practitioners:my_requests")).status_code == 200
    assert not AccessEvent.objects.filter(action="second_factor.reset").exists()
    assert AccessEvent.objects.filter(action="access.refused", actor_id=user.pk).exists()


def test_a_staff_accounts_authenticator_is_left_to_the_operator(as_user, cast, lost_phone):
    type(cast.practitioner.user).objects.filter(pk=cast.practitioner.user.pk).update(is_staff=True)
    admin = as_user(cast.admin.user)
    assert admin.get(reset_url(cast.practitioner)).status_code == 403
    response = admin.post(reset_url(cast.practitioner), {"reason": "Phone lost, says they"})
    assert response.status_code == 403 and "operator" in response.content.decode()
    assert TOTPDevice.objects.filter(user=cast.practitioner.user).exists()
    from audit.context import RequestContext
    from django.core.exceptions import PermissionDenied
    from practitioners import services

    cast.practitioner.user.refresh_from_db()
    with pytest.raises(PermissionDenied):  # the service refuses too, whoever calls it
        services.reset_authenticator(practitioner=cast.practitioner, reason="Phone lost, says they",
                                     context=RequestContext(user=cast.admin.user))
