"""Issue 16, item 3: an LA admin ends any single grant (personal, claimed, break-glass) in their area,
with a reason, and a "not justified" break-glass review closes the window at once and ends what was
claimed under it. The practitioner loses access on their very next request."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.context import RequestContext
from audit.models import AccessEvent
from practitioners import services
from practitioners.models import AccessGrant, Claim
from tests import factories
from tests.conftest import verified_login

pytestmark = pytest.mark.django_db

REASON = "Police report the child missing overnight; need the allocated social worker"


def signed_in(user) -> Client:
    return verified_login(Client(), user)


@pytest.fixture
def world(cast):
    """cast: a child of ``la``; ``practitioner`` of ``la``; ``other_admin`` of Leeds. Plus a practitioner of
    Leeds (the other area), signed in on their own client."""
    visitor = factories.PractitionerFactory(organisation=factories.OrganisationFactory(local_authority=cast.other_la))
    return cast, visitor


def personal_grant(practitioner, child):
    return services.grant_access(practitioner=practitioner, child=child, source=AccessGrant.Source.ACCESS_REQUEST,
                                 reason="Team around the child meeting", context=RequestContext.system("t"),
                                 expires_at=timezone.now() + timedelta(days=10))


def end(user, grant, reason="Not needed any more"):
    return signed_in(user).post(reverse("practitioners:end_grant", args=[grant.pk]), {"reason": reason})


def test_the_childs_la_admin_ends_a_personal_grant_and_the_next_request_is_refused(world):
    cast, visitor = world
    grant = personal_grant(visitor, cast.child)
    client = signed_in(visitor.user)
    assert client.get(cast.child.get_absolute_url()).status_code == 200
    assert end(cast.admin.user, grant, reason="The assessment has finished").status_code == 302
    assert client.get(cast.child.get_absolute_url()).status_code == 403  # same session, next request
    grant.refresh_from_db()
    assert grant.revoked_at and grant.revoked_by == cast.admin.user and grant.revoke_reason == (
        "The assessment has finished")
    event = AccessEvent.objects.get(action="grant.end")
    assert event.child_ref == cast.child.reference and event.reason == "The assessment has finished"
    assert event.actor_id == cast.admin.user_id


def test_the_practitioners_own_la_admin_can_end_their_grant_on_a_child_elsewhere(world):
    cast, visitor = world  # visitor is of Leeds, the child of cast.la
    grant = personal_grant(visitor, cast.child)
    assert end(cast.other_admin.user, grant).status_code == 302
    grant.refresh_from_db()
    assert grant.revoked_at is not None


def test_an_la_admin_of_neither_area_and_a_practitioner_cannot_end_a_grant(world):
    cast, visitor = world
    grant = personal_grant(cast.practitioner, cast.child)  # both in cast.la
    stranger = factories.LAAdminFactory().user
    assert end(stranger, grant).status_code == 403
    assert end(visitor.user, grant).status_code == 403
    grant.refresh_from_db()
    assert grant.revoked_at is None and not AccessEvent.objects.filter(action="grant.end").exists()
    assert cast.child.reference not in signed_in(stranger).get(reverse("practitioners:grants")).content.decode()


def test_ending_needs_a_reason(world):
    cast, visitor = world
    grant = personal_grant(visitor, cast.child)
    response = end(cast.admin.user, grant, reason="  ")
    assert response.status_code == 400 and "Enter the reason for ending this access" in response.content.decode()
    grant.refresh_from_db()
    assert grant.revoked_at is None


def test_the_console_lists_live_grants_of_the_area_with_a_way_to_end_each(world):
    cast, visitor = world
    grant = personal_grant(visitor, cast.child)
    page = signed_in(cast.admin.user).get(reverse("practitioners:grants")).content.decode()
    assert cast.child.reference in page and reverse("practitioners:end_grant", args=[grant.pk]) in page


def test_ending_a_break_glass_window_ends_what_was_claimed_under_it(world):
    cast, visitor = world
    client = signed_in(visitor.user)
    client.post(reverse("practitioners:break_glass", kwargs={"reference": cast.child.reference}),
                {"reason": REASON, "confirm": "on"})
    service = factories.ServiceFactory()
    visitor.organisation.services.add(service)
    client.post(reverse("children:add_involvement", kwargs={"reference": cast.child.reference}), {
        "service": service.pk, "contact_phone": "020 7946 0123", "start_day": "6", "start_month": "1",
        "start_year": "2025"})
    window, claim = AccessGrant.objects.get(source="break_glass"), Claim.objects.get()
    assert end(cast.admin.user, window, reason="Not an emergency").status_code == 302
    claim.refresh_from_db()
    assert claim.status == "ended" and claim.involvement.ended_on is not None
    assert client.get(cast.child.get_absolute_url()).status_code == 403
    assert AccessEvent.objects.get(action="grant.end").details["claims_ended"] == 1


def test_a_not_justified_review_closes_the_window_at_once_and_ends_the_claims_made_under_it(world):
    cast, visitor = world
    client = signed_in(visitor.user)
    client.post(reverse("practitioners:break_glass", kwargs={"reference": cast.child.reference}),
                {"reason": REASON, "confirm": "on"})
    service = factories.ServiceFactory()
    visitor.organisation.services.add(service)
    client.post(reverse("children:add_involvement", kwargs={"reference": cast.child.reference}), {
        "service": service.pk, "contact_phone": "020 7946 0123", "start_day": "6", "start_month": "1",
        "start_year": "2025"})
    window = AccessGrant.objects.get(source="break_glass")
    assert client.get(cast.child.get_absolute_url()).status_code == 200
    response = signed_in(cast.admin.user).post(reverse("practitioners:review_break_glass", args=[window.pk]), {
        "outcome": "not_justified", "comment": "No police report exists: referred to their manager"})
    assert response.status_code == 302
    assert client.get(cast.child.get_absolute_url()).status_code == 403  # the very next request
    window.refresh_from_db()
    assert window.revoked_at is not None and window.revoked_by == cast.admin.user
    claim = Claim.objects.get()
    assert claim.status == "ended" and claim.involvement.ended_on is not None
    review = AccessEvent.objects.get(action="break_glass.review")
    assert review.details["window_closed"] is True and review.details["claims_ended"] == 1
    assert AccessEvent.objects.filter(action="claim.end", child_ref=cast.child.reference).count() == 1


def test_a_justified_review_leaves_the_window_open(world):
    cast, visitor = world
    client = signed_in(visitor.user)
    client.post(reverse("practitioners:break_glass", kwargs={"reference": cast.child.reference}),
                {"reason": REASON, "confirm": "on"})
    window = AccessGrant.objects.get(source="break_glass")
    signed_in(cast.admin.user).post(reverse("practitioners:review_break_glass", args=[window.pk]),
                                    {"outcome": "justified", "comment": ""})
    assert client.get(cast.child.get_absolute_url()).status_code == 200


def test_ending_a_claim_from_the_console_ends_its_involvement_and_claimed_grant(world):
    cast, visitor = world
    involvement = factories.InvolvementFactory(child=cast.child, organisation=visitor.organisation, external_id="")
    claim = services.record_claims(involvements=[involvement], route=Claim.Route.UPLOAD,
                                   context=RequestContext.system("t"), claimed_by=visitor.user, reason="CSV upload 1")[0]
    client = signed_in(visitor.user)
    assert client.get(cast.child.get_absolute_url()).status_code == 200  # the claimed grant
    url = reverse("practitioners:decide_claim", args=[claim.pk])
    assert signed_in(cast.other_admin.user).post(url, {"decision": "end", "reason": "x"}).status_code == 403
    response = signed_in(cast.admin.user).post(url, {"decision": "end", "reason": "Not on the school's roll"})
    assert response.status_code == 302
    claim.refresh_from_db()
    assert claim.status == "ended" and claim.decision_reason == "Not on the school's roll"
    assert client.get(cast.child.get_absolute_url()).status_code == 403


def test_nobody_confirms_their_own_claim(world):
    cast, _ = world
    admin = cast.admin.user
    involvement = factories.InvolvementFactory(child=cast.child, organisation=cast.organisation, external_id="")
    claim = services.record_claims(involvements=[involvement], route=Claim.Route.UPLOAD,
                                   context=RequestContext.system("t"), claimed_by=admin, reason="CSV upload 1")[0]
    response = signed_in(admin).post(reverse("practitioners:decide_claim", args=[claim.pk]), {"decision": "confirm"})
    assert response.status_code == 400 and "Another LA admin must confirm" in response.content.decode()
    claim.refresh_from_db()
    assert claim.status == "open"


NEW_CONSOLE_PAGES = [
    ("practitioners:claims", None), ("practitioners:decide_claim", "claim"), ("practitioners:grants", None),
    ("practitioners:end_grant", "grant"), ("practitioners:data_manager", "practitioner"),
]


@pytest.mark.parametrize("name, key", NEW_CONSOLE_PAGES)
@pytest.mark.parametrize("who", ["practitioner", "auditor", "password_only_admin"])
def test_the_new_console_pages_refuse_everyone_but_a_verified_la_admin(world, name, key, who):
    cast, visitor = world
    involvement = factories.InvolvementFactory(child=cast.child, organisation=visitor.organisation, external_id="")
    objects = {
        "claim": services.record_claims(involvements=[involvement], route=Claim.Route.FORM,
                                        context=RequestContext.system("t"), claimed_by=visitor.user,
                                        reason="Recorded with the add-involvement form")[0],
        "grant": personal_grant(visitor, cast.child),
        "practitioner": cast.practitioner,
    }
    url = reverse(name, args=[objects[key].pk]) if key else reverse(name)
    if who == "password_only_admin":
        from django_otp.plugins.otp_totp.models import TOTPDevice

        TOTPDevice.objects.create(user=cast.admin.user, name="phone", confirmed=True)
        client = Client()
        client.force_login(cast.admin.user)  # has an authenticator, but this session skipped the code
    else:
        client = signed_in(cast.practitioner.user if who == "practitioner" else cast.auditor)
    assert client.get(url).status_code == 403
    response = client.post(url, {"decision": "end", "reason": "x", "data_manager": "yes"})
    assert response.status_code == 403
    assert Claim.objects.get().status == "open"
    assert AccessGrant.objects.get(source="access_request").revoked_at is None
    cast.practitioner.refresh_from_db()
    assert not cast.practitioner.data_manager


def test_ending_a_claimed_grant_ends_its_claim_and_involvement(world):
    cast, visitor = world
    involvement = factories.InvolvementFactory(child=cast.child, organisation=visitor.organisation, external_id="")
    claim = services.record_claims(involvements=[involvement], route=Claim.Route.UPLOAD,
                                   context=RequestContext.system("t"), claimed_by=visitor.user, reason="CSV upload 1")[0]
    client = signed_in(visitor.user)
    assert client.get(cast.child.get_absolute_url()).status_code == 200
    assert end(cast.admin.user, claim.grant, reason="Not on the school's roll").status_code == 302
    assert client.get(cast.child.get_absolute_url()).status_code == 403
    claim.refresh_from_db()
    assert claim.status == "ended" and claim.involvement.ended_on is not None
    assert AccessEvent.objects.get(action="grant.end").details["claims_ended"] == 1
