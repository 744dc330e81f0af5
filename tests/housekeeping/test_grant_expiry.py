"""Grants and break-glass windows are revoked at expiry; the checks refuse them before that."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from guardian.shortcuts import get_perms

from audit.context import RequestContext
from audit.models import AccessEvent
from practitioners import expiry, permissions
from practitioners import services as grants
from practitioners.models import AccessGrant
from tests import factories

pytestmark = pytest.mark.django_db
NOW = timezone.now()


@pytest.fixture
def verified(monkeypatch):
    monkeypatch.setattr(User, "is_verified", lambda self: True, raising=False)


def grant(source, expires_at, practitioner=None, child=None):
    return grants.grant_access(
        practitioner=practitioner or factories.PractitionerFactory(), child=child or factories.ChildFactory(),
        source=source, reason="Child protection enquiry", expires_at=expires_at, context=RequestContext.system("test"),
    )


def test_an_expired_grant_is_refused_before_the_job_runs_and_revoked_when_it_does(verified):
    expired = grant(AccessGrant.Source.ACCESS_REQUEST, NOW - timedelta(minutes=1))
    assert not permissions.may_open_child(expired.practitioner, expired.child, now=NOW)
    assert "view_child" in get_perms(expired.practitioner.user, expired.child)  # the job has not run yet

    result = expiry.revoke_expired_grants(now=NOW)

    expired.refresh_from_db()
    assert expired.revoked_at == NOW and result.counts["revoked"] == 1
    assert "view_child" not in get_perms(expired.practitioner.user, expired.child)
    event = AccessEvent.objects.get(action="grant.revoke", details__grant_id=expired.pk)
    assert event.reason == "Grant expired" and event.child_ref == expired.child.reference


def test_a_break_glass_window_that_ended_is_revoked_and_one_still_open_is_not():
    ended = grant(AccessGrant.Source.BREAK_GLASS, NOW - timedelta(seconds=1))
    open_window = grant(AccessGrant.Source.BREAK_GLASS, NOW + timedelta(hours=23))
    result = expiry.revoke_expired_grants(now=NOW)
    assert result.counts == {"revoked": 1, "revoked_break_glass": 1}
    assert AccessGrant.objects.get(pk=ended.pk).revoked_at is not None
    assert AccessGrant.objects.get(pk=open_window.pk).revoked_at is None
    assert AccessEvent.objects.get(action="grant.revoke").reason == "Break-glass window ended"


def test_the_permission_stays_while_another_live_grant_for_the_same_child_remains(verified):
    practitioner, child = factories.PractitionerFactory(), factories.ChildFactory()
    grant(AccessGrant.Source.BREAK_GLASS, NOW - timedelta(hours=1), practitioner, child)
    grant(AccessGrant.Source.ACCESS_REQUEST, NOW + timedelta(days=30), practitioner, child)
    expiry.revoke_expired_grants(now=NOW)
    assert permissions.may_open_child(practitioner, child, now=NOW)


def test_running_twice_revokes_once():
    grant(AccessGrant.Source.ACCESS_REQUEST, NOW - timedelta(minutes=1))
    assert expiry.revoke_expired_grants(now=NOW).counts["revoked"] == 1
    assert expiry.revoke_expired_grants(now=NOW).counts["revoked"] == 0
    assert AccessEvent.objects.filter(action="grant.revoke").count() == 1
