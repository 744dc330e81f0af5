"""Guessing at sign-in is throttled on every path (issue 17, ASVS 2.2.1): per account from every address
together, per address (django-axes, unchanged), and wrong one-time and recovery codes (django-otp);
each limit shown with its audit events, and the LA admin's view and "clear lockout" action."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice

from audit.models import AccessEvent
from practitioners.models import SignInFailure
from tests.practitioners.conftest import current_code, enrol
from tests.practitioners.test_login import LOGIN, PASSWORD, code_step, password_step

pytestmark = pytest.mark.django_db


def from_address(n: int) -> Client:
    """A browser on its own network address (REMOTE_ADDR), as 30 machines of a botnet would be."""
    return Client(REMOTE_ADDR=f"198.51.100.{n}")


def distributed_guessing(username: str, *, guesses: int, addresses: int) -> list[int]:
    """``guesses`` wrong passwords spread evenly over ``addresses`` (below axes' per-address limit)."""
    clients = [from_address(n) for n in range(1, addresses + 1)]
    return [password_step(clients[i % addresses], username, f"guess-{i}").status_code for i in range(guesses)]


def test_the_deployed_limit_is_100_failures_an_hour_per_account(settings):
    from signpost import settings as project_settings

    assert project_settings.LOGIN_ACCOUNT_FAILURE_LIMIT == 100
    assert project_settings.LOGIN_ACCOUNT_WINDOW == timedelta(hours=1)


def test_120_wrong_passwords_from_30_addresses_lock_the_account_even_for_the_right_password(cast, settings):
    """The issue's attack: 4 guesses from each of 30 addresses never trip the per-address lockout (5)."""
    user = cast.practitioner.user
    enrol(user)
    statuses = distributed_guessing(user.username, guesses=120, addresses=30)
    assert statuses[:100] == [200] * 100  # each a "wrong username or password"
    assert statuses[100:] == [429] * 20  # refused without the password being checked
    right = password_step(from_address(99), user.username)  # a new address, the right password
    assert right.status_code == 429 and b"too many failed attempts to sign in to this account" in right.content
    assert b"Enter the code" not in right.content

    assert AccessEvent.objects.filter(action="login.failure", actor_id=user.pk).count() == 100
    locked = AccessEvent.objects.get(action="login.account_locked")
    assert locked.actor_id == user.pk and locked.outcome == "denied" and locked.details["limit"] == 100
    refusals = AccessEvent.objects.filter(action="login.lockout", actor_id=user.pk)
    assert refusals.count() == 21 and {e.details["scope"] for e in refusals} == {"account"}
    assert "guess-" not in str(list(AccessEvent.objects.values_list("details", flat=True)))


def test_the_account_opens_again_when_its_failures_leave_the_hour(cast, settings):
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = 5
    user = cast.practitioner.user
    enrol(user)
    distributed_guessing(user.username, guesses=5, addresses=5)
    assert password_step(from_address(50), user.username).status_code == 429
    SignInFailure.objects.update(failed_at=timezone.now() - timedelta(minutes=61))
    opened = password_step(from_address(51), user.username)
    assert opened.status_code == 200 and b"Enter the code" in opened.content


def test_a_username_nobody_has_is_locked_the_same_way(db, settings):
    """Otherwise the lockout itself would tell a guesser which usernames exist."""
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = 4
    assert distributed_guessing("nobody-has-this-name", guesses=6, addresses=3) == [200] * 4 + [429] * 2


def test_per_address_lockout_is_unchanged_and_separate(cast, settings):
    user = cast.practitioner.user
    enrol(user)
    one = from_address(7)
    statuses = [password_step(one, user.username, f"g{i}").status_code for i in range(settings.AXES_FAILURE_LIMIT)]
    assert statuses == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    elsewhere = password_step(from_address(8), user.username)  # the account itself is not locked
    assert elsewhere.status_code == 200 and b"Enter the code" in elsewhere.content
    assert {e.details["scope"] for e in AccessEvent.objects.filter(action="login.lockout")} == {"address"}


def test_a_locked_account_is_refused_at_the_code_step_too(cast, settings):
    """Locked while someone is between the password and the code: the code step refuses as well."""
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = 3
    user = cast.practitioner.user
    device = enrol(user)
    browser = from_address(1)
    assert b"Enter the code" in password_step(browser, user.username).content
    distributed_guessing(user.username, guesses=3, addresses=3)
    refused = code_step(browser, current_code(device))
    assert refused.status_code == 429
    assert browser.get(reverse("practitioners:my_requests")).status_code == 302  # not signed in
    assert AccessEvent.objects.filter(action="login.lockout", details__scope="account").count() == 1


def test_the_django_admin_sign_in_is_refused_for_a_locked_account_too(cast, settings):
    from tests import factories

    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = 2
    staff = factories.UserFactory(username="staffer", password=PASSWORD, is_staff=True, is_superuser=True)
    distributed_guessing("staffer", guesses=2, addresses=2)
    browser = from_address(3)
    browser.post(reverse("admin:login"), {"username": "staffer", "password": PASSWORD})
    assert "_auth_user_id" not in browser.session
    assert AccessEvent.objects.filter(action="login.lockout", actor_id=staff.pk, details__scope="account").exists()


# --- One-time and recovery codes: django-otp's own throttle, on both code paths -------------

def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_after_a_wrong_code_even_the_right_one_is_refused_for_a_while_and_both_are_audited(cast):
    user = cast.practitioner.user
    device = enrol(user)
    browser = from_address(1)
    password_step(browser, user.username)
    assert code_step(browser, wrong(current_code(device))).status_code == 200
    throttled = code_step(browser, current_code(device))  # right code, inside django-otp's back-off
    assert throttled.status_code == 200 and b"temporarily disabled" in throttled.content
    assert browser.get(reverse("practitioners:my_requests")).status_code == 302
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # a refused code is not even checked
    stages = list(AccessEvent.objects.filter(action="login.failure").order_by("id").values_list("details", flat=True))
    assert stages == [{"username": user.username, "stage": "second_factor"},
                      {"username": user.username, "stage": "second_factor", "throttled": True}]


def test_the_back_off_doubles_with_each_wrong_code(cast):
    user = cast.practitioner.user
    device = enrol(user)
    browser = from_address(1)
    password_step(browser, user.username)
    for n in range(1, 4):
        code_step(browser, wrong(current_code(device)))
        device.refresh_from_db()
        device.throttling_failure_timestamp = timezone.now() - timedelta(seconds=2 ** (n - 1) + 1)
        device.save()  # wait out the back-off so the next wrong code is checked, and counted
    device.refresh_from_db()
    assert device.throttling_failure_count == 3
    allowed, why = device.verify_is_allowed()
    assert allowed  # the back-off was waited out above; the count remains until a right code
    device.throttling_failure_timestamp = timezone.now()
    device.save()
    assert device.verify_is_allowed()[0] is False  # 2**2 seconds from now


def test_wrong_recovery_codes_are_throttled_and_audited_too(cast):
    user = cast.practitioner.user
    enrol(user)
    static = StaticDevice.objects.create(user=user, name="backup")
    static.token_set.create(token="goodcode1")
    browser = from_address(1)
    password_step(browser, user.username)
    browser.post(LOGIN, {"login_view-current_step": "token", "wizard_goto_step": "backup"})
    assert code_step(browser, "badcode99", step="backup").status_code == 200
    refused = code_step(browser, "goodcode1", step="backup")
    assert refused.status_code == 200 and b"temporarily disabled" in refused.content
    assert browser.get(reverse("practitioners:my_requests")).status_code == 302
    assert static.token_set.filter(token="goodcode1").exists()  # not used up
    failures = AccessEvent.objects.filter(action="login.failure", details__stage="recovery_code")
    assert failures.count() == 2 and failures.filter(details__throttled=True).count() == 1


def test_wrong_codes_count_towards_the_account_lockout(cast, settings):
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = 2
    user = cast.practitioner.user
    device = enrol(user)
    browser = from_address(1)
    password_step(browser, user.username)
    code_step(browser, wrong(current_code(device)))
    assert code_step(browser, wrong(current_code(device))).status_code == 429
    assert password_step(from_address(2), user.username).status_code == 429
    assert AccessEvent.objects.filter(action="login.account_locked", actor_id=user.pk).count() == 1


# --- The LA admin sees the lockout and can clear it ----------------------------------------

@pytest.fixture
def locked(cast, settings):
    """The cast's practitioner, locked from every address, with a code back-off on their authenticator."""
    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = 3
    user = cast.practitioner.user
    device = enrol(user)
    distributed_guessing(user.username, guesses=3, addresses=3)
    device.throttle_increment()
    return cast.practitioner


def test_the_la_admin_sees_locked_out_until_on_the_practitioner_page(as_user, cast, locked):
    page = as_user(cast.admin.user).get(reverse("practitioners:practitioner_detail", args=[locked.pk]))
    body = page.content.decode()
    assert page.status_code == 200 and "Locked out until" in body and "Clear lockout" in body
    until = SignInFailure.objects.order_by("failed_at").first().failed_at + timedelta(hours=1)
    assert timezone.localtime(until).strftime("%H:%M") in body


def test_an_unlocked_practitioner_has_no_clear_lockout_button(as_user, cast):
    body = as_user(cast.admin.user).get(
        reverse("practitioners:practitioner_detail", args=[cast.practitioner.pk])).content.decode()
    assert "Not locked" in body and "Clear lockout" not in body


def test_clearing_the_lockout_lets_them_sign_in_and_is_audited(as_user, cast, locked):
    response = as_user(cast.admin.user).post(reverse("practitioners:clear_lockout", args=[locked.pk]))
    assert response.status_code == 302
    event = AccessEvent.objects.get(action="login.lockout.clear")
    assert event.actor_id == cast.admin.user.pk
    assert event.details == {"practitioner_id": locked.pk, "failures": 3, "address_records": 3, "devices": 1}
    assert not SignInFailure.objects.exists()
    opened = password_step(from_address(77), locked.user.username)
    assert opened.status_code == 200 and b"Enter the code" in opened.content
    assert locked.user.totpdevice_set.get().verify_is_allowed()[0]


@pytest.mark.parametrize("who", ["other_admin", "practitioner", "auditor"])
def test_nobody_else_can_clear_a_lockout(as_user, cast, locked, who):
    user = {"other_admin": cast.other_admin.user, "practitioner": cast.practitioner.user,
            "auditor": cast.auditor}[who]
    response = as_user(user).post(reverse("practitioners:clear_lockout", args=[locked.pk]))
    assert response.status_code in (302, 403) and "login.lockout.clear" not in set(
        AccessEvent.objects.values_list("action", flat=True))
    assert SignInFailure.objects.count() == 3
    assert password_step(from_address(78), locked.user.username).status_code == 429


def test_another_las_admin_does_not_see_the_lockout(as_user, cast, locked):
    page = as_user(cast.other_admin.user).get(reverse("practitioners:practitioner_detail", args=[locked.pk]))
    assert page.status_code == 403 and "Locked out until" not in page.content.decode()


def test_clearing_is_a_post_only_action(as_user, cast, locked):
    assert as_user(cast.admin.user).get(reverse("practitioners:clear_lockout", args=[locked.pk])).status_code == 405
    assert SignInFailure.objects.count() == 3


@pytest.mark.parametrize("username", ["nul\x00name", "x" * 1_000_000], ids=["nul", "1MB"])
def test_a_hostile_username_is_an_answer_not_a_crash(db, username):
    """The account lock is looked up before the form is checked, so it must take anything it is sent."""
    browser = from_address(1)
    for _ in range(2):
        response = password_step(browser, username, "whatever")
        assert response.status_code == 200 and b"There is a problem" in response.content


def test_a_superuser_can_unlock_an_account_without_a_practitioner_page_in_the_django_admin(client, cast, settings):
    from tests import factories

    settings.LOGIN_ACCOUNT_FAILURE_LIMIT = 2
    distributed_guessing(cast.auditor.username, guesses=2, addresses=2)
    superuser = factories.UserFactory(is_staff=True, is_superuser=True)
    url = reverse("admin:practitioners_signinfailure_changelist")
    assert client.get(url).status_code == 302  # signed out: to the admin's sign-in
    client.force_login(cast.practitioner.user)
    assert client.get(url).status_code == 302  # not staff
    client.force_login(superuser)
    page = client.get(url)
    assert page.status_code == 200 and cast.auditor.username in page.content.decode()
    assert AccessEvent.objects.filter(action="admin.view", actor_id=superuser.pk).exists()
