"""A practitioner records and ends their own organisation's involvement; a move hands the record
to the receiving area, whose people then see the whole history."""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AccessEvent
from children.models import Address, Involvement
from audit.context import RequestContext
from practitioners import permissions
from practitioners import services as access
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def child(db):
    return factories.ChildFactory(given_names="Ruby", family_name="Evans", date_of_birth=date(2016, 5, 4),
                                  postcode="W6 9LA", address_line="3 River Court")


def give_standing_access(practitioner, child):
    """The practitioner's organisation has an open involvement from its system feed: standing access."""
    from practitioners.services import involvement_access_pairs, sync_organisation_access

    involvement = factories.InvolvementFactory(child=child, organisation=practitioner.organisation,
                                               started_on=date(2024, 1, 1))
    sync_organisation_access(opened=involvement_access_pairs([involvement]), context=RequestContext.system("test"))
    return involvement


def start(day: date) -> dict:
    return {"start_day": day.day, "start_month": day.month, "start_year": day.year}


def add_url(child):
    return reverse("children:add_involvement", kwargs={"reference": child.reference})


def test_a_practitioner_records_their_organisations_involvement_and_colleagues_get_access_once_it_is_confirmed(
        searcher_client, searcher, child, grant, la_admin_of):
    grant(searcher, child)
    colleague = factories.PractitionerFactory(organisation=searcher.organisation)
    service = factories.ServiceFactory(name="Early help")
    searcher.organisation.services.add(service)
    response = searcher_client.post(add_url(child), {"service": service.pk, "lead_practitioner": searcher.pk,
                                                     "contact_phone": "020 7946 0123", "contact_email": "",
                                                     **start(date(2025, 1, 6))})
    assert response.status_code == 302 and response.url == child.get_absolute_url()
    involvement = Involvement.objects.get(child=child)
    assert (involvement.organisation, involvement.service, involvement.lead_practitioner) == (
        searcher.organisation, service, searcher)
    colleague.user.is_verified = lambda: True
    # The organisation could not open the record before: the involvement is a claim, not standing access.
    assert not permissions.may_open_child(colleague, child)
    assert involvement.claim.status == "open" and involvement.claim.route == "form"
    assert AccessEvent.objects.filter(action="involvement.add", child_ref=child.reference).count() == 1
    assert AccessEvent.objects.filter(action="grant.claim", child_ref=child.reference).count() == 1
    assert not AccessEvent.objects.filter(action="grant.organisation", child_ref=child.reference).exists()
    page = searcher_client.get(child.get_absolute_url()).content.decode()
    assert "Early help" in page and "020 7946 0123" in page
    access.confirm_claim(claim=involvement.claim, context=RequestContext(user=la_admin_of(child.local_authority)))
    assert permissions.may_open_child(colleague, child)
    assert AccessEvent.objects.filter(action="grant.organisation", child_ref=child.reference).count() == 1


def test_the_involvement_form_explains_each_mistake(searcher_client, searcher, child, grant):
    grant(searcher, child)
    other_service = factories.ServiceFactory(name="Youth justice")
    searcher.organisation.services.add(factories.ServiceFactory(name="School"))
    outsider = factories.PractitionerFactory()
    response = searcher_client.post(add_url(child), {"service": other_service.pk, "lead_practitioner": outsider.pk,
                                                     "contact_phone": "", "contact_email": "",
                                                     **start(timezone.localdate() + timedelta(days=3))})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Choose a service your organisation provides" in page
    assert "Choose a lead practitioner from your organisation" in page
    assert "Give a contact route" in page
    assert "The start date must be today or in the past" in page
    assert not Involvement.objects.exists()


def test_recording_an_involvement_needs_access_to_the_record(searcher_client, child):
    service = factories.ServiceFactory()
    response = searcher_client.post(add_url(child), {"service": service.pk, "contact_phone": "1",
                                                     **start(date(2025, 1, 6))})
    assert response.status_code == 403 and not Involvement.objects.exists()
    assert AccessEvent.objects.get(action="involvement.add").outcome == "denied"
    assert searcher_client.get(add_url(child)).status_code == 403


def test_ending_an_involvement_revokes_the_access_it_gave(searcher_client, searcher, child):
    from audit.context import RequestContext
    from practitioners.services import involvement_access_pairs, sync_organisation_access

    involvement = factories.InvolvementFactory(child=child, organisation=searcher.organisation,
                                               started_on=date(2024, 1, 1))
    sync_organisation_access(opened=involvement_access_pairs([involvement]), context=RequestContext.system("test"))
    assert searcher_client.get(child.get_absolute_url()).status_code == 200
    url = reverse("children:end_involvement", kwargs={"reference": child.reference, "involvement_id": involvement.pk})
    assert searcher_client.get(url).status_code == 200
    response = searcher_client.post(url, {"end_day": "31", "end_month": "12", "end_year": "2023"})
    assert response.status_code == 400 and "cannot be before the start date" in response.content.decode()
    response = searcher_client.post(url, {"end_day": "1", "end_month": "6", "end_year": "2024"})
    assert response.status_code == 302
    involvement.refresh_from_db()
    assert involvement.ended_on == date(2024, 6, 1)
    assert searcher_client.get(child.get_absolute_url()).status_code == 403
    assert AccessEvent.objects.filter(action="involvement.end", child_ref=child.reference).count() == 1


def test_another_organisations_involvement_cannot_be_ended(searcher_client, searcher, child, grant):
    grant(searcher, child)
    theirs = factories.InvolvementFactory(child=child)
    url = reverse("children:end_involvement", kwargs={"reference": child.reference, "involvement_id": theirs.pk})
    assert searcher_client.get(url).status_code == 404
    assert searcher_client.post(url, {"end_day": "1", "end_month": "6", "end_year": "2024"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.ended_on is None
    page = searcher_client.get(child.get_absolute_url()).content.decode()
    assert url not in page


def test_opening_the_involvement_form_is_audited_because_it_lists_colleagues_by_name(
        searcher_client, searcher, child, grant):
    grant(searcher, child)
    last = AccessEvent.objects.order_by("-id").values_list("id", flat=True).first()
    page = searcher_client.get(add_url(child))
    assert page.status_code == 200 and searcher.user.get_full_name() in page.content.decode()
    event = AccessEvent.objects.get(id__gt=last)
    assert (event.action, event.outcome, event.actor_id, event.child_ref) == (
        "involvement.add.start", "allowed", searcher.user_id, child.reference)


def test_opening_the_end_involvement_form_is_audited_with_the_involvement_it_shows(
        searcher_client, searcher, child, grant):
    grant(searcher, child)
    involvement = factories.InvolvementFactory(child=child, organisation=searcher.organisation,
                                               service=factories.ServiceFactory(name="Sexual health clinic"))
    url = reverse("children:end_involvement", kwargs={"reference": child.reference, "involvement_id": involvement.pk})
    last = AccessEvent.objects.order_by("-id").values_list("id", flat=True).first()
    page = searcher_client.get(url)
    assert page.status_code == 200 and "Sexual health clinic" in page.content.decode()
    event = AccessEvent.objects.get(id__gt=last)
    assert (event.action, event.actor_id, event.child_ref) == ("involvement.end.start", searcher.user_id,
                                                               child.reference)
    assert event.details == {"involvement_id": involvement.pk, "organisation_id": searcher.organisation_id}


def test_when_the_audit_write_fails_the_end_involvement_form_shows_nothing(
        searcher_client, searcher, child, grant, audit_refuses_writes):
    grant(searcher, child)
    involvement = factories.InvolvementFactory(child=child, organisation=searcher.organisation,
                                               service=factories.ServiceFactory(name="Sexual health clinic"))
    audit_refuses_writes()
    searcher_client.raise_request_exception = False
    response = searcher_client.get(reverse("children:end_involvement", kwargs={
        "reference": child.reference, "involvement_id": involvement.pk}))
    assert response.status_code == 500 and b"Sexual health clinic" not in response.content


def move(client, child, local_authority, day=None, postcode="LS7 3QB"):
    day = day or timezone.localdate() - timedelta(days=1)
    return client.post(reverse("children:move", kwargs={"reference": child.reference}), {
        "address_line": "14 Harbour Road", "postcode": postcode, "local_authority": local_authority.pk,
        "moved_day": day.day, "moved_month": day.month, "moved_year": day.year})


def test_a_move_to_another_area_hands_the_record_to_it_and_keeps_the_history(
        searcher_client, searcher, child, grant, client, login_verified, la_admin_of):
    old_la = child.local_authority
    Address.objects.create(child=child, postcode=child.postcode, local_authority=old_la, moved_in_on=date(2020, 1, 1))
    factories.InvolvementFactory(child=child, organisation=factories.OrganisationFactory(
        name="Hammersmith Academy", local_authority=old_la), started_on=date(2021, 1, 1), ended_on=date(2024, 1, 1))
    leeds = factories.LocalAuthorityFactory(name="Leeds")
    give_standing_access(searcher, child)  # a move to another area needs it (issue 16)
    assert move(searcher_client, child, leeds).status_code == 302
    child.refresh_from_db()
    assert child.local_authority == leeds and child.postcode == "LS7 3QB" and child.postcode_district == "LS7"
    assert Address.objects.get(child=child, local_authority=old_la).moved_out_on is not None
    event = AccessEvent.objects.get(action="child.move")
    assert event.details == {"from_local_authority_id": old_la.pk, "to_local_authority_id": leeds.pk}

    receiving_admin = login_verified(client, la_admin_of(leeds))
    page = receiving_admin.get(child.get_absolute_url()).content.decode()
    assert "Hammersmith Academy" in page and "moved between areas" in page
    from django.test import Client

    old_admin = login_verified(Client(), la_admin_of(old_la))
    assert old_admin.get(child.get_absolute_url()).status_code == 403  # the old area no longer owns the record
    from children.matching import Query, match

    assert [c.child for c in match(Query.of(given_name="Ruby", family_name="Evans", date_of_birth=child.date_of_birth,
                                            postcode="LS7"))] == [child]


def test_a_move_form_explains_bad_input(searcher_client, searcher, child, grant):
    grant(searcher, child)
    response = move(searcher_client, child, child.local_authority, postcode="NOPE")
    assert response.status_code == 400 and "Enter a real UK postcode" in response.content.decode()
    response = move(searcher_client, child, child.local_authority, day=timezone.localdate() + timedelta(days=2))
    assert response.status_code == 400 and "must be today or in the past" in response.content.decode()


def test_recording_a_move_needs_access_to_the_record(searcher_client, child):
    assert move(searcher_client, child, factories.LocalAuthorityFactory()).status_code == 403
    child.refresh_from_db()
    assert child.postcode == "W6 9LA"
    assert AccessEvent.objects.get(action="child.move").outcome == "denied"
