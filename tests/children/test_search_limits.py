"""Searches per practitioner are limited per minute and per day, on the web and the API together
(issue 17): over a limit, a clear GOV.UK page (429) or a JSON 429, nothing searched, and an audited
refusal."""

from datetime import date

import pytest
from django.core.cache import cache
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import AccessEvent
from tests import factories

pytestmark = pytest.mark.django_db
WEB = reverse("children:search")
API = "/api/v1/children/search/"
QUERY = {"given_name": "Kacper", "family_name": "Kocinski", "dob_day": "9", "dob_month": "3", "dob_year": "2015",
         "postcode": "", "nhs_number": "", "upn": ""}
API_QUERY = {"given_name": "Kacper", "family_name": "Kocinski", "date_of_birth": "2015-03-09"}


@pytest.fixture(autouse=True)
def _clean_counts():
    """The counts live in the cache, keyed by user id, which outlives each test's database."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def kacper(db):
    return factories.ChildFactory(given_names="Kacper", family_name="Kociński", date_of_birth=date(2015, 3, 9))


@pytest.fixture
def web(client, searcher, login_verified):
    return login_verified(client, searcher.user)


@pytest.fixture
def api(searcher):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=searcher.user).key}")
    return client


def searches() -> int:
    return AccessEvent.objects.filter(action="child.search").count()


def test_the_deployed_limits_are_30_a_minute_and_500_a_day():
    from signpost import settings as project_settings

    assert (project_settings.SEARCH_RATE_PER_MINUTE, project_settings.SEARCH_RATE_PER_DAY) == (30, 500)


def test_over_the_per_minute_limit_the_web_shows_a_clear_page_and_records_the_refusal(web, searcher, settings):
    settings.SEARCH_RATE_PER_MINUTE = 3
    assert [web.post(WEB, QUERY).status_code for _ in range(3)] == [200, 200, 200]
    refused = web.post(WEB, QUERY)
    body = refused.content.decode()
    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 60
    assert "You have reached the search limit" in body and "3 times in the last minute" in body
    assert "govuk-heading-l" in body and "Kacper" not in body  # nothing was searched, nothing is shown
    assert searches() == 3
    event = AccessEvent.objects.get(action="child.search.refused")
    assert event.actor_id == searcher.user_id and event.outcome == "denied"
    assert event.details == {"period": "minute", "limit": 3}


def test_over_the_per_day_limit_the_api_answers_429_json_and_records_the_refusal(api, searcher, settings):
    settings.SEARCH_RATE_PER_DAY = 2
    assert [api.post(API, API_QUERY, format="json").status_code for _ in range(2)] == [200, 200]
    refused = api.post(API, API_QUERY, format="json")
    assert refused.status_code == 429 and "2 times today" in refused.json()["detail"]
    assert int(refused["Retry-After"]) > 60
    assert searches() == 2
    event = AccessEvent.objects.get(action="child.search.refused")
    assert event.actor_id == searcher.user_id and event.details == {"period": "day", "limit": 2}


def test_the_web_and_the_api_share_one_count(web, api, settings):
    settings.SEARCH_RATE_PER_MINUTE = 2
    assert web.post(WEB, QUERY).status_code == 200
    assert api.post(API, API_QUERY, format="json").status_code == 200
    assert web.post(WEB, QUERY).status_code == 429
    assert api.post(API, API_QUERY, format="json").status_code == 429
    assert AccessEvent.objects.filter(action="child.search.refused").count() == 2


def test_the_limit_is_per_practitioner(web, settings, login_verified):
    from django.test import Client

    settings.SEARCH_RATE_PER_MINUTE = 1
    web.post(WEB, QUERY)
    assert web.post(WEB, QUERY).status_code == 429
    colleague = login_verified(Client(), factories.PractitionerFactory().user)
    assert colleague.post(WEB, QUERY).status_code == 200


def test_a_form_with_errors_is_not_counted(web, settings):
    settings.SEARCH_RATE_PER_MINUTE = 1
    for _ in range(3):
        assert web.post(WEB, {**QUERY, "family_name": "", "dob_day": ""}).status_code == 400
    assert web.post(WEB, QUERY).status_code == 200


