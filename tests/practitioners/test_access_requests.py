"""A practitioner without a grant asks for access; an admin of the child's LA approves with an
expiry or refuses with a reason; the practitioner sees the outcome; the grant ends on its date."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from audit.context import RequestContext
from audit.models import AccessEvent
from practitioners import permissions, services
from practitioners.models import AccessRequest

pytestmark = pytest.mark.django_db


def request_url(child):
    return reverse("practitioners:request_access", kwargs={"reference": child.reference})


def ask(cast, reason="Allocated for a child and family assessment"):
    _verified(cast.practitioner.user)
    return services.request_access(practitioner=cast.practitioner, child=cast.child, reason=reason,
                                   context=RequestContext(user=cast.practitioner.user))


def test_a_practitioner_without_a_grant_asks_for_access_and_sees_it_waiting(as_user, cast):
    client = as_user(cast.practitioner.user)
    form = client.get(request_url(cast.child))
    assert form.status_code == 200
    page = form.content.decode()
    assert cast.child.reference in page and cast.la.name in page
    assert cast.child.family_name not in page and cast.child.postcode not in page  # nothing of the record
    response = client.post(request_url(cast.child), {"reason": "Allocated for a child and family assessment"})
    assert response.status_code == 302 and response["Location"] == reverse("practitioners:my_requests")
    access_request = AccessRequest.objects.get()
    assert access_request.status == AccessRequest.Status.OPEN
    event = AccessEvent.objects.get(action="access_request.create")
    assert event.child_ref == cast.child.reference and event.actor_id == cast.practitioner.user.pk
    listing = client.get(reverse("practitioners:my_requests")).content.decode()
    assert "Waiting for a decision" in listing and cast.child.reference in listing


def test_a_too_short_reason_is_an_error_on_the_form(as_user, cast):
    response = as_user(cast.practitioner.user).post(request_url(cast.child), {"reason": "pls"})
    assert response.status_code == 200
    assert "at least 10 characters" in response.content.decode()
    assert not AccessRequest.objects.exists()


def test_a_second_request_while_one_is_waiting_is_refused(as_user, cast):
    ask(cast)
    with pytest.raises(ValidationError):
        ask(cast)
    page = as_user(cast.practitioner.user).get(request_url(cast.child)).content.decode()
    assert "waiting for a decision" in page
    assert AccessRequest.objects.count() == 1


def test_an_unknown_reference_is_not_found(as_user, cast):
    response = as_user(cast.practitioner.user).get(
        reverse("practitioners:request_access", kwargs={"reference": "C-AAAAA-AAAAA"}))
    assert response.status_code == 404


def test_the_las_admin_sees_the_queue_and_approves_with_an_expiry(as_user, cast):
    access_request = ask(cast)
    client = as_user(cast.admin.user)
    queue = client.get(reverse("practitioners:access_requests")).content.decode()
    assert cast.child.reference in queue and "child and family assessment" in queue
    ends = timezone.localdate() + timedelta(days=14)
    response = client.post(reverse("practitioners:decide_access_request", kwargs={"pk": access_request.pk}), {
        "decision": "approve", "expires_on_0": ends.day, "expires_on_1": ends.month, "expires_on_2": ends.year})
    assert response.status_code == 302
    access_request.refresh_from_db()
    assert access_request.status == AccessRequest.Status.APPROVED and access_request.decided_by == cast.admin.user
    grant = access_request.grant
    assert grant.granted_by == cast.admin.user and grant.reason == access_request.reason
    assert timezone.localtime(grant.expires_at).date() == ends
    assert AccessEvent.objects.filter(action="access_request.approve", child_ref=cast.child.reference).exists()
    assert AccessEvent.objects.filter(action="grant.access_request", child_ref=cast.child.reference).exists()
    # the practitioner can open the record now, and sees the outcome
    practitioner_client = as_user(cast.practitioner.user)
    assert permissions.may_open_child(cast.practitioner, cast.child)
    mine = practitioner_client.get(reverse("practitioners:my_requests")).content.decode()
    assert "Approved" in mine and cast.child.get_absolute_url() in mine
    record = practitioner_client.get(cast.child.get_absolute_url())
    assert record.status_code == 200 and f"Child record {cast.child.reference}" in record.content.decode()


def test_an_approved_grant_is_refused_again_once_it_expires(cast):
    access_request = ask(cast)
    now = timezone.now()
    services.approve_access_request(access_request=access_request, expires_at=now + timedelta(days=2),
                                    context=RequestContext(user=cast.admin.user), now=now)
    assert permissions.may_open_child(cast.practitioner, cast.child, now=now + timedelta(days=1))
    assert not permissions.may_open_child(cast.practitioner, cast.child, now=now + timedelta(days=3))


def _verified(user):
    """These checks are about grants: mark the user as having passed the second factor, as the session would."""
    user.is_verified = lambda: True
    return True


def test_access_can_be_given_up_to_the_last_allowed_day(as_user, cast, settings):
    access_request = ask(cast)
    ends = timezone.localdate() + settings.ACCESS_GRANT_MAX_DURATION
    response = as_user(cast.admin.user).post(
        reverse("practitioners:decide_access_request", kwargs={"pk": access_request.pk}),
        {"decision": "approve", "expires_on_0": ends.day, "expires_on_1": ends.month, "expires_on_2": ends.year})
    assert response.status_code == 302
    access_request.refresh_from_db()
    assert timezone.localtime(access_request.grant.expires_at).date() == ends


@pytest.mark.parametrize("days, message", [(0, "must end in the future"), (200, "at most 90 days")])
def test_the_expiry_must_be_in_the_future_and_within_the_limit(as_user, cast, days, message):
    access_request = ask(cast)
    ends = timezone.localdate() + timedelta(days=days) - (timedelta(days=1) if days == 0 else timedelta(0))
    response = as_user(cast.admin.user).post(
        reverse("practitioners:decide_access_request", kwargs={"pk": access_request.pk}),
        {"decision": "approve", "expires_on_0": ends.day, "expires_on_1": ends.month, "expires_on_2": ends.year})
    assert response.status_code == 200
    assert message in response.content.decode()
    access_request.refresh_from_db()
    assert access_request.status == AccessRequest.Status.OPEN


def test_refusing_needs_a_reason_which_the_practitioner_then_sees(as_user, cast):
    access_request = ask(cast)
    client = as_user(cast.admin.user)
    url = reverse("practitioners:decide_access_request", kwargs={"pk": access_request.pk})
    missing = client.post(url, {"decision": "refuse", "refusal_reason": " "})
    assert "Enter the reason for refusing" in missing.content.decode()
    client.post(url, {"decision": "refuse", "refusal_reason": "Case is closed to our service"})
    access_request.refresh_from_db()
    assert access_request.status == AccessRequest.Status.REFUSED
    assert AccessEvent.objects.filter(action="access_request.refuse", reason="Case is closed to our service").exists()
    assert not permissions.children_visible_to(cast.practitioner).exists()
    mine = as_user(cast.practitioner.user).get(reverse("practitioners:my_requests")).content.decode()
    assert "Refused" in mine and "Case is closed to our service" in mine


def test_a_decided_request_cannot_be_decided_again(cast):
    access_request = ask(cast)
    admin = RequestContext(user=cast.admin.user)
    services.refuse_access_request(access_request=access_request, reason="No", context=admin)
    with pytest.raises(ValidationError):
        services.approve_access_request(access_request=access_request, expires_at=timezone.now() + timedelta(days=1),
                                        context=admin)


def test_the_childs_current_la_decides_not_the_practitioners(as_user, cast):
    """A practitioner of the other LA asks about a child of ``cast.la``: only ``cast.la``'s admin sees it."""
    from tests import factories

    outsider = factories.PractitionerFactory(organisation=factories.OrganisationFactory(local_authority=cast.other_la))
    _verified(outsider.user)
    access_request = services.request_access(practitioner=outsider, child=cast.child, reason="Moved into our area",
                                             context=RequestContext(user=outsider.user))
    own_admin = as_user(cast.admin.user).get(reverse("practitioners:access_requests")).content.decode()
    assert cast.child.reference in own_admin
    other = as_user(cast.other_admin.user)
    assert cast.child.reference not in other.get(reverse("practitioners:access_requests")).content.decode()
    url = reverse("practitioners:decide_access_request", kwargs={"pk": access_request.pk})
    assert other.get(url).status_code == 403


def test_a_practitioner_who_already_has_access_is_sent_to_the_record(as_user, cast):
    access_request = ask(cast)
    services.approve_access_request(access_request=access_request, expires_at=timezone.now() + timedelta(days=2),
                                    context=RequestContext(user=cast.admin.user))
    client = as_user(cast.practitioner.user)
    response = client.get(request_url(cast.child))
    assert response.status_code == 302 and response["Location"] == cast.child.get_absolute_url()
    assert client.get(response["Location"]).status_code == 200
