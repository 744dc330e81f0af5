"""Feed pages in a real browser: the upload progress bar follows the task, the review decision works,
and the pages meet WCAG 2.2 AA (axe-core)."""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from children.models import Involvement
from feeds.models import CsvUpload, MatchReview
from tests import factories
from tests.browser.conftest import axe_violations
from tests.conftest import verified_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def organisation(db):
    org = factories.OrganisationFactory(name="Riverside Health Trust")
    org.services.add(factories.ServiceFactory(code="school-nursing", name="School nursing"))
    return org


@pytest.fixture
def la_admin(organisation):
    return factories.LAAdminFactory(local_authority=organisation.local_authority).user


def sign_in(page, live_server, user):
    client = verified_login(Client(), user)
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME,
                               "value": client.cookies[settings.SESSION_COOKIE_NAME].value, "url": live_server.url}])


@pytest.fixture
def admin_page(page, live_server, organisation, la_admin):
    sign_in(page, live_server, la_admin)
    return page


def test_the_progress_bar_follows_the_task_and_the_page_shows_the_result_when_it_ends(admin_page, live_server,
                                                                                      organisation, la_admin):
    upload = CsvUpload.objects.create(organisation=organisation, uploaded_by=la_admin, filename="pupils.csv",
                                      status=CsvUpload.Status.COMMITTING, total_rows=4000, processed_rows=0)
    admin_page.goto(live_server.url + reverse("feeds:upload_detail", args=[upload.pk]))
    assert admin_page.locator("[data-refresh-link]").is_hidden()  # JavaScript polls instead
    assert axe_violations(admin_page) == []

    CsvUpload.objects.filter(pk=upload.pk).update(processed_rows=1000)
    # (a selector, not wait_for_function: our CSP refuses the eval that would need)
    admin_page.wait_for_selector("#upload-progress[value='1000']", timeout=10_000)
    assert "1,000 of 4,000 rows (25%)" in admin_page.locator("#upload-progress-text").inner_text()

    CsvUpload.objects.filter(pk=upload.pk).update(processed_rows=4000, status=CsvUpload.Status.DONE,
                                                  result={"created": 4000})
    admin_page.wait_for_selector("text=Finished", timeout=10_000)
    assert admin_page.locator("#upload-progress").count() == 0
    assert "4,000" in admin_page.locator(".govuk-summary-list").inner_text()


def test_an_la_admin_decides_a_queued_row_in_the_browser(admin_page, live_server, organisation):
    child = factories.ChildFactory(local_authority=organisation.local_authority, given_names="Amelia",
                                   family_name="Kocinski")
    review = MatchReview.objects.create(
        organisation=organisation, external_id="MIS-1",
        row={"external_id": "MIS-1", "given_names": "Amelia", "family_name": "Kocinski",
             "date_of_birth": child.date_of_birth.isoformat(), "sex": "F", "nhs_number": "", "upn": "",
             "address_line": "", "postcode": "LS6 2AB", "service": "school-nursing", "started_on": "2024-09-02",
             "ended_on": None, "contact_phone": "020 7946 0000", "contact_email": ""},
        candidates=[{"child_id": child.pk, "score": 0.92, "reasons": ["Date of birth the same"]}])
    admin_page.goto(live_server.url + reverse("feeds:review", args=[review.pk]))
    assert axe_violations(admin_page) == []
    admin_page.get_by_role("button", name="Save decision").click()
    assert admin_page.get_by_text("Choose a record, or that this is a new child.").first.is_visible()
    admin_page.get_by_label(f"The same child as record {child.reference}").check()
    admin_page.get_by_role("button", name="Save decision").click()
    admin_page.wait_for_selector("text=The involvement was added")
    assert Involvement.objects.get().child == child


@pytest.mark.parametrize("name", ["feeds:home", "feeds:tokens", "feeds:reviews", "feeds:quality", "feeds:upload",
                                  "feeds:merges", "feeds:merge"])
def test_the_feed_pages_meet_wcag_aa(admin_page, live_server, name):
    admin_page.goto(live_server.url + reverse(name))
    assert admin_page.get_by_role("heading", level=1).count() == 1
    assert axe_violations(admin_page) == []
