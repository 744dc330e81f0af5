"""Issue 16, item 8: a shielded child's location (local authority, postcode area, involved organisations,
the LA's out-of-hours number) reaches only the owning LA admin and practitioners whose organisation has a
confirmed involvement. Everyone else, break-glass included, learns that the child is shielded and whom
to call, without the local authority being named."""

from datetime import date, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.context import RequestContext
from children.models import Address
from practitioners import services
from practitioners.models import AccessGrant, Claim
from tests import factories
from tests.conftest import verified_login

pytestmark = pytest.mark.django_db

REASON = "Police report the child missing overnight; need the allocated social worker"
# What gives a shielded child's whereabouts away; none may reach a practitioner without a confirmed involvement.
LOCATION = ("Cornwall", "01208 251300", "Truro Primary School", "TR1", "7 Lemon Street")
SAFEGUARDING = "0300 123 1116"


@pytest.fixture
def world(db):
    cornwall = factories.LocalAuthorityFactory(name="Cornwall", safeguarding_contact=SAFEGUARDING,
                                               out_of_hours_phone="01208 251300")
    child = factories.ChildFactory(given_names="Morwenna", family_name="Trelawny", date_of_birth=date(2014, 6, 12),
                                   postcode="TR1 2AB", address_line="7 Lemon Street", local_authority=cornwall,
                                   shielded=True)
    Address.objects.create(child=child, address_line="7 Lemon Street", postcode="TR1 2AB", local_authority=cornwall,
                           moved_in_on=date(2023, 1, 1))
    truro = factories.OrganisationFactory(name="Truro Primary School", local_authority=cornwall)
    involvement = factories.InvolvementFactory(child=child, organisation=truro, started_on=date(2023, 9, 1))
    services.sync_organisation_access(opened={(truro.pk, child.pk)}, context=RequestContext.system("t"))
    elsewhere = factories.OrganisationFactory(name="Riverside Academy")
    return {"child": child, "cornwall": cornwall, "truro": truro, "involvement": involvement,
            "visitor": factories.PractitionerFactory(organisation=elsewhere),
            "truro_teacher": factories.PractitionerFactory(organisation=truro)}


def signed_in(user) -> Client:
    return verified_login(Client(), user)


def assert_location_withheld(page: str):
    for secret in LOCATION:
        assert secret not in page, secret
    assert SAFEGUARDING in page and "shielded" in page


@pytest.mark.parametrize("page", ["practitioners:request_access", "practitioners:break_glass"])
def test_the_request_access_and_break_glass_pages_say_whom_to_call_without_naming_the_area(world, page):
    response = signed_in(world["visitor"].user).get(reverse(page, kwargs={"reference": world["child"].reference}))
    assert response.status_code == 200
    assert_location_withheld(response.content.decode())


@pytest.mark.parametrize("page", ["practitioners:request_access", "practitioners:break_glass"])
def test_for_a_child_who_is_not_shielded_those_pages_still_name_the_deciding_area(world, page):
    child = world["child"]
    child.shielded = False
    child.save()
    body = signed_in(world["visitor"].user).get(reverse(page, kwargs={"reference": child.reference})).content
    assert b"Cornwall" in body


def test_asking_for_access_to_a_shielded_child_does_not_name_the_area_in_the_confirmation(world):
    client = signed_in(world["visitor"].user)
    response = client.post(reverse("practitioners:request_access", kwargs={"reference": world["child"].reference}),
                           {"reason": "Allocated for a child and family assessment after a referral"}, follow=True)
    assert response.status_code == 200 and "has been sent" in response.content.decode()
    assert "Cornwall" not in response.content.decode()


def test_under_break_glass_the_record_shows_no_location_only_whom_to_call(world):
    client = signed_in(world["visitor"].user)
    child = world["child"]
    client.post(reverse("practitioners:break_glass", kwargs={"reference": child.reference}),
                {"reason": REASON, "confirm": "on"})
    response = client.get(child.get_absolute_url())
    assert response.status_code == 200
    page = response.content.decode()
    assert "Morwenna Trelawny" in page  # the record itself, yes
    assert_location_withheld(page)
    assert "Other services working with this child are not shown" in page


def test_a_personal_grant_and_a_claimed_involvement_do_not_reveal_the_location(world):
    visitor = world["visitor"]
    child = world["child"]
    services.grant_access(practitioner=visitor, child=child, source=AccessGrant.Source.ACCESS_REQUEST,
                          reason="Team around the child", expires_at=timezone.now() + timedelta(days=3),
                          context=RequestContext.system("t"))
    own = factories.InvolvementFactory(child=child, organisation=visitor.organisation, external_id="",
                                       service=factories.ServiceFactory(name="Speech therapy"))
    services.record_claims(involvements=[own], route=Claim.Route.FORM, context=RequestContext.system("t"),
                           claimed_by=visitor.user, reason="Recorded with the add-involvement form")
    page = signed_in(visitor.user).get(child.get_absolute_url()).content.decode()
    assert_location_withheld(page)
    assert "Speech therapy" in page  # their own organisation's claimed involvement: nothing they don't know


def test_a_practitioner_whose_organisation_has_a_confirmed_involvement_sees_the_location_but_not_the_address(
        world):
    page = signed_in(world["truro_teacher"].user).get(world["child"].get_absolute_url()).content.decode()
    for shown in ("Cornwall", "01208 251300", "Truro Primary School", "TR1"):
        assert shown in page
    assert "7 Lemon Street" not in page  # the address itself only for the owning LA admin


def test_once_the_la_admin_confirms_a_claim_its_organisation_sees_the_location(world):
    visitor, child = world["visitor"], world["child"]
    own = factories.InvolvementFactory(child=child, organisation=visitor.organisation, external_id="")
    claim = services.record_claims(involvements=[own], route=Claim.Route.UPLOAD, context=RequestContext.system("t"),
                                   claimed_by=visitor.user, reason="CSV upload 1")[0]
    client = signed_in(visitor.user)
    assert_location_withheld(client.get(child.get_absolute_url()).content.decode())
    admin = factories.LAAdminFactory(local_authority=world["cornwall"]).user
    services.confirm_claim(claim=claim, context=RequestContext(user=admin))
    assert "Truro Primary School" in client.get(child.get_absolute_url()).content.decode()


def test_the_owning_la_admin_sees_everything_including_the_address(world):
    admin = factories.LAAdminFactory(local_authority=world["cornwall"]).user
    page = signed_in(admin).get(world["child"].get_absolute_url()).content.decode()
    for shown in LOCATION:
        assert shown in page


def test_the_api_record_under_break_glass_gives_no_location_either(world):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    visitor, child = world["visitor"], world["child"]
    visitor.user.is_verified = lambda: True
    services.break_glass(practitioner=visitor, child=child, reason=REASON, context=RequestContext(user=visitor.user))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=visitor.user).key}")
    response = api.get(reverse("children-api:record", kwargs={"reference": child.reference}))
    assert response.status_code == 200
    body = response.content.decode()
    for secret in LOCATION:
        assert secret not in body, secret
    data = response.json()
    assert data["local_authority"] is None and data["safeguarding_contact"] == SAFEGUARDING
    assert data["current_involvements"] == [] and data["addresses"] == [] and data["areas"] == []
