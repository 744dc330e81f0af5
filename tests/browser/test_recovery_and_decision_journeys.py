"""Issue 20 in a real browser: a lost phone reset by the LA admin and set up again with recovery codes
shown once; an access request decided knowing who the child is; an email that fails but never
breaks the page."""

from datetime import date
from base64 import b32decode

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AccessEvent
from outbox.models import OutboundEmail
from practitioners.models import AccessGrant, AccessRequest
from tests import factories
from tests.browser.conftest import axe_violations
from tests.browser.test_access_journey import PASSWORD, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_out(page):
    page.get_by_role("button", name="Sign out").click()


def password_only(page, base_url, user):
    page.goto(base_url + "/account/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_lost_phone_is_reset_by_the_la_admin_and_set_up_again_with_recovery_codes(live_server, page):
    la = factories.LocalAuthorityFactory(name="Leeds")
    organisation = factories.OrganisationFactory(local_authority=la, name="Chapeltown Health Centre")
    admin = factories.LAAdminFactory(local_authority=la, user__first_name="Asha", user__last_name="Patel").user
    nurse = factories.PractitionerFactory(organisation=organisation, user__first_name="Rachel",
                                          user__last_name="Firth").user
    TOTPDevice.objects.create(user=nurse, name="phone", confirmed=True)  # the lost phone

    sign_in(page, live_server.url, admin)
    page.get_by_role("link", name="LA admin").first.click()
    page.get_by_role("link", name="Practitioners").first.click()
    page.get_by_role("link", name="Rachel Firth").click()
    page.get_by_role("link", name="Reset authenticator app (lost phone)").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Reset their authenticator app"
    assert axe_violations(page) == []
    page.get_by_role("button", name="Reset authenticator").click()  # no reason: the error summary
    page.locator(".govuk-error-summary").wait_for()
    assert axe_violations(page) == []
    page.get_by_label("Why are you resetting their authenticator?").fill(
        "Phone lost on a home visit; identity checked by calling her manager")
    page.get_by_role("button", name="Reset authenticator").click()
    page.get_by_text("Authenticator reset").wait_for()
    assert not TOTPDevice.objects.filter(user=nurse).exists()
    assert AccessEvent.objects.filter(action="second_factor.reset", actor_id=admin.pk).exists()
    sign_out(page)

    # The nurse signs in with her password and is taken straight to set up a new authenticator.
    password_only(page, live_server.url, nurse)
    page.get_by_role("heading", name="Set up your authenticator app").wait_for()
    assert axe_violations(page) == []
    page.get_by_role("button", name="Continue").click()
    secret = page.locator(".signpost-secret").inner_text().strip()
    code = f"{totp(b32decode(secret.replace(' ', '').upper() + '=' * (-len(secret.replace(' ', '')) % 8))):06d}"
    page.get_by_label("Code from your authenticator app").fill(code)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="Your recovery codes").wait_for()
    shown = [c.strip() for c in page.locator(".signpost-recovery-codes li").all_inner_texts()]
    saved = set(StaticToken.objects.filter(device__user=nurse).values_list("token", flat=True))
    assert len(shown) == 10 and set(shown) == saved
    assert axe_violations(page) == []
    page.get_by_role("link", name="I have saved my codes, continue").click()
    page.get_by_text("You are signed in as").wait_for()
    sign_out(page)

    # Next time the phone is not to hand: a saved recovery code signs her in, once.
    password_only(page, live_server.url, nurse)
    page.get_by_role("button", name="Use a recovery code instead").click()
    page.get_by_role("heading", name="Enter a recovery code").wait_for()
    assert axe_violations(page) == []
    page.get_by_label("Recovery code").fill(shown[0])
    page.get_by_role("button", name="Continue").click()
    page.get_by_text("You are signed in as").wait_for()
    assert shown[0] not in StaticToken.objects.filter(device__user=nurse).values_list("token", flat=True)
    page.goto(live_server.url + "/account/two_factor/")
    assert "Your authenticator app is set up" in page.content() and "9 recovery codes left" in page.content()
    assert axe_violations(page) == []


def test_an_la_admin_decides_an_access_request_knowing_who_the_child_is(live_server, page):
    la = factories.LocalAuthorityFactory(name="Leeds")
    admin = factories.LAAdminFactory(local_authority=la).user
    nurse = factories.PractitionerFactory(organisation=factories.OrganisationFactory(name="Hammersmith Clinic"))
    child = factories.ChildFactory(local_authority=la, given_names="Oliver", family_name="Mensah",
                                   date_of_birth=date(2013, 2, 17))
    AccessRequest.objects.create(practitioner=nurse, child=child,
                                 reason="Staying with his aunt in Hammersmith; who is his school nurse?")

    sign_in(page, live_server.url, admin)
    page.get_by_role("link", name="LA admin").first.click()
    page.get_by_role("link", name="Access requests").first.click()
    page.get_by_role("link", name="Decide").click()
    facts = page.locator(".govuk-summary-list").first.inner_text()
    assert "Oliver Mensah" in facts and "17 February 2013" in facts and "Leeds" in facts
    assert axe_violations(page) == []
    assert AccessEvent.objects.filter(action="console.access_request", child_ref=child.reference).exists()
    page.get_by_label("Approve: give access until the date below").check()
    page.get_by_role("button", name="Save decision").click()
    page.get_by_text("Access approved until").wait_for()
    assert AccessGrant.objects.filter(practitioner=nurse, child=child, source="access_request").exists()
    sign_out(page)

    # The nurse sees the child's name on her requests, not only its reference.
    sign_in(page, live_server.url, nurse.user)
    page.goto(live_server.url + "/practitioners/my-requests/")
    row = page.locator("tbody tr").first.inner_text()
    assert "Oliver Mensah" in row and child.reference in row and "Approved" in row
    assert axe_violations(page) == []


def test_a_mail_server_that_refuses_still_shows_success_and_the_email_waits_for_a_retry(live_server, page, settings):
    settings.EMAIL_BACKEND = "tests.outbox.unreachable_mail_server.EmailBackend"
    user = factories.PractitionerFactory().user
    user.email = "rachel.firth@leeds.example.org"
    user.save()

    page.goto(live_server.url + "/account/login/")
    page.get_by_role("link", name="Forgotten your password?").click()
    page.get_by_label("Email").fill("rachel.firth@leeds.example.org")
    page.get_by_role("button", name="Send a reset link").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Check your email"
    assert axe_violations(page) == []
    assert AccessEvent.objects.filter(action="password.reset.request").exists()
    email = OutboundEmail.objects.get(kind="password_reset")
    assert email.status == OutboundEmail.Status.RETRYING and email.attempts == 1 and email.next_attempt_at
