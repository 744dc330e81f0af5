"""Writes about access: each function checks, audits and writes in one transaction.

Grants are the pair (AccessGrant row, guardian ``view_child`` object permission):
``practitioners.permissions`` requires both, and the grant's expiry.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from audit import services as audit
from audit.context import RequestContext
from practitioners.models import AccessGrant, Practitioner

VIEW_CHILD_CODENAME = "view_child"
# An involvement grant lasts while the involvement is open; it is ended when the
# involvement ends. The far-future expiry keeps one "live" rule for every grant.
OPEN_ENDED = datetime(9999, 12, 31, tzinfo=timezone.get_fixed_timezone(0))


@transaction.atomic
def grant_access(
    *,
    practitioner: Practitioner,
    child,
    source: str,
    reason: str,
    expires_at,
    context: RequestContext,
    granted_by=None,
    involvement=None,
    audit_action: str | None = None,
) -> AccessGrant:
    """Create a grant and its guardian permission; audits ``grant.<source>``."""
    grant = AccessGrant.objects.create(
        practitioner=practitioner, child=child, source=source, reason=reason, expires_at=expires_at,
        granted_by=granted_by, involvement=involvement,
    )
    assign_perm(VIEW_CHILD_CODENAME, practitioner.user, child)
    audit.record_event(
        action=audit_action or f"grant.{source}", context=context, child=child, reason=reason,
        details={"grant_id": grant.pk, "practitioner_id": practitioner.pk, "expires_at": expires_at.isoformat()},
    )
    return grant


@transaction.atomic
def revoke_grant(*, grant: AccessGrant, context: RequestContext, reason: str, now=None) -> bool:
    """Revoke one grant (idempotent: False if it was already revoked). Audits ``grant.revoke``.

    The guardian permission goes only when no other live grant for the same child remains.
    """
    now = now or timezone.now()
    if not AccessGrant.objects.filter(pk=grant.pk, revoked_at__isnull=True).update(revoked_at=now):
        return False
    _drop_permission_unless_other_grants(grant.practitioner, grant.child, now=now)
    audit.record_event(
        action="grant.revoke", context=context, child=grant.child, reason=reason,
        details={"grant_id": grant.pk, "practitioner_id": grant.practitioner_id, "source": grant.source},
    )
    return True


def _drop_permission_unless_other_grants(practitioner, child, *, now):
    if not AccessGrant.objects.live(now=now).filter(practitioner=practitioner, child=child).exists():
        remove_perm(VIEW_CHILD_CODENAME, practitioner.user, child)


@transaction.atomic
def sync_involvement_grants(*, involvement, context: RequestContext) -> int:
    """Match grants to an involvement: every active practitioner of its organisation holds one
    while it is open; all are revoked when it ends. Returns how many grants changed."""
    changed = 0
    existing = AccessGrant.objects.live().filter(involvement=involvement).select_related("practitioner__user", "child")
    if involvement.ended_on is not None:
        for grant in existing:
            changed += revoke_grant(grant=grant, context=context, reason="Involvement ended")
        return changed
    have = {g.practitioner_id for g in existing}
    for practitioner in Practitioner.objects.active().filter(organisation=involvement.organisation).exclude(pk__in=have):
        grant_access(
            practitioner=practitioner, child=involvement.child, source=AccessGrant.Source.INVOLVEMENT,
            reason=f"{involvement.organisation.name} is working with this child",
            expires_at=OPEN_ENDED, context=context, involvement=involvement,
        )
        changed += 1
    return changed
