"""A match is a disclosure (SPEC 3.6, 4): every child a search lists is recorded with the search,
and shows up in that child's "who accessed this record" report and its subject-access CSV."""

from datetime import date

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import AccessEvent, EventDisclosure
from tests import factories
from tests.conftest import verified_login

pytestmark = pytest.mark.django_db
SEARCH_FORM = {"given_name": "Kacper", "family_name": "Kocinski", "dob_day": "9", "dob_month": "3",
               "dob_year": "2015", "postcode": "", "nhs_number": "", "upn": ""}


@pytest.fixture
def kacper():
    return factories.ChildFactory(given_names="Kacper", family_name="Kociński", date_of_birth=date(2015, 3, 9),
                                  postcode="W12 7RJ")


@pytest.fixture
def bystander():
    """Another child, never in the results: must get no disclosure row."""
    return factories.ChildFactory(given_names="Philippa", family_name="Quartermaine", date_of_birth=date(2012, 1, 5))


@pytest.fixture
def searcher():
    return factories.PractitionerFactory(user__username="searching.teacher")


def search_in_browser(searcher):
    client = verified_login(Client(), searcher.user)
    response = client.post(reverse("children:search"), SEARCH_FORM)
    assert response.status_code == 200 and "Kacper Kociński" in response.content.decode()
    return AccessEvent.objects.filter(action="child.search").latest("id")


def test_a_browser_search_records_every_listed_child_in_the_same_event(searcher, kacper, bystander):
    event = search_in_browser(searcher)
    assert event.details["disclosed"] == [kacper.reference]
    assert list(EventDisclosure.objects.values_list("event_id", "child_ref")) == [(event.pk, kacper.reference)]
    assert not EventDisclosure.objects.filter(child_ref=bystander.reference).exists()


def test_an_api_search_records_its_disclosures_too(searcher, kacper):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=searcher.user).key}")
    response = api.post(reverse("children-api:search"),
                        {"given_name": "Kacper", "family_name": "Kocinski", "date_of_birth": "2015-03-09"},
                        format="json")
    assert response.status_code == 200 and response.json()["results"]
    event = AccessEvent.objects.get(action="child.search")
    assert EventDisclosure.objects.get(child_ref=kacper.reference).event_id == event.pk


def test_the_who_accessed_report_shows_the_search_as_in_search_results(searcher, kacper, bystander, auditor_client):
    event = search_in_browser(searcher)
    report = auditor_client.get(reverse("audit:child_report"), {"ref": kacper.reference})
    assert event.pk in [e.pk for e in report.context["page"].events]
    row = next(r for r in report.context["rows"] if r["event"].pk == event.pk)
    assert row["how"] == "In search results" and "searching.teacher" in report.content.decode()
    other = auditor_client.get(reverse("audit:child_report"), {"ref": bystander.reference})
    assert event.pk not in [e.pk for e in other.context["page"].events]


def test_the_subject_access_csv_lists_the_search_as_in_search_results(searcher, kacper, auditor_client):
    event = search_in_browser(searcher)
    response = auditor_client.get(reverse("audit:child_report_csv"), {"ref": kacper.reference})
    rows = b"".join(response.streaming_content).decode().splitlines()
    [row] = [r for r in rows[1:] if r.endswith(f",{event.pk}")]
    assert "searching.teacher" in row and ",In search results," in row


def test_a_refused_search_discloses_nobody(kacper):
    """An unverified session's search is refused before matching: nothing was shown, nothing is disclosed."""
    client = Client()
    client.force_login(factories.PractitionerFactory().user)
    client.post(reverse("children:search"), SEARCH_FORM)
    assert not EventDisclosure.objects.exists()


def test_the_searcher_cannot_read_who_else_saw_the_child(searcher, kacper):
    """The report is the auditors': the practitioner whose search is in it is refused it."""
    search_in_browser(searcher)
    client = verified_login(Client(), searcher.user)
    response = client.get(reverse("audit:child_report"), {"ref": kacper.reference})
    assert response.status_code in (302, 403, 404) and "searching.teacher" not in response.content.decode()

