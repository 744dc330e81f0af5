"""Practitioner lifecycle: pending -> active (vetting and training current) -> suspended | expired,
each transition recorded (who, when, why), audited, and shown on the practitioner's page."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from audit.context import RequestContext
from audit.models import AccessEvent
from practitioners import expiry, permissions, services
from practitioners.services import involvement_access_pairs
from practitioners.models import AccessGrant, Practitioner
from tests import factories

pytestmark = pytest.mark.django_db


def dates(**overrides):
    today = timezone.localdate()
    values = {"vetting_checked_on": today - timedelta(days=10), "vetting_expires_on": today + timedelta(days=365 * 3),
              "training_completed_on": today - timedelta(days=20)}
    values.update(overrides)
    return values


def date_post(**values):
    """A form POST for GOV.UK date inputs: each date as day, month and year fields."""
    data = {}
    for name, value in values.items():
        if hasattr(value, "day"):
            data.update({f"{name}_0": value.day, f"{name}_1": value.month, f"{name}_2": value.year})
        else:
            data[name] = value
    return data


def admin_context(cast):
    return RequestContext(user=cast.admin.user)


def test_the_la_admin_approves_a_pending_practitioner_through_the_console(as_user, cast):
    client = as_user(cast.admin.user)
    response = client.post(reverse("practitioners:approve", kwargs={"pk": cast.pending.pk}),
                           date_post(**dates(), note="DBS seen by HR"))
    assert response.status_code == 302
    cast.pending.refresh_from_db()
    assert cast.pending.status == Practitioner.Status.ACTIVE
    assert cast.pending.approved_by == cast.admin.user and cast.pending.approved_at is not None
    change = cast.pending.status_changes.first()
    assert (change.from_status, change.to_status, change.changed_by) == ("pending", "active", cast.admin.user)
    event = AccessEvent.objects.get(action="practitioner.approve")
    assert event.actor_id == cast.admin.user.pk and event.details["practitioner_id"] == cast.pending.pk
    page = client.get(reverse("practitioners:practitioner_detail", kwargs={"pk": cast.pending.pk})).content.decode()
    assert "DBS seen by HR" in page and "Pending approval → Active" in page


@pytest.mark.parametrize("field, value, message", [
    ("vetting_expires_on", timezone.localdate() - timedelta(days=1), "vetting check has expired"),
    ("training_completed_on", timezone.localdate() - timedelta(days=4000), "training is out of date"),
    ("vetting_checked_on", timezone.localdate() + timedelta(days=3), "today or in the past"),
])
def test_approval_needs_current_vetting_and_training_and_says_which_date_is_wrong(
        as_user, cast, field, value, message):
    response = as_user(cast.admin.user).post(reverse("practitioners:approve", kwargs={"pk": cast.pending.pk}),
                                             date_post(**dates(**{field: value})))
    assert response.status_code == 200
    body = response.content.decode()
    assert "There is a problem" in body and message in body and f'href="#id_{field}_0"' in body
    cast.pending.refresh_from_db()
    assert cast.pending.status == Practitioner.Status.PENDING
    assert not AccessEvent.objects.filter(action="practitioner.approve").exists()


def test_a_date_that_does_not_exist_is_an_error_on_the_form_not_a_crash(as_user, cast):
    data = date_post(**dates())
    data.update({"vetting_expires_on_0": "31", "vetting_expires_on_1": "2"})
    response = as_user(cast.admin.user).post(reverse("practitioners:approve", kwargs={"pk": cast.pending.pk}), data)
    assert response.status_code == 200
    assert "must be a real date" in response.content.decode()


def test_once_approved_a_practitioner_opens_the_records_their_organisation_is_involved_with(cast):
    involvement = factories.InvolvementFactory(organisation=cast.organisation)
    ended = factories.InvolvementFactory(organisation=cast.organisation, ended_on=timezone.localdate())
    services.sync_organisation_access(opened=involvement_access_pairs([involvement, ended]), context=admin_context(cast))
    cast.pending.user.is_verified = lambda: True
    assert not permissions.may_open_child(cast.pending, involvement.child)
    services.approve_practitioner(practitioner=cast.pending, context=admin_context(cast), **dates())
    assert permissions.may_open_child(cast.pending, involvement.child)
    assert not permissions.may_open_child(cast.pending, ended.child)


def test_suspension_ends_every_session_and_api_token_and_revokes_every_grant(client, as_user, cast):
    practitioner = cast.practitioner
    grant = services.grant_access(practitioner=practitioner, child=cast.child, source=AccessGrant.Source.ACCESS_REQUEST,
                                  reason="Core group", expires_at=timezone.now() + timedelta(days=5),
                                  context=admin_context(cast))
    token = Token.objects.create(user=practitioner.user)
    from django.test import Client

    other_device = Client()
    other_device.force_login(practitioner.user)
    sessions_before = Session.objects.count()
    assert sessions_before >= 1

    services.suspend_practitioner(practitioner=practitioner, reason="Left the organisation",
                                  context=admin_context(cast))

    practitioner.refresh_from_db()
    assert practitioner.status == Practitioner.Status.SUSPENDED
    assert not Token.objects.filter(pk=token.pk).exists()
    grant.refresh_from_db()
    assert grant.revoked_at is not None
    assert not permissions.children_visible_to(practitioner).exists()
    response = other_device.get(reverse("practitioners:my_requests"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("two_factor:login"))
    event = AccessEvent.objects.get(action="practitioner.suspend")
    assert event.reason == "Left the organisation" and event.details["sessions_ended"] >= 1
    assert event.details["grants_revoked"] == 1


def test_a_suspended_practitioners_open_session_is_refused_on_its_next_request(as_user, cast):
    """Even a session suspension could not find (not recorded at login) ends on its next request."""
    client = as_user(cast.practitioner.user)
    assert client.get(reverse("practitioners:my_requests")).status_code == 200
    # Suspended by a bulk path that does not end sessions: the middleware must still refuse.
    Practitioner.objects.filter(pk=cast.practitioner.pk).update(status=Practitioner.Status.SUSPENDED)
    response = client.get(reverse("home"))
    assert response.status_code == 403
    assert b"suspended" in response.content
    assert AccessEvent.objects.filter(action="access.refused", details__why="barred", outcome="denied").exists()
    # and the session is gone: the next request is anonymous
    again = client.get(reverse("practitioners:my_requests"))
    assert again.status_code == 302 and again["Location"].startswith(reverse("two_factor:login"))


@pytest.mark.parametrize("status", [Practitioner.Status.SUSPENDED, Practitioner.Status.EXPIRED])
def test_a_barred_user_is_refused_everywhere_even_pages_of_another_role(as_user, cast, status):
    """A practitioner who is also an LA admin loses the console too while suspended or expired."""
    admin_user = cast.admin.user
    factories.PractitionerFactory(user=admin_user, organisation=cast.organisation, status=status)
    assert permissions.administered_authorities(admin_user).count() == 0
    response = as_user(admin_user).get(reverse("practitioners:console"))
    assert response.status_code == 403


def test_a_deactivated_account_is_refused_on_its_next_request(as_user, cast):
    client = as_user(cast.practitioner.user)
    type(cast.practitioner.user).objects.filter(pk=cast.practitioner.user.pk).update(is_active=False)
    response = client.get(reverse("practitioners:my_requests"))
    assert response.status_code == 302


def test_reinstating_needs_a_reason_and_current_dates_and_restores_the_organisations_access(as_user, cast):
    involvement = factories.InvolvementFactory(organisation=cast.organisation)
    services.sync_organisation_access(opened=involvement_access_pairs([involvement]), context=admin_context(cast))
    services.suspend_practitioner(practitioner=cast.practitioner, reason="Investigation", context=admin_context(cast))
    client = as_user(cast.admin.user)
    url = reverse("practitioners:reinstate", kwargs={"pk": cast.practitioner.pk})
    missing = client.post(url, {"reason": ""})
    assert missing.status_code == 200 and "Enter the reason for reinstating" in missing.content.decode()
    response = client.post(url, {"reason": "Investigation closed"})
    assert response.status_code == 302
    cast.practitioner.refresh_from_db()
    assert cast.practitioner.status == Practitioner.Status.ACTIVE
    cast.practitioner.user.is_verified = lambda: True
    assert permissions.may_open_child(cast.practitioner, involvement.child)
    history = [(c.from_status, c.to_status, c.reason) for c in cast.practitioner.status_changes.all()]
    assert history[:2] == [("suspended", "active", "Investigation closed"), ("active", "suspended", "Investigation")]
    assert AccessEvent.objects.filter(action="practitioner.reinstate", reason="Investigation closed").exists()


def test_reinstating_with_lapsed_training_is_refused_until_new_dates_are_given(cast):
    cast.practitioner.training_completed_on = timezone.localdate() - timedelta(days=4000)
    cast.practitioner.save()
    expiry.expire_lapsed_practitioners(today=timezone.localdate())
    cast.practitioner.refresh_from_db()
    assert cast.practitioner.status == Practitioner.Status.EXPIRED
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.reinstate_practitioner(practitioner=cast.practitioner, reason="Renewed", context=admin_context(cast))
    services.reinstate_practitioner(practitioner=cast.practitioner, reason="Renewed", context=admin_context(cast),
                                    training_completed_on=timezone.localdate())
    cast.practitioner.refresh_from_db()
    assert cast.practitioner.status == Practitioner.Status.ACTIVE


def test_lapsed_practitioners_expire_once_and_lose_access(cast):
    involvement = factories.InvolvementFactory(organisation=cast.organisation)
    services.sync_organisation_access(opened=involvement_access_pairs([involvement]), context=admin_context(cast))
    cast.practitioner.vetting_expires_on = timezone.localdate() - timedelta(days=1)
    cast.practitioner.save()
    assert expiry.expire_lapsed_practitioners(today=timezone.localdate()).counts["expired"] == 1
    assert expiry.expire_lapsed_practitioners(today=timezone.localdate()).counts["expired"] == 0
    cast.practitioner.refresh_from_db()
    assert cast.practitioner.status == Practitioner.Status.EXPIRED
    cast.practitioner.user.is_verified = lambda: True
    assert not permissions.may_open_child(cast.practitioner, involvement.child)
    change = cast.practitioner.status_changes.first()
    assert change.changed_by is None and change.to_status == "expired"
    assert AccessEvent.objects.filter(action="practitioner.expire").count() == 1


def test_recording_renewed_dates_is_audited_and_shown(as_user, cast):
    client = as_user(cast.admin.user)
    renewed = timezone.localdate() + timedelta(days=1000)
    response = client.post(reverse("practitioners:vetting", kwargs={"pk": cast.practitioner.pk}),
                           date_post(**dates(vetting_expires_on=renewed)))
    assert response.status_code == 302
    cast.practitioner.refresh_from_db()
    assert cast.practitioner.vetting_expires_on == renewed
    assert AccessEvent.objects.filter(action="practitioner.credentials").exists()


def test_the_practitioner_list_filters_by_status(as_user, cast):
    client = as_user(cast.admin.user)
    pending_only = client.get(reverse("practitioners:practitioner_list"), {"status": "pending"}).content.decode()
    assert cast.pending.user.username in pending_only or cast.pending.user.get_full_name() in pending_only
    assert f'/console/practitioners/{cast.practitioner.pk}/"' not in pending_only
    everyone = client.get(reverse("practitioners:practitioner_list")).content.decode()
    assert f'/console/practitioners/{cast.practitioner.pk}/"' in everyone


def test_an_admin_cannot_approve_an_account_twice(cast):
    from django.core.exceptions import ValidationError

    services.approve_practitioner(practitioner=cast.pending, context=admin_context(cast), **dates())
    with pytest.raises(ValidationError):
        services.approve_practitioner(practitioner=cast.pending, context=admin_context(cast), **dates())


def test_other_las_admin_cannot_approve_through_the_service(cast):
    with pytest.raises(PermissionDenied):
        services.approve_practitioner(practitioner=cast.pending, context=RequestContext(user=cast.other_admin.user),
                                      **dates())


def test_the_practitioners_page_shows_their_organisations_reach_and_their_own_grants(as_user, cast):
    involvement = factories.InvolvementFactory(organisation=cast.organisation)
    services.sync_organisation_access(opened=involvement_access_pairs([involvement]), context=admin_context(cast))
    services.grant_access(practitioner=cast.practitioner, child=cast.child, source=AccessGrant.Source.ACCESS_REQUEST,
                          reason="Core group", expires_at=timezone.now() + timedelta(days=5),
                          context=admin_context(cast))
    page = as_user(cast.admin.user).get(
        reverse("practitioners:practitioner_detail", kwargs={"pk": cast.practitioner.pk})).content.decode()
    assert f"the 1 child {cast.organisation.name} is working with" in page
    assert f"{cast.child.reference}: Access request approved, until" in page
