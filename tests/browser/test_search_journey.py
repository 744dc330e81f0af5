"""A practitioner's busy-day journey in a real browser: search with a typo, pick the child,
see who else is involved; every page passes axe (WCAG 2.2 AA)."""

from datetime import date

import pytest
from django.conf import settings
from django.test import Client

from tests import factories
from tests.browser.conftest import axe_violations
from tests.conftest import verified_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def signed_in_page(live_server, page):
    practitioner = factories.PractitionerFactory()
    client = verified_login(Client(), practitioner.user)
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME,
                               "value": client.cookies[settings.SESSION_COOKIE_NAME].value, "url": live_server.url}])
    return page, practitioner


def test_a_practitioner_finds_a_child_despite_a_typo_and_sees_who_is_involved(live_server, signed_in_page):
    page, practitioner = signed_in_page
    child = factories.ChildFactory(given_names="Kacper", family_name="Kociński", date_of_birth=date(2015, 3, 9),
                                   postcode="W12 7RJ")
    factories.InvolvementFactory(child=child, organisation=practitioner.organisation, contact_phone="020 7946 0555",
                                 service=factories.ServiceFactory(name="Early help"))
    from audit.context import RequestContext
    from practitioners.services import involvement_access_pairs, sync_organisation_access

    sync_organisation_access(opened=involvement_access_pairs([child.involvements.get()]), context=RequestContext.system("test"))

    page.goto(live_server.url + "/children/search/")
    assert page.get_by_role("heading", level=1).inner_text() == "Find a child"
    assert axe_violations(page) == []
    page.get_by_label("Given name").fill("Kasper")
    page.get_by_label("Family name").fill("Kocinsky")
    page.get_by_label("Day").fill("9")
    page.get_by_label("Month").fill("3")
    page.get_by_label("Year").fill("2015")
    page.get_by_role("button", name="Search", exact=True).click()
    assert page.get_by_role("heading", name="Results").is_visible()
    assert axe_violations(page) == []
    page.get_by_role("link", name="Kacper Kociński").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Kacper Kociński"
    assert page.get_by_text("020 7946 0555").is_visible()
    assert axe_violations(page) == []


def test_a_search_with_too_little_detail_is_explained_accessibly(live_server, signed_in_page):
    page, _ = signed_in_page
    page.goto(live_server.url + "/children/search/")
    page.get_by_label("Family name").fill("Smith")
    page.get_by_role("button", name="Search", exact=True).click()
    summary = page.locator(".govuk-error-summary")
    assert summary.is_visible() and "Enter at least two of" in summary.inner_text()
    summary.get_by_role("link").click()
    assert page.evaluate("document.activeElement.id") == "id_dob_day"
    assert axe_violations(page) == []
