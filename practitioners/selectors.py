"""Reads for the practitioner and LA admin pages. Nothing here writes; lists filter in SQL."""

from django.db.models import Count, Q, QuerySet

from practitioners import permissions
from practitioners.models import AccessGrant, AccessRequest, Claim, Practitioner


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
        "claims_waiting": claims_for(user, waiting=True).count(),
    }


def access_requests_of(practitioner: Practitioner) -> QuerySet[AccessRequest]:
    return practitioner.access_requests.select_related("child", "grant", "child__local_authority").order_by(
        "-requested_at")


def open_request_for(practitioner: Practitioner, child) -> AccessRequest | None:
    return AccessRequest.objects.filter(practitioner=practitioner, child=child, status=AccessRequest.Status.OPEN).first()


def claims_for(user, *, waiting: bool) -> QuerySet[Claim]:
    """Claimed relationships on children of the local authorities ``user`` administers: those waiting
    for confirmation (oldest first), or those decided (newest first)."""
    rows = Claim.objects.for_children_of(permissions.administered_authorities(user)).select_related(
        "involvement__child", "involvement__organisation__local_authority", "involvement__service", "claimed_by",
        "decided_by")
    if waiting:
        return rows.open().order_by("claimed_at", "pk")
    return rows.exclude(status=Claim.Status.OPEN).order_by("-decided_at", "-pk")


def live_grants_for(user) -> QuerySet[AccessGrant]:
    """Live personal, claimed and break-glass grants on children of ``user``'s areas or held by their
    practitioners: what an LA admin may end (``services.end_grant``)."""
    authorities = permissions.administered_authorities(user)
    return AccessGrant.objects.live().filter(
        Q(child__local_authority__in=authorities) | Q(practitioner__organisation__local_authority__in=authorities)
    ).select_related("practitioner__user", "practitioner__organisation", "child").order_by("expires_at", "pk")
