"""Grants: a practitioner opens a child's record only while a live grant and its guardian permission exist."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from audit.context import RequestContext
from audit.models import AccessEvent
from practitioners import permissions, services
from practitioners.models import AccessGrant
from tests import factories

pytestmark = pytest.mark.django_db
SYSTEM = RequestContext.system("test")


@pytest.fixture
def verified(monkeypatch):
    """These tests are about grants, not the second factor: treat users as OTP-verified."""
    from django.contrib.auth.models import User

    monkeypatch.setattr(User, "is_verified", lambda self: True, raising=False)


def test_an_open_involvement_grants_every_active_practitioner_of_that_organisation(verified):
    involvement = factories.InvolvementFactory()
    colleague = factories.PractitionerFactory(organisation=involvement.organisation)
    outsider = factories.PractitionerFactory()
    assert services.sync_involvement_grants(involvement=involvement, context=SYSTEM) == 1
    assert permissions.may_open_child(colleague, involvement.child)
    assert not permissions.may_open_child(outsider, involvement.child)
    assert AccessEvent.objects.filter(action="grant.involvement", child_ref=involvement.child.reference).count() == 1


def test_ending_the_involvement_revokes_the_grant_and_running_twice_changes_nothing(verified):
    involvement = factories.InvolvementFactory()
    colleague = factories.PractitionerFactory(organisation=involvement.organisation)
    services.sync_involvement_grants(involvement=involvement, context=SYSTEM)
    assert services.sync_involvement_grants(involvement=involvement, context=SYSTEM) == 0
    involvement.ended_on = date.today()
    involvement.save()
    assert services.sync_involvement_grants(involvement=involvement, context=SYSTEM) == 1
    assert services.sync_involvement_grants(involvement=involvement, context=SYSTEM) == 0
    assert not permissions.may_open_child(colleague, involvement.child)


def test_an_expired_grant_is_refused_even_before_any_job_revokes_it(verified):
    practitioner = factories.PractitionerFactory()
    child = factories.ChildFactory()
    now = timezone.now()
    services.grant_access(practitioner=practitioner, child=child, source=AccessGrant.Source.ACCESS_REQUEST,
                          reason="Child protection enquiry", expires_at=now + timedelta(hours=1), context=SYSTEM)
    assert permissions.may_open_child(practitioner, child, now=now)
    assert not permissions.may_open_child(practitioner, child, now=now + timedelta(hours=2))


def test_a_superuser_or_model_wide_permission_sees_no_child_without_a_grant(verified):
    from django.contrib.auth.models import Permission

    practitioner = factories.PractitionerFactory()
    practitioner.user.is_superuser = True
    practitioner.user.save()
    practitioner.user.user_permissions.add(Permission.objects.get(codename="view_child"))
    factories.ChildFactory()
    assert not permissions.children_visible_to(practitioner).exists()


def test_without_a_verified_second_factor_nobody_sees_any_child():
    involvement = factories.InvolvementFactory()
    colleague = factories.PractitionerFactory(organisation=involvement.organisation)
    services.sync_involvement_grants(involvement=involvement, context=SYSTEM)
    assert not permissions.may_open_child(colleague, involvement.child)
