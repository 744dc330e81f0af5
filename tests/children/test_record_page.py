"""The child record: who may open it, what each viewer sees, and what is recorded."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AccessEvent
from children.models import Address, ChildName
from practitioners.models import AccessGrant
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    """A child in Leeds who moved from Hammersmith, with services from both areas, one of them sensitive."""
    old_la = factories.LocalAuthorityFactory(name="Hammersmith and Fulham", safeguarding_contact="020 8753 6610")
    new_la = factories.LocalAuthorityFactory(name="Leeds", safeguarding_contact="0113 376 0336",
                                             out_of_hours_phone="0113 535 0600")
    child = factories.ChildFactory(given_names="Kacper", family_name="Kociński", date_of_birth=date(2015, 3, 9),
                                   postcode="LS7 3QB", address_line="14 Harbour Road", local_authority=new_la, sex="M")
    ChildName.objects.create(child=child, kind=ChildName.Kind.PREVIOUS, given_names="Kacper", family_name="Nowak")
    today = timezone.localdate()
    Address.objects.create(child=child, address_line="2 Wood Lane", postcode="W12 7RJ", local_authority=old_la,
                           moved_in_on=date(2019, 6, 1), moved_out_on=today - timedelta(days=60))
    Address.objects.create(child=child, address_line="14 Harbour Road", postcode="LS7 3QB", local_authority=new_la,
                           moved_in_on=today - timedelta(days=60))
    old_school = factories.OrganisationFactory(name="Wood Lane Primary School", local_authority=old_la)
    camhs_trust = factories.OrganisationFactory(name="West London NHS Trust", local_authority=old_la)
    new_team = factories.OrganisationFactory(name="Leeds Children's Social Care", local_authority=new_la)
    camhs = factories.ServiceFactory(name="CAMHS", code="camhs", sensitive=True)
    factories.InvolvementFactory(child=child, organisation=old_school, service=factories.ServiceFactory(name="School"),
                                 started_on=date(2020, 9, 1), ended_on=today - timedelta(days=62),
                                 contact_phone="020 7946 0100")
    factories.InvolvementFactory(child=child, organisation=camhs_trust, service=camhs, started_on=date(2022, 1, 1),
                                 contact_phone="020 7946 0999", contact_email="camhs@trust.example.org")
    social = factories.InvolvementFactory(child=child, organisation=new_team,
                                          service=factories.ServiceFactory(name="Children's social care"),
                                          started_on=today - timedelta(days=30), contact_phone="0113 222 0000")
    return {"child": child, "old_la": old_la, "new_la": new_la, "new_team": new_team, "camhs_trust": camhs_trust,
            "social": social}


def test_an_anonymous_visitor_is_sent_to_sign_in(client, world):
    response = client.get(world["child"].get_absolute_url())
    assert response.status_code == 302 and "login" in response.url


def test_without_a_second_factor_the_record_is_refused(unverified_client, world, grant, searcher):
    grant(searcher, world["child"])
    response = unverified_client.get(world["child"].get_absolute_url())
    assert response.status_code == 403 and b"Kacper" not in response.content


def test_a_vetted_practitioner_without_a_grant_gets_the_request_access_choice_and_nothing_else(searcher_client,
                                                                                            world):
    child = world["child"]
    child.upn = "A801200000012"
    child.la_child_id = "LEEDS-55120"
    child.save()
    response = searcher_client.get(child.get_absolute_url())
    assert response.status_code == 403
    page = response.content.decode()
    assert "You need access to open this record" in page
    assert f'href="{reverse("practitioners:request_access", kwargs={"reference": child.reference})}"' in page
    assert f'href="{reverse("practitioners:break_glass", kwargs={"reference": child.reference})}"' in page
    # Nothing of the record: no identifier, address, other name or service; not even what a search shows.
    for secret in (child.nhs_number, child.upn, child.la_child_id, "14 Harbour Road", "2 Wood Lane", "Nowak",
                   "Social Care", "Wood Lane Primary", "0113", "020 7946", "Kacper", "Kociński", "2015", "LS7",
                   "Leeds"):
        assert secret not in page
    event = AccessEvent.objects.get(action="child.view")
    assert event.outcome == "denied" and event.child_ref == world["child"].reference


def test_an_unknown_reference_is_not_found_and_the_attempt_recorded(searcher_client):
    assert searcher_client.get("/children/C-AAAAA-AAAAA/").status_code == 404
    assert AccessEvent.objects.get(action="child.view").outcome == "denied"


def test_a_granted_practitioner_sees_every_service_current_first_with_contacts(searcher_client, searcher, world,
                                                                               grant):
    grant(searcher, world["child"])
    response = searcher_client.get(world["child"].get_absolute_url())
    assert response.status_code == 200
    page = response.content.decode()
    assert "Kacper Kociński" in page and "Previous name" in page and "Kacper Nowak" in page
    assert page.index("Leeds Children&#x27;s Social Care") < page.index("Wood Lane Primary School")
    assert "0113 222 0000" in page and "020 7946 0100" in page
    assert "Last confirmed" in page
    assert "0113 535 0600" in page  # the area's out-of-hours number
    assert "moved between areas: Hammersmith and Fulham, then Leeds" in page
    assert "14 Harbour Road" in page and "W12" in page


def test_a_sensitive_service_is_shown_only_as_a_prompt_to_call_safeguarding(searcher_client, searcher, world, grant):
    grant(searcher, world["child"])
    page = searcher_client.get(world["child"].get_absolute_url()).content.decode()
    assert "A sensitive service is involved — contact Hammersmith and Fulham safeguarding: 020 8753 6610" in page
    for secret in ("CAMHS", "West London NHS Trust", "020 7946 0999", "camhs@trust.example.org", "1 Jan 2022"):
        assert secret not in page


def test_the_organisation_delivering_a_sensitive_service_sees_its_own_involvement(client, login_verified, world,
                                                                                  grant):
    clinician = factories.PractitionerFactory(organisation=world["camhs_trust"])
    grant(clinician, world["child"])
    page = login_verified(client, clinician.user).get(world["child"].get_absolute_url()).content.decode()
    assert "CAMHS" in page and "020 7946 0999" in page


def test_a_shielded_childs_address_and_history_are_hidden_from_practitioners(searcher_client, searcher, world,
                                                                            grant):
    child = world["child"]
    child.shielded = True
    child.save()
    grant(searcher, child)
    page = searcher_client.get(child.get_absolute_url()).content.decode()
    assert "Withheld" in page and "Address history is withheld" in page
    for secret in ("14 Harbour Road", "LS7", "W12", "2 Wood Lane", "Hammersmith and Fulham, then"):
        assert secret not in page


def test_the_owning_la_admin_sees_a_shielded_childs_address(client, login_verified, world, la_admin_of):
    child = world["child"]
    child.shielded = True
    child.save()
    page = login_verified(client, la_admin_of(world["new_la"])).get(child.get_absolute_url()).content.decode()
    assert "14 Harbour Road" in page and "LS7 3QB" in page and "W12" in page


def test_an_la_admin_of_another_area_is_refused_and_not_offered_a_practitioners_request(client, login_verified, world,
                                                                                       la_admin_of):
    response = login_verified(client, la_admin_of(world["old_la"])).get(world["child"].get_absolute_url())
    assert response.status_code == 403 and b"Kacper" not in response.content
    assert b"request-access" not in response.content and b"break-glass" not in response.content
    event = AccessEvent.objects.get(action="child.view")
    assert event.outcome == "denied" and event.details == {"refused": "another area"}


def test_every_view_is_audited_in_the_same_transaction_as_the_read(searcher_client, searcher, world, grant):
    grant(searcher, world["child"])
    searcher_client.get(world["child"].get_absolute_url())
    event = AccessEvent.objects.get(action="child.view")
    assert event.outcome == "allowed" and event.actor_id == searcher.user_id
    assert event.child_ref == world["child"].reference and "Kacper" not in str(event.details)


def test_when_the_audit_write_fails_no_record_is_shown(searcher_client, searcher, world, grant, audit_refuses_writes):
    grant(searcher, world["child"])
    audit_refuses_writes()
    searcher_client.raise_request_exception = False
    response = searcher_client.get(world["child"].get_absolute_url())
    assert response.status_code == 500 and b"Kacper" not in response.content


def test_the_record_shows_the_break_glass_banner_while_the_emergency_access_lasts(searcher_client, searcher, world):
    child = world["child"]
    reason = "Police report the child missing overnight from home"
    response = searcher_client.post(reverse("practitioners:break_glass", kwargs={"reference": child.reference}),
                                    {"reason": reason, "confirm": "on"}, follow=True)
    page = response.content.decode()
    assert response.status_code == 200 and "Kacper Kociński" in page
    assert "Emergency access" in page and "through break-glass until" in page and reason in page
    # Once the window has passed the record is refused again, banner and all.
    AccessGrant.objects.filter(practitioner=searcher, child=child).update(
        expires_at=timezone.now() - timedelta(minutes=1))
    later = searcher_client.get(child.get_absolute_url())
    assert later.status_code == 403 and "Kacper" not in later.content.decode()


def test_access_from_an_approved_request_shows_no_break_glass_banner(searcher_client, searcher, world, grant):
    grant(searcher, world["child"])
    page = searcher_client.get(world["child"].get_absolute_url()).content.decode()
    assert "Kacper Kociński" in page and "Emergency access" not in page
