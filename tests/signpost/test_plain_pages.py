"""GOV.UK patterns on the busy pages: the folded search form, next steps when nothing matches, the date input
on the auditors' filters, and plain words for a wrong code."""

import re
from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AccessEvent
from practitioners import roles
from tests import factories
from tests.conftest import verified_login
from tests.practitioners.conftest import current_code, enrol

pytestmark = pytest.mark.django_db
SEARCH = "/children/search/"


def _search(client, **fields):
    data = {"given_name": "", "family_name": "", "dob_day": "", "dob_month": "", "dob_year": "", "postcode": "",
            "nhs_number": "", "upn": ""}
    data.update(fields)
    return client.post(SEARCH, data)


@pytest.fixture
def searcher():
    la = factories.LocalAuthorityFactory(name="Hammersmith and Fulham", safeguarding_contact="020 8753 6610",
                                         out_of_hours_phone="020 8748 8588")
    practitioner = factories.PractitionerFactory(organisation__local_authority=la)
    return verified_login(Client(), practitioner.user), la


def test_after_a_search_the_form_folds_into_what_was_searched_for_and_results_come_first(searcher):
    client, la = searcher
    factories.ChildFactory(given_names="Amara", family_name="Okoye", date_of_birth=date(2016, 4, 2),
                           local_authority=la)
    page = _search(client, given_name="Amara", family_name="Okoye", dob_day="2", dob_month="4",
                   dob_year="2016").content.decode()
    assert "<title>Search results – Signpost</title>" in page
    summary, rest = page.split('<details class="govuk-details" id="change-search">')
    assert "You searched for" in summary and "2 April 2016" in summary
    assert '<span class="govuk-details__summary-text">Change search</span>' in rest
    assert 'id="results" tabindex="-1" data-signpost-focus' in rest
    assert 'class="govuk-summary-card"' in rest and "Amara Okoye" in rest
    assert "<table" not in rest.split('id="results"')[1]  # cards, not a wide table: they reflow at 320 px


def test_when_nothing_matches_the_page_offers_tips_and_the_front_door_for_the_postcode(searcher):
    client, own = searcher
    camden = factories.LocalAuthorityFactory(name="Camden", safeguarding_contact="mash@camden.example.org",
                                             out_of_hours_phone="020 7974 4444")
    factories.ChildFactory(postcode="NW1 8AA", local_authority=camden)
    page = _search(client, family_name="Nobody", postcode="NW1 2DB").content.decode()
    assert "No children matched" in page and "Check the spelling" in page
    assert "For postcode district NW1: Camden" in page
    assert 'href="mailto:mash@camden.example.org"' in page and "020 7974 4444" in page
    assert "Your local authority: Hammersmith and Fulham" in page and "020 8753 6610" in page
    assert "Contact details for every local authority" in page
    event = AccessEvent.objects.get(action="child.search")  # the search itself is still audited
    assert event.details["result_count"] == 0 and "Nobody" not in str(event.details)


def test_a_shielded_child_never_tells_a_searcher_which_authority_serves_a_postcode(searcher):
    client, _ = searcher
    refuge = factories.LocalAuthorityFactory(name="Cornwall")
    factories.ChildFactory(postcode="TR1 2HE", local_authority=refuge, shielded=True)
    page = _search(client, family_name="Nobody", postcode="TR1 3AA").content.decode()
    assert "For postcode district" not in page
    assert page.count("Cornwall") == 1  # only in the list of every authority, never as this postcode's


def test_only_a_practitioner_reaches_the_search_and_its_next_steps(db):
    auditor = factories.UserFactory(roles=[roles.AUDITOR])
    response = _search(verified_login(Client(), auditor), family_name="Nobody", postcode="NW1 2DB")
    assert response.status_code in (302, 403) and b"Contact details for every local authority" not in response.content
    assert _search(Client(), family_name="Nobody", postcode="NW1 2DB").status_code == 302


@pytest.fixture
def auditor_client():
    return verified_login(Client(), factories.UserFactory(roles=[roles.AUDITOR]))


@pytest.mark.parametrize("url", ["audit:events", "audit:anomalies"])
def test_the_auditors_date_filters_are_govuk_day_month_year_boxes(auditor_client, url):
    page = auditor_client.get(reverse(url)).content.decode()
    assert 'type="date"' not in page
    for name in ("date_from_0", "date_from_1", "date_from_2", "date_to_0", "date_to_1", "date_to_2"):
        assert f'name="{name}"' in page
    assert "govuk-date-input" in page


def test_a_date_typed_in_boxes_filters_the_log_and_a_wrong_one_is_explained(auditor_client):
    ok = auditor_client.get(reverse("audit:events"), {"date_from_0": "1", "date_from_1": "12", "date_from_2": "2026"})
    assert ok.context["form"].cleaned_data["date_from"] == date(2026, 12, 1)
    bad = auditor_client.get(reverse("audit:events"), {"date_from_0": "31", "date_from_1": "2", "date_from_2": "2026"})
    page = bad.content.decode()
    assert "The start date must be a real date" in page and page.count("govuk-error-summary__list") == 1
    assert "<title>Error: Access log – Signpost</title>" in page


def test_a_wrong_authenticator_code_is_explained_in_plain_words(db):
    user = factories.PractitionerFactory().user
    device = enrol(user)
    client = Client()
    client.post("/account/login/", {"login_view-current_step": "auth", "auth-username": user.username,
                                    "auth-password": "correct-horse-battery-staple"})
    wrong = f"{(int(current_code(device)) + 1) % 1_000_000:06d}"
    page = client.post("/account/login/", {"login_view-current_step": "token", "token-otp_token": wrong}).content
    assert b"The code is wrong or has expired" in page
    assert b"Invalid token" not in page and b"not valid" not in page


def test_an_unknown_api_token_is_refused_in_plain_words(db):
    response = Client().post("/api/v1/involvements/bulk", {"rows": []}, content_type="application/json",
                             HTTP_AUTHORIZATION="Token sp_not-a-real-token")
    assert response.status_code in (401, 403)
    assert "not one Signpost issued" in response.json()["detail"] and "Invalid" not in response.json()["detail"]


def test_the_create_account_form_names_each_missing_answer_once_and_asks_who_before_vetting(db):
    la = factories.LocalAuthorityFactory()
    admin = factories.LAAdminFactory(local_authority=la).user
    factories.OrganisationFactory(local_authority=la)
    page = verified_login(Client(), admin).post(reverse("practitioners:new_practitioner"),
                                                {"first_name": ""}).content.decode()
    summary = page.split('govuk-error-summary__list">')[1].split("</ul>")[0]
    assert "This field is required" not in page
    for message in ("Enter a first name", "Enter a last name", "Enter a work email address",
                    "Choose the practitioner's organisation", "Enter a job title", "Enter a work phone number",
                    "Enter a username", "Enter the date of vetting check"):
        assert len(re.findall(re.escape(message).replace("'", "(?:'|&#x27;|&#39;)"), summary)) == 1, message
    assert "Choose your organisation" not in page
    assert re.search(r"<label[^>]*>\s*Practitioner(&#x27;|&#39;|')s organisation", page)
    assert page.index('name="first_name"') < page.index('name="username"') < page.index('name="vetting_checked_on_0"')
