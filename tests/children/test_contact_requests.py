"""Contact, not disclosure (SPEC 3.8): a vetted practitioner asks the services working with a child
to contact them. The request reaches each service's contact route (a sensitive service's through
the child's LA safeguarding team), carries no case notes, and tells the asker nothing more."""

from datetime import date, timedelta

import pytest
from django.test import TestCase
from django.core import mail
from django.db.models import F
from django.test import Client
from django.urls import reverse

from audit.context import RequestContext
from audit.models import AccessEvent
from children import services
from children.models import Child, ContactRecipient, ContactRequest
from outbox.models import OutboundEmail
from practitioners.permissions import NotVetted
from tests import factories
from tests.children.conftest import NOT_SEARCHERS

pytestmark = pytest.mark.django_db

SAFEGUARDING = "safeguarding@leeds.example.org"
SCHOOL = "year6@harbour-primary.example.org"
GP = "reception@chapeltown-surgery.example.org"
CLINIC = "clinic@leeds-sexual-health.example.org"
ENDED = "office@old-school.example.org"
HEALTH_VISITOR_PHONE = "0113 843 5555"
# Everything about the services that the asker must never be shown.
SERVICE_SECRETS = (SCHOOL, GP, CLINIC, SAFEGUARDING, HEALTH_VISITOR_PHONE, "Harbour Primary", "Chapeltown Surgery",
                   "Leeds Sexual Health", "Sexual health", "Health visiting", "Leeds Community Health", "0113 222 0000")


@pytest.fixture
def world(db):
    """A child in Leeds with four open involvements (school: its own email; GP: only its organisation's
    email; health visitor: a phone number only; a sensitive sexual-health clinic) and one ended one."""
    leeds = factories.LocalAuthorityFactory(name="Leeds", safeguarding_contact=SAFEGUARDING)
    child = factories.ChildFactory(given_names="Kacper", family_name="Kociński", date_of_birth=date(2012, 3, 9),
                                   postcode="LS7 3QB", address_line="14 Harbour Road", local_authority=leeds)

    def involved(organisation, service, **routes):
        org = factories.OrganisationFactory(name=organisation, local_authority=leeds, **routes.pop("org", {}))
        return factories.InvolvementFactory(child=child, organisation=org, service=service, **routes)

    school = involved("Harbour Primary School", factories.ServiceFactory(name="School"),
                      contact_email=SCHOOL, contact_phone="0113 222 0000")
    gp = involved("Chapeltown Surgery", factories.ServiceFactory(name="GP"), org={"contact_email": GP},
                  contact_phone="0113 222 0001", contact_email="")
    visitor = involved("Leeds Community Health", factories.ServiceFactory(name="Health visiting"),
                       org={"contact_email": "", "contact_phone": ""}, contact_phone=HEALTH_VISITOR_PHONE)
    clinic = involved("Leeds Sexual Health", factories.ServiceFactory(name="Sexual health", sensitive=True),
                      org={"contact_email": CLINIC}, contact_email=CLINIC)
    involved("Old School", factories.ServiceFactory(name="Old school"), contact_email=ENDED,
             started_on=date(2018, 9, 1), ended_on=date(2022, 7, 20))
    return {"child": child, "leeds": leeds, "school": school, "gp": gp, "visitor": visitor, "clinic": clinic}


@pytest.fixture
def asker(db):
    """A vetted practitioner in another area, with no grant on the child: they found it by a search."""
    return factories.PractitionerFactory(
        user__first_name="Amira", user__last_name="Okafor", job_title="Designated safeguarding lead",
        organisation__name="Meadow Academy", work_phone="020 7946 0123", work_email="a.okafor@meadow.example.org")


@pytest.fixture
def asker_client(client, login_verified, asker):
    return login_verified(client, asker.user)


def url(child) -> str:
    return reverse("children:contact", kwargs={"reference": child.reference})


def send(client, child, reason="safeguarding"):
    """POST the form; the emails are queued in its transaction and sent after the commit."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(url(child), {"reason": reason})


def sent_to() -> dict[str, str]:
    """Address -> body of every email sent."""
    return {address: message.body for message in mail.outbox for address in message.to}


# Sending -------------------------------------------------------------------------------

def test_the_request_is_emailed_to_each_open_involvements_route_and_the_safeguarding_team(asker_client, world):
    response = send(asker_client, world["child"])
    assert response.status_code == 200
    # The school's own address; the GP's organisation's (its involvement has only a phone); the LA's
    # safeguarding team for the sensitive clinic and the phone-only health visitor. Not the ended one.
    assert sorted(sent_to()) == sorted([SCHOOL, GP, SAFEGUARDING])


def test_a_sensitive_service_is_reached_through_the_childs_la_safeguarding_contact_and_named_nowhere(asker_client,
                                                                                                   world):
    send(asker_client, world["child"])
    emails = sent_to()
    assert CLINIC not in emails
    assert "A service Signpost keeps confidential is working with this child" in emails[SAFEGUARDING]
    for body in emails.values():
        assert "Sexual health" not in body and "Leeds Sexual Health" not in body and CLINIC not in body
    clinic_route = ContactRecipient.objects.get(involvement=world["clinic"])
    assert (clinic_route.route, clinic_route.method, clinic_route.local_authority) == (
        SAFEGUARDING, ContactRecipient.Method.EMAIL, world["leeds"])


def test_a_phone_only_service_is_listed_for_the_safeguarding_team_to_call(asker_client, world):
    send(asker_client, world["child"])
    assert f"- Leeds Community Health (Health visiting): {HEALTH_VISITOR_PHONE}" in sent_to()[SAFEGUARDING]
    assert "Leeds Community Health" not in sent_to()[SCHOOL]
    route = ContactRecipient.objects.get(involvement=world["visitor"])
    assert (route.route, route.method) == (HEALTH_VISITOR_PHONE, ContactRecipient.Method.RELAYED)


def test_a_child_with_no_open_involvement_is_asked_about_through_the_la_safeguarding_team(asker_client, world):
    loner = factories.ChildFactory(local_authority=world["leeds"])
    send(asker_client, loner)
    assert list(sent_to()) == [SAFEGUARDING]
    assert "No service is recorded as working with this child at present." in sent_to()[SAFEGUARDING]
    route = ContactRecipient.objects.get(request__child=loner)
    assert (route.involvement, route.local_authority, route.method) == (None, world["leeds"],
                                                                        ContactRecipient.Method.EMAIL)


def test_when_the_only_route_is_a_phone_number_the_request_is_recorded_as_a_call_and_the_asker_told(asker_client,
                                                                                                     world):
    phone_only_la = factories.LocalAuthorityFactory(safeguarding_contact="0300 555 0199")
    loner = factories.ChildFactory(local_authority=phone_only_la)
    response = send(asker_client, loner)
    assert mail.outbox == []
    route = ContactRecipient.objects.get(request__child=loner)
    assert (route.route, route.method) == ("0300 555 0199", ContactRecipient.Method.CALL)
    page = response.content.decode()
    assert "Request recorded, not emailed" in page and "Request sent" not in page and "0300 555 0199" not in page


def test_the_email_carries_the_reference_the_reason_and_the_askers_work_details_and_no_more(asker_client, world):
    send(asker_client, world["child"], reason="referral")
    body = sent_to()[SCHOOL]
    child = world["child"]
    for expected in (child.reference, "New referral", "Amira Okafor, Designated safeguarding lead", "Meadow Academy",
                     "020 7946 0123", "a.okafor@meadow.example.org"):
        assert expected in body
    for secret in ("Kacper", "Kociński", "2012", "Harbour Road", "LS7", child.nhs_number):
        assert secret not in body
    assert mail.outbox[0].subject == f"Signpost: please contact a practitioner about child {child.reference}"


def test_the_asker_is_told_it_went_to_the_services_and_not_which_or_how_many(asker_client, world):
    page = send(asker_client, world["child"]).content.decode()
    assert "Request sent" in page and "sent your request to the services working with this child" in page
    for secret in SERVICE_SECRETS:
        assert secret not in page
    for count in ("1 service", "2 services", "3 services", "4 services", "three", "four"):
        assert count not in page


def test_a_mail_server_that_refuses_still_shows_request_sent_and_the_emails_wait_for_a_retry(asker_client, world,
                                                                                            settings, caplog):
    settings.EMAIL_BACKEND = "tests.outbox.unreachable_mail_server.EmailBackend"
    page = send(asker_client, world["child"]).content.decode()
    assert "Request sent" in page
    assert AccessEvent.objects.filter(action="contact.request", child_ref=world["child"].reference).exists()
    emails = OutboundEmail.objects.filter(kind="contact_request")
    assert emails.exists() and {e.status for e in emails} == {OutboundEmail.Status.RETRYING}
    assert "example" not in caplog.text  # no address reaches the log


def test_the_form_shows_what_will_be_sent_and_nothing_of_the_child_or_its_services(asker_client, world):
    response = asker_client.get(url(world["child"]))
    assert response.status_code == 200
    page = response.content.decode()
    assert world["child"].reference in page and "Amira Okafor" in page and "020 7946 0123" in page
    assert "Safeguarding concern" in page and "no case details" in page
    assert 'name="reason"' in page and "<textarea" not in page  # a choice, never free text
    for secret in (*SERVICE_SECRETS, "Kacper", "Kociński", "Harbour Road"):
        assert secret not in page


def test_a_reason_that_is_not_on_the_list_is_refused_and_nothing_sent(asker_client, world):
    response = send(asker_client, world["child"], reason="Mum says he was hit at home")
    assert response.status_code == 400
    assert "Choose why you want the services to contact you" in response.content.decode()
    assert mail.outbox == [] and not ContactRequest.objects.exists()
    assert not AccessEvent.objects.filter(action="contact.request").exists()


def test_the_search_results_and_the_record_offer_the_request(asker_client, asker, world, grant):
    child = world["child"]
    results = asker_client.post(reverse("children:search"), {"nhs_number": child.nhs_number}).content.decode()
    assert f'href="{url(child)}"' in results
    grant(asker, child)
    assert f'href="{url(child)}"' in asker_client.get(child.get_absolute_url()).content.decode()


# The audit trail -----------------------------------------------------------------------

def test_each_request_is_an_audit_event_about_the_child(asker_client, asker, world):
    send(asker_client, world["child"])
    event = AccessEvent.objects.get(action="contact.request")
    request = ContactRequest.objects.get()
    assert (event.outcome, event.child_ref, event.actor_id) == ("allowed", world["child"].reference, asker.user_id)
    assert event.details == {"contact_request_id": request.pk, "reason": "safeguarding", "emails": 3, "routes": 4}
    assert (request.requester, request.child, request.reason) == (asker, world["child"], "safeguarding")


def test_opening_the_form_is_audited(asker_client, world):
    asker_client.get(url(world["child"]))
    assert AccessEvent.objects.get(action="contact.start").child_ref == world["child"].reference


def test_without_its_audit_event_no_request_is_recorded_and_no_email_sent(asker, world, audit_refuses_writes):
    asker.user.is_verified = lambda: True
    audit_refuses_writes()
    with pytest.raises(Exception, match="audit unavailable"):
        services.send_contact_request(reference=world["child"].reference, reason="planning",
                                      context=RequestContext(user=asker.user))
    assert mail.outbox == []


# Who may ask ---------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("who", NOT_SEARCHERS)
def test_anyone_but_an_active_vetted_practitioner_is_refused_and_the_refusal_recorded(client, login_verified,
                                                                                    not_a_searcher, who, method,
                                                                                    world):
    login_verified(client, not_a_searcher(who))
    assert getattr(client, method)(url(world["child"]), {"reason": "query"}).status_code == 403
    assert mail.outbox == [] and not ContactRequest.objects.exists()
    assert AccessEvent.objects.get(action="access.refused").outcome == "denied"


def test_an_la_admin_of_the_childs_own_area_is_refused_unless_also_a_practitioner(client, login_verified, world):
    la_admin = factories.LAAdminFactory(local_authority=world["leeds"]).user
    login_verified(client, la_admin)
    assert send(client, world["child"]).status_code == 403
    assert mail.outbox == []
    assert AccessEvent.objects.get(action="access.refused").details["why"] == "wrong_role"


def test_without_a_verified_second_factor_the_request_is_refused_and_recorded(unverified_client, world):
    assert send(unverified_client, world["child"]).status_code == 403
    assert mail.outbox == []
    assert AccessEvent.objects.get(action="access.refused").details["why"] == "unverified"


def test_the_service_itself_refuses_a_practitioner_who_is_not_vetted_and_records_it(asker, world):
    # asker.user carries no verified second factor: may_search fails inside the service, whoever calls it.
    with pytest.raises(NotVetted):
        services.send_contact_request(reference=world["child"].reference, reason="query",
                                      context=RequestContext(user=asker.user))
    event = AccessEvent.objects.get(action="contact.request")
    assert (event.outcome, event.child_ref, event.details) == ("denied", world["child"].reference,
                                                               {"refused": "not vetted"})
    assert mail.outbox == []


def test_an_unknown_reference_is_not_found_and_the_attempt_recorded(asker_client):
    assert asker_client.get("/children/C-AAAAA-AAAAA/contact/").status_code == 404
    assert asker_client.post("/children/C-AAAAA-AAAAA/contact/", {"reason": "query"}).status_code == 404
    assert list(AccessEvent.objects.filter(action="contact.request").values_list("outcome", flat=True)) == [
        "denied", "denied"]
    assert mail.outbox == []


def test_a_merged_record_is_not_found_and_the_attempt_recorded(asker_client, world):
    merged = factories.ChildFactory(local_authority=world["leeds"], status=Child.Status.MERGED,
                                    merged_into=world["child"])
    assert send(asker_client, merged).status_code == 404
    assert AccessEvent.objects.get(action="contact.request").outcome == "denied"
    assert mail.outbox == [] and not ContactRequest.objects.exists()


# The rate limit ------------------------------------------------------------------------

def test_a_fourth_request_for_the_same_child_within_24_hours_is_refused_with_a_clear_message(asker_client, world):
    for _ in range(services.CONTACT_REQUEST_LIMIT):
        assert send(asker_client, world["child"]).status_code == 200
    mail.outbox.clear()
    response = send(asker_client, world["child"])
    assert response.status_code == 400
    assert "You have already sent 3 requests about this child in the last 24 hours" in response.content.decode()
    assert mail.outbox == [] and ContactRequest.objects.count() == 3
    refused = AccessEvent.objects.filter(action="contact.request", outcome="denied").get()
    assert refused.details == {"refused": "rate limit"}


def test_the_limit_is_per_practitioner_and_child_and_lapses_after_24_hours(asker_client, asker, world,
                                                                          login_verified):
    for _ in range(services.CONTACT_REQUEST_LIMIT):
        send(asker_client, world["child"])
    other_child = factories.ChildFactory(local_authority=world["leeds"])
    assert send(asker_client, other_child).status_code == 200
    colleague = factories.PractitionerFactory(organisation=asker.organisation)
    assert send(login_verified(Client(), colleague.user), world["child"]).status_code == 200
    ContactRequest.objects.filter(requester=asker).update(created_at=F("created_at") - timedelta(hours=24, minutes=1))
    assert send(asker_client, world["child"]).status_code == 200


def test_the_admin_shows_where_a_request_went_and_edits_nothing(asker_client, world, client, login_verified):
    send(asker_client, world["child"])
    request = ContactRequest.objects.get()
    login_verified(client, factories.UserFactory(is_staff=True, is_superuser=True))
    page = client.get(reverse("admin:children_contactrequest_change", args=[request.pk])).content.decode()
    assert SCHOOL in page and HEALTH_VISITOR_PHONE in page and 'name="_save"' not in page
    assert client.get(reverse("admin:children_contactrequest_add")).status_code == 403
