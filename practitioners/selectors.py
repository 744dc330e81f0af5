"""Reads for the practitioner and LA admin pages. Nothing here writes; lists filter in SQL."""

from django.db.models import Count, Q, QuerySet

from practitioners import permissions
from practitioners.models import AccessGrant, AccessRequest, Practitioner


def practitioners_administered_by(user, *, status: str = "") -> QuerySet[Practitioner]:
    """Practitioners of the local authorities ``user`` administers, optionally of one status."""
    rows = Practitioner.objects.filter(
        organisation__local_authority__in=permissions.administered_authorities(user)
    ).select_related("user", "organisation__local_authority")
    return rows.filter(status=status) if status else rows


def open_access_requests_for(user) -> QuerySet[AccessRequest]:
    """Open requests for children whose current local authority ``user`` administers, oldest first."""
    return AccessRequest.objects.filter(
        status=AccessRequest.Status.OPEN, child__local_authority__in=permissions.administered_authorities(user),
    ).select_related("practitioner__user", "practitioner__organisation", "child__local_authority").order_by(
        "requested_at")


def break_glass_uses_for(user, *, awaiting_review: bool) -> QuerySet[AccessGrant]:
    """Break-glass uses on children of the local authorities ``user`` administers."""
    rows = AccessGrant.objects.break_glass().filter(
        child__local_authority__in=permissions.administered_authorities(user)
    ).select_related("practitioner__user", "practitioner__organisation", "child", "reviewed_by")
    if awaiting_review:
        return rows.filter(reviewed_at__isnull=True).order_by("granted_at")
    return rows.filter(reviewed_at__isnull=False).order_by("-reviewed_at")


def console_summary(user) -> dict:
    """What waits for this LA admin: counts for the console's front page."""
    authorities = permissions.administered_authorities(user)
    counts = Practitioner.objects.filter(organisation__local_authority__in=authorities).aggregate(
        pending=Count("pk", filter=Q(status=Practitioner.Status.PENDING)),
        active=Count("pk", filter=Q(status=Practitioner.Status.ACTIVE)),
        suspended=Count("pk", filter=Q(status=Practitioner.Status.SUSPENDED)),
        expired=Count("pk", filter=Q(status=Practitioner.Status.EXPIRED)),
    )
    return {
        "authorities": list(authorities),
        "practitioners": counts,
        "open_requests": open_access_requests_for(user).count(),
        "break_glass_to_review": break_glass_uses_for(user, awaiting_review=True).count(),
    }


def access_requests_of(practitioner: Practitioner) -> QuerySet[AccessRequest]:
    return practitioner.access_requests.select_related("child", "grant", "child__local_authority").order_by(
        "-requested_at")


def open_request_for(practitioner: Practitioner, child) -> AccessRequest | None:
    return AccessRequest.objects.filter(practitioner=practitioner, child=child, status=AccessRequest.Status.OPEN).first()


def live_sessions_of(user) -> list:
    """The user's sessions that can still be used (within the idle timeout and the absolute
    lifetime), newest first. Sessions are Django's database sessions (SESSION_ENGINE's default)."""
    from django.conf import settings
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    from practitioners.models import UserSession

    now = timezone.now()
    live_keys = Session.objects.filter(expire_date__gt=now).values("session_key")
    return list(UserSession.objects.filter(user=user, session_key__in=live_keys,
                                           started_at__gt=now - settings.SESSION_ABSOLUTE_LIFETIME)
                .order_by("-last_seen_at", "-pk"))
