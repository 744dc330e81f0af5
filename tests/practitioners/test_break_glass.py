"""Break-glass: a vetted practitioner opens a record without a grant by typing a reason; it lasts
a limited window, is flagged for auditors and the child's LA admins, and is reviewed."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from audit.context import RequestContext
from audit.models import AccessEvent
from practitioners import expiry, permissions, services
from practitioners.models import AccessGrant

pytestmark = pytest.mark.django_db

REASON = "Police report the child missing overnight; need the allocated social worker"


def glass_url(child):
    return reverse("practitioners:break_glass", kwargs={"reference": child.reference})


def test_break_glass_needs_a_reason_and_a_confirmation(as_user, cast):
    client = as_user(cast.practitioner.user)
    response = client.post(glass_url(cast.child), {"reason": "urgent"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "at least 20 characters" in body and "Confirm that you understand" in body
    assert not AccessGrant.objects.exists()


def test_break_glass_opens_the_record_for_the_window_and_is_flagged(as_user, cast, settings):
    client = as_user(cast.practitioner.user)
    before = timezone.now()
    response = client.post(glass_url(cast.child), {"reason": REASON, "confirm": "on"})
    assert response.status_code == 302
    assert response["Location"] == cast.child.get_absolute_url()
    record = client.get(response["Location"])
    assert record.status_code == 200 and f"Child record {cast.child.reference}" in record.content.decode()
    grant = AccessGrant.objects.get()
    assert grant.source == AccessGrant.Source.BREAK_GLASS and grant.reason == REASON
    assert grant.granted_by == cast.practitioner.user
    assert before + settings.BREAK_GLASS_WINDOW <= grant.expires_at <= timezone.now() + settings.BREAK_GLASS_WINDOW
    event = AccessEvent.objects.get(action="grant.break_glass")
    assert event.child_ref == cast.child.reference and event.reason == REASON
    assert event.actor_id == cast.practitioner.user.pk
    assert AccessGrant.objects.awaiting_review().filter(pk=grant.pk).exists()


def test_after_the_window_the_record_is_refused_again(cast):
    cast.practitioner.user.is_verified = lambda: True
    now = timezone.now()
    services.break_glass(practitioner=cast.practitioner, child=cast.child, reason=REASON,
                         context=RequestContext(user=cast.practitioner.user), now=now)
    assert permissions.may_open_child(cast.practitioner, cast.child, now=now + timedelta(hours=23))
    assert not permissions.may_open_child(cast.practitioner, cast.child, now=now + timedelta(hours=25))


def test_a_pending_practitioner_cannot_break_glass(cast):
    cast.pending.user.is_verified = lambda: True
    with pytest.raises(permissions.NotVetted):
        services.break_glass(practitioner=cast.pending, child=cast.child, reason=REASON,
                             context=RequestContext(user=cast.pending.user))


def test_without_a_verified_second_factor_break_glass_is_refused(cast):
    with pytest.raises(permissions.NotVetted):
        services.break_glass(practitioner=cast.practitioner, child=cast.child, reason=REASON,
                             context=RequestContext(user=cast.practitioner.user))


def test_the_childs_la_admin_reviews_the_use(as_user, cast):
    grant = _glass(cast)
    client = as_user(cast.admin.user)
    queue = client.get(reverse("practitioners:break_glass_reviews")).content.decode()
    assert cast.child.reference in queue and REASON in queue
    url = reverse("practitioners:review_break_glass", kwargs={"pk": grant.pk})
    missing = client.post(url, {"outcome": "not_justified", "comment": ""})
    assert "Say what follow-up is needed" in missing.content.decode()
    response = client.post(url, {"outcome": "justified", "comment": "Confirmed with police"})
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.review_outcome == "justified" and grant.reviewed_by == cast.admin.user
    assert AccessEvent.objects.filter(action="break_glass.review", child_ref=cast.child.reference).exists()
    with pytest.raises(ValidationError):
        services.review_break_glass(grant=grant, outcome="justified", comment="",
                                    context=RequestContext(user=cast.admin.user))


def test_another_las_admin_cannot_see_or_review_the_use(as_user, cast):
    grant = _glass(cast)
    client = as_user(cast.other_admin.user)
    assert cast.child.reference not in client.get(reverse("practitioners:break_glass_reviews")).content.decode()
    response = client.post(reverse("practitioners:review_break_glass", kwargs={"pk": grant.pk}),
                           {"outcome": "justified"})
    assert response.status_code == 403
    grant.refresh_from_db()
    assert grant.reviewed_at is None


def test_a_practitioner_who_can_already_open_the_record_is_sent_straight_to_it(as_user, cast):
    _glass(cast)
    client = as_user(cast.practitioner.user)
    response = client.get(glass_url(cast.child))
    assert response.status_code == 302 and response["Location"] == cast.child.get_absolute_url()
    assert client.get(response["Location"]).status_code == 200


def _glass(cast) -> AccessGrant:
    cast.practitioner.user.is_verified = lambda: True
    return services.break_glass(practitioner=cast.practitioner, child=cast.child, reason=REASON,
                                context=RequestContext(user=cast.practitioner.user))


def test_the_record_pages_banner_shows_while_break_glass_lasts(cast):
    from django.template.loader import render_to_string

    grant = _glass(cast)
    live = permissions.live_grant_for(cast.practitioner, cast.child)
    banner = render_to_string("practitioners/partials/break_glass_banner.html", {"grant": live})
    assert live == grant and "Emergency access" in banner and REASON in banner
    later = permissions.live_grant_for(cast.practitioner, cast.child, now=grant.expires_at + timedelta(minutes=1))
    assert later is None
    assert "Emergency access" not in render_to_string("practitioners/partials/break_glass_banner.html",
                                                      {"grant": later})


def test_expired_windows_are_revoked_once_by_housekeeping(cast):
    grant = _glass(cast)
    assert expiry.revoke_expired_grants().counts["revoked"] == 0
    later = grant.expires_at + timedelta(minutes=1)
    assert expiry.revoke_expired_grants(now=later).counts["revoked"] == 1
    assert expiry.revoke_expired_grants(now=later).counts["revoked"] == 0
    grant.refresh_from_db()
    assert grant.revoked_at == later
    assert AccessEvent.objects.filter(action="grant.revoke", details__grant_id=grant.pk).count() == 1
