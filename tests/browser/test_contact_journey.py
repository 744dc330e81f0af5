"""Contact, not disclosure, in a real browser: from a search result, without access to the record,
ask the services to make contact; the form, its error and the confirmation pass axe (WCAG 2.2 AA)."""

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client

from tests import factories
from tests.browser.conftest import axe_violations
from tests.conftest import verified_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_practitioner_asks_the_services_of_a_child_they_found_to_contact_them(live_server, page):
    practitioner = factories.PractitionerFactory()  # another area, no grant on the child
    client = verified_login(Client(), practitioner.user)
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME,
                               "value": client.cookies[settings.SESSION_COOKIE_NAME].value, "url": live_server.url}])
    child = factories.ChildFactory()
    factories.InvolvementFactory(child=child, contact_email="team@school.example.org",
                                 organisation__name="Harbour Primary School")

    page.goto(live_server.url + "/children/search/")
    page.get_by_label("NHS number").fill(child.nhs_number)
    page.get_by_role("button", name="Search", exact=True).click()
    page.get_by_role("link", name=f"Ask services to contact you about record {child.reference}").click()
    heading = page.get_by_role("heading", level=1).inner_text()
    assert heading == "Ask the services working with this child to contact you"
    assert axe_violations(page) == []

    page.get_by_role("button", name="Send request").click()  # no reason chosen
    summary = page.locator(".govuk-error-summary")
    assert "Choose why you want the services to contact you" in summary.inner_text()
    assert axe_violations(page) == []

    page.get_by_label("New referral").check()
    page.get_by_role("button", name="Send request").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Request sent"
    assert "Harbour Primary" not in page.content() and "team@school.example.org" not in page.content()
    assert axe_violations(page) == []
    assert [m.to for m in mail.outbox] == [["team@school.example.org"]]
