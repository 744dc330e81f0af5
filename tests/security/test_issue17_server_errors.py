"""Issue 17's six server errors, each reproduced exactly as the outside tester sent it, now a clear refusal.

Several only failed on PostgreSQL (NUL in a query, a value longer than its varchar): run on both.
"""

import json

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.context import RequestContext
from audit.models import AccessEvent
from children.models import Child, Involvement
from practitioners.models import Practitioner
from practitioners.services import involvement_access_pairs, sync_organisation_access
from tests import factories
from tests.feeds.conftest import BULK_URL, make_token, row
from tests.practitioners.test_practitioner_lifecycle import date_post, dates

pytestmark = pytest.mark.django_db
HUGE_DAY = "9999999999"


@pytest.fixture
def searcher_client(client, login_verified):
    login_verified(client, factories.PractitionerFactory().user)
    return client


@pytest.fixture
def api_client(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=factories.PractitionerFactory().user).key}")
    return client


@pytest.fixture
def feed(db):
    service = factories.ServiceFactory(code="school-nursing")
    organisation = factories.OrganisationFactory()
    organisation.services.add(service)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {make_token(organisation)[1]}")
    return client


def raw_json(client, url, text: str):
    return client.post(url, data=text.encode("utf-8"), content_type="application/json")


# 1. Oversized numbers in date boxes: OverflowError -----------------------------------------

def test_a_ten_digit_day_in_the_search_form_is_a_date_error_not_a_crash(searcher_client):
    response = searcher_client.post(reverse("children:search"), {
        "family_name": "Smith", "dob_day": HUGE_DAY, "dob_month": "1", "dob_year": "2015"})
    page = response.content.decode()
    assert response.status_code == 400
    assert "There is a problem" in page and "must be a real date" in page
    assert not AccessEvent.objects.filter(action="child.search", outcome="allowed").exists()


@pytest.mark.parametrize("part", ["start_day", "start_month"])
def test_a_ten_digit_day_or_month_in_a_new_involvement_is_a_date_error(client, login_verified, part):
    child = factories.ChildFactory()
    involvement = factories.InvolvementFactory(child=child)
    practitioner = factories.PractitionerFactory(organisation=involvement.organisation)
    sync_organisation_access(opened=involvement_access_pairs([involvement]), context=RequestContext.system("test"))
    login_verified(client, practitioner.user)
    before = Involvement.objects.count()
    data = {"service": involvement.service.pk, "start_day": "6", "start_month": "1", "start_year": "2025",
            part: HUGE_DAY}
    response = client.post(reverse("children:add_involvement", kwargs={"reference": child.reference}), data)
    assert response.status_code in (200, 400) and "There is a problem" in response.content.decode()
    assert Involvement.objects.count() == before


@pytest.mark.parametrize("box", ["vetting_checked_on_0", "vetting_expires_on_1", "training_completed_on_0"])
def test_a_ten_digit_day_in_an_la_admin_date_is_a_date_error(client, login_verified, box):
    """practitioners.forms.DateField.compress caught only ValidationError (new practitioner, vetting,
    approve, reinstate and decide all use it)."""
    admin = factories.LAAdminFactory()
    organisation = factories.OrganisationFactory(local_authority=admin.local_authority)
    login_verified(client, admin.user)
    data = date_post(**{"first_name": "Priya", "last_name": "Shah", "email": "priya.shah@trust.example.org",
                        "organisation": organisation.pk, "job_title": "Health visitor",
                        "work_phone": "020 7946 0999", "username": "pshah", **dates()})
    data[box] = HUGE_DAY
    response = client.post(reverse("practitioners:new_practitioner"), data)
    page = response.content.decode()
    assert response.status_code in (200, 400) and "There is a problem" in page and "must be a real date" in page
    assert not Practitioner.objects.filter(user__username="pshah").exists()


# 2. NUL in a <reference> URL: DataError on PostgreSQL --------------------------------------

@pytest.mark.parametrize("url", [
    "/children/C-AAAAA-AAAAA%00/", "/children/%00/", "/children/C-AAAAA%00-AAAAA/involvements/new/",
    "/children/C-AAAAA-AAAA%00/move/", "/children/C-AAAAA-AAAA%00/contact/",
    "/practitioners/children/C-AAAAA-AAAA%00/request-access/",
    "/practitioners/children/C-AAAAA-AAAA%00/break-glass/",
])
def test_nul_in_a_child_reference_on_the_web_is_not_found(searcher_client, url):
    assert searcher_client.get(url).status_code == 404
    assert searcher_client.post(url, {"reason": "x"}).status_code == 404


def test_nul_in_a_child_reference_on_the_api_is_not_found(api_client):
    assert api_client.get("/api/v1/children/C-AAAAA-AAAA%00/").status_code == 404


def test_a_well_formed_reference_still_reaches_the_record_route(searcher_client):
    child = factories.ChildFactory()
    # No grant: the request-access page (403), so the route matched and the view ran.
    assert searcher_client.get(reverse("children:record", kwargs={"reference": child.reference})).status_code == 403


# 3. Lone surrogates echoed by the API: UnicodeEncodeError at render -------------------------

def test_a_lone_surrogate_in_the_search_mode_is_a_400_json_error(api_client):
    response = raw_json(api_client, "/api/v1/children/search/",
                        '{"family_name": "Smith", "postcode": "W6", "mode": "\\ud800"}')
    assert response.status_code == 400
    assert "surrogate" in response.json()["detail"]
    assert not AccessEvent.objects.filter(action="child.search").exists()


def test_a_lone_surrogate_in_a_feed_external_id_refuses_the_batch_before_anything_is_written(feed):
    rows = [row(1), row(2, external_id="PLACEHOLDER")]
    text = json.dumps({"rows": rows}).replace("PLACEHOLDER", "EXT-\\udc80")
    response = raw_json(feed, BULK_URL, text)
    assert response.status_code == 400 and "surrogate" in response.json()["detail"]
    assert Child.objects.count() == 0 and Involvement.objects.count() == 0


def test_a_lone_surrogate_in_a_json_key_is_refused_too(feed):
    response = raw_json(feed, BULK_URL, '{"rows": [{"\\udfff": "x"}]}')
    assert response.status_code == 400 and response["Content-Type"].startswith("application/json")


# 4. JSON nested 100,000 deep: RecursionError --------------------------------------------------

@pytest.mark.parametrize("opening, closing", [("[", "]"), ('{"a":', "}")])
def test_json_nested_100000_deep_is_a_400_on_the_search_api(api_client, opening, closing):
    response = raw_json(api_client, "/api/v1/children/search/", opening * 100_000 + "1" + closing * 100_000)
    assert response.status_code == 400 and "nested deeper" in response.json()["detail"]


def test_json_nested_100000_deep_is_a_400_on_the_feed_api(feed):
    response = raw_json(feed, BULK_URL, '{"rows": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert response.status_code == 400 and "nested deeper" in response.json()["detail"]
    assert Involvement.objects.count() == 0


def test_nesting_within_python_limits_but_past_ours_is_refused_too(feed):
    response = raw_json(feed, BULK_URL, '{"rows": ' + "[" * 500 + "]" * 500 + "}")
    assert response.status_code == 400 and "nested deeper" in response.json()["detail"]


# 5. A 1 MB username at sign-in: overflowed axes' lockout record (varchar 255) ----------------

def test_a_one_megabyte_username_at_sign_in_is_refused_before_the_lockout_record(client):
    response = client.post("/account/login/", {"login_view-current_step": "auth",
                                               "auth-username": "a" * 1_048_576, "auth-password": "x"})
    assert response.status_code == 200
    assert "at most 150 characters" in response.content.decode()
    assert not AccessAttempt.objects.exists()


def test_an_ordinary_wrong_password_is_still_counted_by_axes(client):
    user = factories.UserFactory()
    client.post("/account/login/", {"login_view-current_step": "auth", "auth-username": user.username,
                                    "auth-password": "wrong-password"})
    assert AccessAttempt.objects.get().failures_since_start == 1


# 6. Full-width digits in a new username: IntegrityError -----------------------------------
# Sign-up chooses usernames itself now (issue 17: it no longer reveals who exists); the username an
# LA admin types for a new account is the one that still goes through ``clean_username``.

from tests.practitioners.conftest import as_user, cast  # noqa: E402,F401  (the console's fixtures)


def _new_account(as_user, cast, username):
    from tests.practitioners.test_new_accounts import URL, account

    return as_user(cast.admin.user).post(URL, account(cast, username=username))


def test_a_full_width_username_meets_its_ascii_twin_in_the_uniqueness_check(as_user, cast):
    factories.UserFactory(username="joe1")
    response = _new_account(as_user, cast, "ｊｏｅ１")
    assert response.status_code in (200, 400) and "That username is taken" in response.content.decode()
    assert get_user_model().objects.filter(username="joe1").count() == 1


def test_a_full_width_username_that_is_free_is_stored_normalised(as_user, cast):
    response = _new_account(as_user, cast, "ｊｏｅ２")
    assert response.status_code == 302
    assert get_user_model().objects.filter(username="joe2").exists()


def test_a_username_that_nfkc_turns_into_spaces_and_more_letters_is_refused(as_user, cast):
    before = Practitioner.objects.count()
    response = _new_account(as_user, cast, "\ufdfa" * 10)
    assert response.status_code in (200, 400) and "There is a problem" in response.content.decode()
    assert Practitioner.objects.count() == before
