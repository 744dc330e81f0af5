"""The search page: who may use it, what it explains, what it shows, and what it records."""

from datetime import date

import pytest
from django.db import DatabaseError
from django.urls import reverse

from audit.context import RequestContext
from audit.models import AccessEvent
from audit.services import fingerprint
from children import services
from children.matching import Query
from practitioners.permissions import NotVetted
from tests import factories
from tests.children.conftest import NOT_SEARCHERS

pytestmark = pytest.mark.django_db
URL = reverse("children:search")


def form(**fields):
    data = {"given_name": "", "family_name": "", "dob_day": "", "dob_month": "", "dob_year": "", "postcode": "",
            "nhs_number": "", "upn": ""}
    data.update(fields)
    return data


def dob(value: date) -> dict:
    return {"dob_day": str(value.day), "dob_month": str(value.month), "dob_year": str(value.year)}


@pytest.fixture
def kacper(db):
    return factories.ChildFactory(given_names="Kacper", family_name="Kociński", date_of_birth=date(2015, 3, 9),
                                  postcode="W12 7RJ", sex="M")


def test_an_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and reverse("two_factor:login") in response.url
    assert client.post(URL, form(family_name="Smith", postcode="W6")).status_code == 302


def test_without_a_verified_second_factor_the_search_is_refused_and_the_attempt_recorded(unverified_client, kacper):
    assert unverified_client.get(URL).status_code == 403
    response = unverified_client.post(URL, form(family_name="Kocinski", **dob(kacper.date_of_birth)))
    assert response.status_code == 403 and b"Kacper" not in response.content
    assert not AccessEvent.objects.filter(action="child.search").exists()  # the page guard refused first
    refusals = AccessEvent.objects.filter(action="access.refused", outcome="denied", details__why="unverified")
    assert refusals.count() == 2


@pytest.mark.parametrize("who", NOT_SEARCHERS)
def test_anyone_but_an_active_vetted_practitioner_is_refused(client, login_verified, not_a_searcher, who, kacper):
    login_verified(client, not_a_searcher(who))
    response = client.post(URL, form(family_name="Kocinski", **dob(kacper.date_of_birth)))
    assert response.status_code == 403
    assert b"Kacper" not in response.content


def test_the_search_service_itself_refuses_and_records_a_caller_without_a_second_factor(searcher, kacper):
    """The API and any other caller rely on the service's own check, not only on the page guard."""
    with pytest.raises(NotVetted):
        services.search_children(query=Query.of(family_name="Kocinski", date_of_birth=kacper.date_of_birth),
                                 context=RequestContext(user=searcher.user))
    event = AccessEvent.objects.get(action="child.search")
    assert event.outcome == "denied" and event.details == {"refused": "not a vetted practitioner"}


def test_the_form_is_a_govuk_form_with_labels_for_every_field(searcher_client):
    page = searcher_client.get(URL).content.decode()
    for label in ("Given name", "Family name", "Date of birth", "Postcode", "NHS number", "Unique pupil number"):
        assert label in page
    assert 'for="id_dob_day"' in page and "govuk-date-input" in page


@pytest.mark.parametrize("fields, field_id, message", [
    (form(family_name="Smith"), "id_dob_day", "Enter at least two of"),
    (form(postcode="W6 9LA"), "id_family_name", "Enter at least two of"),
    (form(family_name="Smith", nhs_number="9434765918"), "id_nhs_number", "Enter a valid NHS number"),
    (form(family_name="Smith", nhs_number="９４３４７６５９１９"), "id_nhs_number", "Enter a valid NHS number"),
    (form(upn="A801200001001"), "id_upn", "Enter a valid UPN"),
    (form(family_name="Smith", dob_day="31", dob_month="2", dob_year="2015"), "id_dob_day", "The date of birth must be a real date"),
    (form(family_name="Smith", dob_day="1", dob_month="1", dob_year="2999"), "id_dob_day", "The date of birth must be today or in the past"),
    (form(family_name="Smith", dob_day="1", dob_month="", dob_year="2015"), "id_dob_month", "The date of birth must include a month"),
    (form(family_name="Smith", postcode="NOWHERE"), "id_postcode", "Enter a real postcode"),
    (form(family_name="12345", postcode="W6"), "id_family_name", "Family name must include letters"),
    (form(family_name="Smi\x00th", dob_day="x", dob_month="1", dob_year="2015"), "id_dob_day", "The date of birth must be a real date"),
])
def test_bad_input_is_explained_next_to_the_field_and_in_the_summary(searcher_client, fields, field_id, message):
    response = searcher_client.post(URL, fields)
    assert response.status_code == 400
    page = response.content.decode()
    assert "There is a problem" in page and f'href="#{field_id}"' in page
    assert f'<a href="#{field_id}">{message}' in page  # in the summary
    assert f'<span class="govuk-visually-hidden">Error:</span> {message}' in page  # next to the field
    assert not AccessEvent.objects.filter(action="child.search").exists()


def test_a_search_lists_the_match_with_only_what_picks_the_right_child(searcher_client, kacper):
    response = searcher_client.post(URL, form(given_name="Kacper", family_name="Kocinski", **dob(kacper.date_of_birth)))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Kacper Kociński" in page and "9 March 2015" in page and "Male" in page
    assert kacper.local_authority.name in page and "W12" in page
    assert kacper.get_absolute_url() in page
    for hidden in ("W12 7RJ", kacper.nhs_number, kacper.address_line):
        assert hidden not in page
    assert "Strong match" in page and "Family name matches" in page


def test_a_mistyped_search_falls_back_to_similar_matches_and_says_why(searcher_client, kacper):
    page = searcher_client.post(URL, form(given_name="Kasper", family_name="Kocinsky", postcode="W12",
                                          **dob(date(2015, 9, 3)))).content.decode()
    assert "Kacper Kociński" in page and "including similar names and dates" in page
    assert "Date of birth has day and month swapped" in page


def test_a_shielded_child_shows_no_location_in_results(searcher_client):
    hidden = factories.ChildFactory(given_names="Amelia", family_name="Trelawny", date_of_birth=date(2017, 11, 2),
                                    postcode="TR1 2HE", shielded=True)
    page = searcher_client.post(URL, form(given_name="Amelia", family_name="Trelawny",
                                          **dob(hidden.date_of_birth))).content.decode()
    assert "Amelia Trelawny" in page
    assert "TR1" not in page and hidden.local_authority.name not in page
    page = searcher_client.post(URL, form(given_name="Amelia", family_name="Trelawny", postcode="TR1 2HE",
                                          **dob(hidden.date_of_birth))).content.decode()
    assert "Amelia Trelawny" not in page and "No children matched" in page


def test_too_many_matches_lists_the_best_and_asks_for_more_detail(searcher_client, settings):
    settings.SEARCH_RESULT_CAP = 2
    for day in (1, 2, 3):
        factories.ChildFactory(given_names="Jack", family_name="Smith", date_of_birth=date(2014, 1, day),
                               postcode="W6 9LA")
    page = searcher_client.post(URL, form(family_name="Smith", postcode="W6")).content.decode()
    assert "3 children could match: the best 2 are listed" in page and page.count("Jack Smith") == 2
    event = AccessEvent.objects.filter(action="child.search").latest("pk")
    assert len(event.details["children"]) == 2 and event.details["too_many"] is True


def test_each_search_is_audited_with_a_fingerprint_mode_count_and_references_never_the_query(searcher_client,
                                                                                            searcher, kacper):
    searcher_client.post(URL, form(given_name="Kacper", family_name="Kocinski", **dob(kacper.date_of_birth)))
    event = AccessEvent.objects.get(action="child.search")
    assert event.actor_id == searcher.user_id and event.outcome == "allowed"
    query = Query.of(given_name="Kacper", family_name="Kocinski", date_of_birth=kacper.date_of_birth)
    assert event.details == {"query_fingerprint": fingerprint(query.canonical()), "mode": "plain",
                             "result_count": 1, "matched": 1, "too_many": False, "children": [kacper.reference],
                             "disclosed": [kacper.reference]}
    stored = str(event.details) + event.reason
    assert "acper" not in stored and "ocinski" not in stored and "2015" not in stored


def test_asking_for_similar_matches_is_recorded_as_the_fuzzy_mode(searcher_client, kacper):
    searcher_client.post(URL, form(given_name="Kacper", family_name="Kocinski", similar="on",
                                   **dob(kacper.date_of_birth)))
    assert AccessEvent.objects.get(action="child.search").details["mode"] == "fuzzy"


def test_when_the_audit_write_fails_no_result_is_shown(searcher_client, kacper, audit_refuses_writes):
    audit_refuses_writes()
    searcher_client.raise_request_exception = False
    response = searcher_client.post(URL, form(given_name="Kacper", family_name="Kocinski",
                                              **dob(kacper.date_of_birth)))
    assert response.status_code == 500 and b"Kacper" not in response.content
    with pytest.raises(DatabaseError):
        services.search_children(query=Query.of(family_name="Kocinski", date_of_birth=kacper.date_of_birth),
                                 context=RequestContext(user=response.wsgi_request.user))


@pytest.mark.parametrize("family_name", ["Kociński", "Nobody"])  # the plain stage answers; the fuzzy stage does
def test_every_form_on_the_results_page_carries_its_csrf_token(searcher_client, kacper, family_name):
    """The results page's forms ("Change search", "search again including similar names") are partials
    included with ``only``: without the token handed in, the browser's next POST would be refused."""
    page = searcher_client.post(reverse("children:search"), form(
        given_name="Kacper", family_name=family_name, **dob(kacper.date_of_birth))).content.decode()
    assert page.count('<form method="post"') >= 2
    assert page.count('name="csrfmiddlewaretoken"') == page.count('<form method="post"')
