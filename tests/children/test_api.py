"""The REST API for search and the record: token auth, the web's permission rules, masking and audit."""

from datetime import date, timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import AccessEvent
from practitioners.models import Practitioner
from tests import factories
from tests.children.conftest import NOT_SEARCHERS

pytestmark = pytest.mark.django_db
SEARCH = "/api/v1/children/search/"


@pytest.fixture
def api(searcher):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=searcher.user).key}")
    return client


@pytest.fixture
def shielded(db):
    return factories.ChildFactory(given_names="Amelia", family_name="Trelawny", date_of_birth=date(2017, 11, 2),
                                  postcode="TR1 2HE", address_line="Refuge", shielded=True)


def test_without_a_token_the_api_refuses(client):
    response = APIClient().post(SEARCH, {"family_name": "Smith", "postcode": "W6"}, format="json")
    assert response.status_code in (401, 403)


@pytest.mark.parametrize("who", NOT_SEARCHERS)
def test_a_token_of_anyone_but_an_active_vetted_practitioner_is_refused(not_a_searcher, who):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=not_a_searcher(who)).key}")
    factories.ChildFactory(family_name="Smith", postcode="W6 9LA")
    response = client.post(SEARCH, {"family_name": "Smith", "postcode": "W6"}, format="json")
    assert response.status_code == 403 and "Smith" not in response.content.decode()


def test_search_returns_ranked_candidates_with_scores_and_reasons_and_is_audited(api, searcher):
    child = factories.ChildFactory(given_names="William", family_name="Smith", date_of_birth=date(2015, 3, 9),
                                   postcode="W6 9LA")
    response = api.post(SEARCH, {"given_name": "Bill", "family_name": "Smith", "date_of_birth": "2015-03-09"},
                        format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["mode"] == "fuzzy" and body["too_many"] is False
    [result] = body["results"]
    assert result["reference"] == child.reference and result["band"] == "confident"
    assert result["postcode_district"] == "W6" and "given name is a short form or variant" in result["reasons"]
    assert set(result) == {"reference", "given_names", "family_name", "date_of_birth", "sex", "local_authority",
                           "postcode_district", "score", "band", "reasons"}
    event = AccessEvent.objects.get(action="child.search")
    assert event.actor_id == searcher.user_id and event.details["children"] == [child.reference]


def test_bad_queries_get_field_errors_not_a_500(api):
    response = api.post(SEARCH, {"family_name": "Smith", "nhs_number": "123", "date_of_birth": "2999-01-01"},
                        format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"nhs_number", "date_of_birth"}
    response = api.post(SEARCH, {"family_name": "Smith", "postcode": "W6\x00"}, format="json")
    assert response.status_code == 400 and set(response.json()) == {"postcode"}
    response = api.post(SEARCH, {"family_name": "Smith"}, format="json")
    assert response.status_code == 400 and "at least two" in response.content.decode()


def test_a_shielded_child_has_no_location_in_search_results_and_a_postcode_search_never_finds_it(api, shielded):
    body = api.post(SEARCH, {"given_name": "Amelia", "family_name": "Trelawny", "date_of_birth": "2017-11-02"},
                    format="json").json()
    [result] = body["results"]
    assert result["postcode_district"] is None and result["local_authority"] is None
    assert "TR1" not in str(body)
    body = api.post(SEARCH, {"family_name": "Trelawny", "date_of_birth": "2017-11-02", "postcode": "TR1"},
                    format="json").json()
    assert body["results"] == []


def test_reading_a_record_needs_a_grant_and_the_refusal_offers_the_way_to_ask(api, shielded):
    response = api.get(f"/api/v1/children/{shielded.reference}/")
    assert response.status_code == 403
    body = response.json()
    assert set(body) == {"detail", "request_access_url", "break_glass_url"}
    assert body["request_access_url"] == f"/practitioners/children/{shielded.reference}/request-access/"
    assert body["break_glass_url"] == f"/practitioners/children/{shielded.reference}/break-glass/"
    assert "Amelia" not in response.content.decode()
    assert AccessEvent.objects.get(action="child.view").outcome == "denied"
    assert api.get("/api/v1/children/C-AAAAA-AAAAA/").status_code == 404


def test_the_record_masks_sensitive_services_and_a_shielded_address(api, searcher, shielded, grant):
    grant(searcher, shielded)
    la = shielded.local_authority
    factories.InvolvementFactory(child=shielded, service=factories.ServiceFactory(name="Sexual health",
                                                                                  sensitive=True),
                                 organisation=factories.OrganisationFactory(name="Clinic", local_authority=la),
                                 contact_phone="01872 000 111")
    factories.InvolvementFactory(child=shielded, service=factories.ServiceFactory(name="School"),
                                 organisation=factories.OrganisationFactory(name="Truro School"),
                                 ended_on=timezone.localdate() - timedelta(days=3))
    response = api.get(f"/api/v1/children/{shielded.reference}/")
    assert response.status_code == 200
    body = response.json()
    text = response.content.decode()
    for secret in ("Sexual health", "Clinic", "01872 000 111", "TR1", "Refuge", "Truro School", la.name,
                   la.out_of_hours_phone):
        assert secret not in text
    # A personal grant is not a confirmed involvement: no location at all, only whom to call (issue 16).
    assert body["address_line"] is None and body["postcode"] is None and body["addresses"] == []
    assert body["current_involvements"] == body["previous_involvements"] == []
    assert body["local_authority"] is None and body["safeguarding_contact"] == la.safeguarding_contact
    assert AccessEvent.objects.filter(action="child.view", outcome="allowed").count() == 1

    # Once the searcher's organisation has a confirmed involvement, it sees the location, sensitive
    # services still masked, and still not the address.
    from audit.context import RequestContext
    from practitioners.services import sync_organisation_access

    factories.InvolvementFactory(child=shielded, organisation=searcher.organisation)
    sync_organisation_access(opened={(searcher.organisation_id, shielded.pk)}, context=RequestContext.system("t"))
    response = api.get(f"/api/v1/children/{shielded.reference}/")
    body, text = response.json(), response.content.decode()
    for secret in ("Sexual health", "Clinic", "01872 000 111", "Refuge"):
        assert secret not in text
    assert body["address_line"] is None and body["postcode"] is None
    masked = [row for row in body["current_involvements"] if row.get("masked")]
    assert masked == [{"masked": True, "is_current": True,
                       "message": f"A sensitive service is involved — contact {la.name} safeguarding: "
                                  f"{la.safeguarding_contact}"}]
    assert body["previous_involvements"][0]["organisation"] == "Truro School"
    assert body["out_of_hours_phone"] == la.out_of_hours_phone and body["safeguarding_contact"] is None


def test_the_schema_documents_the_search_and_record_endpoints(client):
    schema = client.get("/api/schema/").content.decode()
    assert "/api/v1/children/search/" in schema and "/api/v1/children/{reference}/" in schema
    assert "children_search" in schema and "children_record" in schema


@pytest.mark.parametrize("verified, code", [(False, 403), (True, 200)])
def test_a_session_call_needs_the_verified_second_factor_a_token_stands_in_for(client, login_verified, searcher,
                                                                                grant, verified, code):
    child = factories.ChildFactory(given_names="Amelia", family_name="Trelawny")
    grant(searcher, child)
    if verified:
        login_verified(client, searcher.user)
    else:
        client.force_login(searcher.user)  # password only
    record = client.get(f"/api/v1/children/{child.reference}/")
    search = client.post(SEARCH, {"family_name": "Trelawny", "postcode": child.postcode},
                         content_type="application/json")
    assert record.status_code == search.status_code == code
    assert ("Trelawny" in record.content.decode()) is verified


def test_a_token_is_refused_once_its_practitioner_is_suspended_even_if_the_token_survives(api, searcher, grant):
    """A bulk status change deletes no token: the status is read again on every call."""
    child = factories.ChildFactory(given_names="Amelia", family_name="Trelawny")
    grant(searcher, child)
    assert api.get(f"/api/v1/children/{child.reference}/").status_code == 200
    Practitioner.objects.filter(pk=searcher.pk).update(status=Practitioner.Status.SUSPENDED)
    response = api.get(f"/api/v1/children/{child.reference}/")
    assert response.status_code == 403 and "Trelawny" not in response.content.decode()
