"""Access control in a real browser: an LA admin signs in with password and authenticator code,
approves a pending practitioner and an access request; a practitioner uses break-glass."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from practitioners import roles
from practitioners.models import AccessGrant, AccessRequest, Practitioner
from tests import factories
from tests.browser.conftest import axe_violations
from tests.practitioners.conftest import current_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct-horse-battery-staple"


def sign_in(page, base_url, user):
    device = TOTPDevice.objects.create(user=user, name="default", confirmed=True)
    page.goto(base_url + "/account/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Enter the code from your authenticator app").wait_for()
    assert axe_violations(page) == []
    page.get_by_label("Code from your authenticator app").fill(current_code(device))
    page.get_by_role("button", name="Continue").click()
    page.get_by_text("You are signed in as").wait_for()


def fill_date(page, name, day):
    for part, value in enumerate((day.day, day.month, day.year)):
        page.locator(f"input[name='{name}_{part}']").fill(str(value))


def test_an_la_admin_approves_a_pending_practitioner_and_an_access_request(live_server, page):
    la = factories.LocalAuthorityFactory(name="Hammersmith and Fulham")
    organisation = factories.OrganisationFactory(local_authority=la, name="Wormholt Park Primary School")
    admin = factories.LAAdminFactory(local_authority=la, user__first_name="Priya", user__last_name="Shah").user
    pending = factories.PractitionerFactory(
        organisation=organisation, status=Practitioner.Status.PENDING, vetting_checked_on=None,
        vetting_expires_on=None, training_completed_on=None, approved_at=None,
        user__first_name="Tom", user__last_name="Hughes")
    colleague = factories.PractitionerFactory(organisation=organisation)
    child = factories.ChildFactory(local_authority=la)
    AccessRequest.objects.create(practitioner=colleague, child=child, reason="New pupil joining on Monday")

    sign_in(page, live_server.url, admin)
    page.get_by_role("link", name="LA admin").first.click()
    page.get_by_role("link", name="Waiting for approval").click()
    page.get_by_role("link", name="Tom Hughes").click()
    page.get_by_role("link", name="Approve").click()
    # Submitting with no dates explains each problem
    page.get_by_role("button", name="Approve account").click()
    page.locator(".govuk-error-summary").wait_for()
    assert "Enter the date of vetting check" in page.locator(".govuk-error-summary").inner_text()
    assert axe_violations(page) == []
    today = timezone.localdate()
    fill_date(page, "vetting_checked_on", today - timedelta(days=7))
    fill_date(page, "vetting_expires_on", today + timedelta(days=3 * 365))
    fill_date(page, "training_completed_on", today - timedelta(days=2))
    page.get_by_label("Note (optional)").fill("Enhanced DBS seen")
    page.get_by_role("button", name="Approve account").click()
    page.get_by_text("Account approved").wait_for()
    assert "Pending approval → Active" in page.content()
    pending.refresh_from_db()
    assert pending.status == Practitioner.Status.ACTIVE and pending.approved_by == admin

    page.get_by_role("link", name="Access requests").first.click()
    assert "New pupil joining on Monday" in page.content()
    page.get_by_role("link", name="Decide").click()
    assert axe_violations(page) == []
    page.get_by_label("Approve: give access until the date below").check()
    page.get_by_role("button", name="Save decision").click()
    page.get_by_text("Access approved until").wait_for()
    grant = AccessGrant.objects.get(practitioner=colleague, child=child)
    assert grant.source == AccessGrant.Source.ACCESS_REQUEST and grant.granted_by == admin


def test_a_practitioner_breaks_glass_and_is_sent_to_the_record(live_server, page):
    la = factories.LocalAuthorityFactory()
    practitioner = factories.PractitionerFactory(organisation=factories.OrganisationFactory(local_authority=la))
    child = factories.ChildFactory(local_authority=la)
    sign_in(page, live_server.url, practitioner.user)
    page.goto(f"{live_server.url}/practitioners/children/{child.reference}/break-glass/")
    assert page.get_by_role("heading", level=1).inner_text() == "Emergency access (break-glass)"
    assert child.family_name not in page.content()
    assert axe_violations(page) == []
    page.get_by_label("What is the emergency?").fill("Police report the child missing overnight from home")
    page.get_by_label("I understand that this emergency access is recorded and will be reviewed").check()
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Open the record").click()
    assert posted.value.status == 302
    assert posted.value.headers["location"] == child.get_absolute_url()
    page.get_by_role("heading", level=1, name=f"{child.given_names} {child.family_name}").wait_for()
    assert "Police report the child missing" in page.get_by_role("region", name="Emergency access").inner_text()
    assert axe_violations(page) == []
    grant = AccessGrant.objects.get(practitioner=practitioner, child=child)
    assert grant.source == AccessGrant.Source.BREAK_GLASS and grant.reviewed_at is None


def test_an_la_admin_role_is_what_shows_the_console_link(live_server, page):
    user = factories.UserFactory(roles=[roles.AUDITOR])
    sign_in(page, live_server.url, user)
    assert page.get_by_role("link", name="LA admin").count() == 0


def test_an_la_admin_creates_a_practitioner_account(live_server, page):
    la = factories.LocalAuthorityFactory(name="Hammersmith and Fulham")
    factories.OrganisationFactory(local_authority=la, name="Wormholt Park Primary School")
    admin = factories.LAAdminFactory(local_authority=la).user

    sign_in(page, live_server.url, admin)
    page.goto(live_server.url + "/practitioners/console/practitioners/")
    page.get_by_role("link", name="Create a practitioner account").click()
    page.get_by_role("button", name="Create account").click()  # nothing filled in: each problem explained
    page.locator(".govuk-error-summary").wait_for()
    summary = page.locator(".govuk-error-summary").inner_text()
    assert "Enter the date of vetting check" in summary and "Enter a first name" in summary
    assert "This field is required" not in summary and summary.count("Enter a first name") == 1
    assert "Choose the practitioner's organisation" in summary
    assert page.title().startswith("Error: Create a practitioner account")
    # Who the practitioner is comes before their vetting dates.
    labels = page.locator("label, legend").all_inner_texts()
    assert labels.index("First name") < next(i for i, t in enumerate(labels) if "vetting check" in t)
    assert axe_violations(page) == []
    for label, value in (("First name", "Amara"), ("Last name", "Okoye"),
                         ("Practitioner's work email address", "a.okoye@example.org"),
                         ("Practitioner's job title", "Class teacher"),
                         ("Practitioner's work phone number", "020 7946 0555"), ("Username", "aokoye")):
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("combobox", name="Practitioner's organisation").fill("Wormholt")
    page.get_by_role("option", name="Wormholt Park Primary School (Hammersmith and Fulham)").click()
    today = timezone.localdate()
    fill_date(page, "vetting_checked_on", today - timedelta(days=7))
    fill_date(page, "vetting_expires_on", today + timedelta(days=3 * 365))
    fill_date(page, "training_completed_on", today - timedelta(days=2))
    page.get_by_role("button", name="Create account").click()
    page.get_by_text("Account created. We have emailed a.okoye@example.org").wait_for()
    assert Practitioner.objects.get(user__username="aokoye").status == Practitioner.Status.ACTIVE
    assert axe_violations(page) == []
