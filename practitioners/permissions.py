"""Who may see what: the one module that decides, and the only one that calls guardian.

Every check reads the database on every request (status, vetting, training, second
factor, grant expiry): nothing is cached across requests (SPEC 8).
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.utils import timezone
from guardian.shortcuts import get_objects_for_user

from practitioners import roles
from practitioners.models import AccessGrant, ChildGroupObjectPermission, LocalAuthority, Organisation, Practitioner

VIEW_CHILD = "children.view_child"


class NotVetted(PermissionDenied):
    """Signed in, but not (or no longer) an active, vetted, second-factor-verified practitioner."""


class NoGrant(PermissionDenied):
    """A vetted practitioner without a live grant for this child: offer request / break-glass."""


BARRED = (Practitioner.Status.SUSPENDED, Practitioner.Status.EXPIRED)


def practitioner_of(user) -> Practitioner | None:
    if not getattr(user, "is_authenticated", False):
        return None
    practitioner = Practitioner.objects.select_related("organisation__local_authority").filter(user_id=user.pk).first()
    if practitioner is not None:
        # Keep the caller's user object: it carries the session's second-factor verification.
        practitioner.user = user
    return practitioner


def second_factor_verified(user) -> bool:
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified and is_verified())


def is_barred(user) -> bool:
    """A suspended or expired practitioner: refused everywhere, whatever other role they hold."""
    if not getattr(user, "is_authenticated", False):
        return False
    return Practitioner.objects.filter(user_id=user.pk, status__in=BARRED).exists()


def _account_active(user) -> bool:
    """``is_active`` read from the database now, not from a user object loaded earlier."""
    from django.contrib.auth import get_user_model

    if not getattr(user, "is_authenticated", False):
        return False
    return get_user_model().objects.filter(pk=user.pk, is_active=True).exists()


def _vetted_practitioner(user, *, today=None) -> Practitioner | None:
    """Everything ``may_search`` asks but the second factor: active account, active practitioner,
    vetting and training current, the practitioner role."""
    if not _account_active(user):
        return None
    practitioner = practitioner_of(user)
    if practitioner is None or practitioner.status != Practitioner.Status.ACTIVE:
        return None
    if not practitioner.credentials_current(today) or not roles.has_role(user, roles.PRACTITIONER):
        return None
    return practitioner


def may_search(user, *, today=None) -> bool:
    """Active account, active practitioner, vetting and training current, second factor verified."""
    return _vetted_practitioner(user, today=today) is not None and second_factor_verified(user)


def live_grants(practitioner: Practitioner, *, now=None) -> QuerySet[AccessGrant]:
    return AccessGrant.objects.live(now=now).filter(practitioner=practitioner)


def children_with_organisation_access(organisation: Organisation) -> QuerySet:
    """Active children ``organisation`` holds guardian's group permission on: those it has an open
    involvement with (``services.sync_organisation_access`` keeps the permission to that rule)."""
    from children.models import Child

    # A subquery, not guardian's get_objects_for_group: that reads every child the organisation holds
    # into Python and sends them back as an IN list (measured: a record view at 1M children spent
    # ~150 ms on it for one organisation). Model-wide permissions never count (accept_global_perms off).
    return Child.objects.active().filter(pk__in=_organisation_permissions(organisation).values("content_object_id"))


def _organisation_permissions(organisation: Organisation) -> QuerySet[ChildGroupObjectPermission]:
    """The organisation's view_child rows (its access group is read now: created on first use)."""
    app_label, codename = VIEW_CHILD.split(".")
    return ChildGroupObjectPermission.objects.filter(
        group__organisation__pk=organisation.pk, permission__codename=codename,
        permission__content_type__app_label=app_label)


def organisation_may_open(organisation: Organisation, child) -> bool:
    """Does the organisation hold view_child on this one (active) child: one probe of the unique
    (group, permission, child) index."""
    from children.models import Child

    return child.status == Child.Status.ACTIVE and _organisation_permissions(organisation).filter(
        content_object_id=child.pk).exists()


def children_granted_to(practitioner: Practitioner, *, now=None) -> QuerySet:
    """Active children this practitioner holds a personal grant on (approved request, break-glass):
    guardian's user permission AND a live AccessGrant, which carries the expiry."""
    from children.models import Child

    now = now or timezone.now()
    permitted = get_objects_for_user(
        practitioner.user,
        VIEW_CHILD,
        klass=Child.objects.active(),
        use_groups=False,  # the organisation's permission is children_with_organisation_access
        with_superuser=False,  # a superuser does not see every child
        accept_global_perms=False,  # nor does a model-wide permission
    )
    return permitted.filter(grants__practitioner=practitioner, grants__revoked_at__isnull=True,
                            grants__expires_at__gt=now).distinct()


def children_visible_to(practitioner: Practitioner, *, now=None) -> QuerySet:
    """Children whose record this practitioner may open now: those their own organisation has an
    open involvement with, and those they hold a live personal grant on. None unless vetted and verified."""
    from children.models import Child

    if practitioner is None or not may_search(practitioner.user):
        return Child.objects.none()
    return Child.objects.filter(
        Q(pk__in=children_with_organisation_access(practitioner.organisation).values("pk"))
        | Q(pk__in=children_granted_to(practitioner, now=now).values("pk"))
    )


def may_open_child(practitioner: Practitioner, child, *, now=None) -> bool:
    """``children_visible_to(practitioner)`` holds this child, asked of the one child."""
    if practitioner is None or not may_search(practitioner.user):
        return False
    return organisation_may_open(practitioner.organisation, child) or children_granted_to(
        practitioner, now=now).filter(pk=child.pk).exists()


def live_grant_for(practitioner: Practitioner, child, *, now=None) -> AccessGrant | None:
    """The personal grant (request or break-glass) with the latest expiry that lets this practitioner
    open the record now, or None (no access, or access only through their organisation)."""
    if practitioner is None or not may_search(practitioner.user):
        return None
    if not children_granted_to(practitioner, now=now).filter(pk=child.pk).exists():
        return None
    return live_grants(practitioner, now=now).filter(child=child).order_by("-expires_at").first()


def administered_authorities(user) -> QuerySet[LocalAuthority]:
    """The local authorities this user is an LA admin of (none without the role, or when barred)."""
    if not roles.has_role(user, roles.LA_ADMIN) or not _account_active(user) or is_barred(user):
        return LocalAuthority.objects.none()
    return LocalAuthority.objects.filter(admins__user=user)


@dataclass(frozen=True)
class Viewer:
    """Who is opening a child's record, as ``record_viewer`` found them."""

    user: object
    practitioner: Practitioner | None = None  # a vetted, verified practitioner, else None
    administered: frozenset[int] = frozenset()  # ids of the LAs this user is a verified LA admin of

    @property
    def organisation_id(self) -> int | None:
        return self.practitioner.organisation_id if self.practitioner else None

    def owns(self, child) -> bool:
        """The owning LA admin: an LA admin of the child's current local authority."""
        return child.local_authority_id in self.administered


def _record_viewer(user) -> Viewer | None:
    if not second_factor_verified(user):
        return None
    practitioner = _vetted_practitioner(user)
    administered = frozenset(administered_authorities(user).values_list("pk", flat=True))
    if practitioner is None and not administered:
        return None
    return Viewer(user=user, practitioner=practitioner, administered=administered)


def may_open_records(user) -> bool:
    """A vetted practitioner or an LA admin, second factor verified: the record pages are theirs
    (which record each may open is ``require_may_open_record``)."""
    return _record_viewer(user) is not None


def record_viewer(user) -> Viewer:
    """A vetted practitioner, a verified LA admin, or both; raises NotVetted for anyone else."""
    viewer = _record_viewer(user)
    if viewer is None:
        raise NotVetted("Only active, vetted practitioners and LA admins with a second factor can open records.")
    return viewer


def require_may_open_record(viewer: Viewer, child) -> None:
    """LA admins open the records of children in their own area (the owning LA admin also sees a
    shielded child's address); practitioners need their organisation's open involvement or a live grant.

    Raises NoGrant for a practitioner without one (offer request access / break-glass), and
    NotVetted for an LA admin of another area who is not a practitioner.
    """
    if viewer.owns(child):
        return
    if viewer.practitioner is None:
        raise NotVetted("Only the LA admins of the child's own local authority can open this record.")
    if not may_open_child(viewer.practitioner, child):
        raise NoGrant("You need an access grant to open this record.")


def has_standing_access(viewer: Viewer, child) -> bool:
    """Access that is not emergency, claimed or personal: the owning LA admin's, or the viewer's
    organisation's through a confirmed open involvement. Moving a child to another area needs it."""
    if viewer.owns(child):
        return True
    return viewer.practitioner is not None and organisation_may_open(viewer.practitioner.organisation, child)


def sees_shielded_location(viewer: Viewer, child) -> bool:
    """A shielded child's location (LA, postcode area, involved organisations, LA phone) reaches only the
    owning LA admin and practitioners whose organisation has a confirmed involvement (SPEC 2, issue 16)."""
    return not child.shielded or has_standing_access(viewer, child)


def sees_shielded_address(viewer: Viewer, child) -> bool:
    """The address itself (a refuge, say) reaches only the owning LA admin."""
    return not child.shielded or viewer.owns(child)


def live_break_glass_for(practitioner: Practitioner, child, *, now=None) -> AccessGrant | None:
    """The practitioner's open break-glass window on ``child``, if any: what they record now is claimed under it."""
    if practitioner is None:
        return None
    return live_grants(practitioner, now=now).break_glass().filter(child=child).order_by("-expires_at").first()


def require_may_end_grant(user, grant: AccessGrant) -> None:
    """LA admins end grants on children of their area and grants held by practitioners of their area."""
    if user is None or not (administers(user, grant.child.local_authority)
                            or administers(user, grant.practitioner.organisation.local_authority)):
        raise PermissionDenied("Only an LA admin of the child's or the practitioner's area can end this access.")


def is_auditor(user) -> bool:
    return bool(_account_active(user) and roles.has_role(user, roles.AUDITOR)
                and second_factor_verified(user) and not is_barred(user))


def _token_authenticated(auth) -> bool:
    from rest_framework.authtoken.models import Token

    return isinstance(auth, Token)


def may_use_api(user, auth) -> bool:
    """The API's rule: ``may_search``, except how the second factor is shown.

    A session-authenticated call needs the session's verified second factor, as on the web.
    A DRF token stands in for it, for an active vetted practitioner only: tokens are issued
    to verified sessions and deleted on suspension and expiry.
    """
    if not _token_authenticated(auth):
        return may_search(user)
    return _vetted_practitioner(user) is not None


def admit_api_call(user, auth) -> bool:
    """``may_use_api``; an admitted token call marks ``user`` verified for the rest of the request
    (as django-otp's middleware marks a session user), so that every later check on this request
    (``may_search`` in the services, ``children_visible_to``) applies the same rule."""
    if not may_use_api(user, auth):
        return False
    if _token_authenticated(auth):
        user.is_verified = lambda: True
    return True


def administers(user, local_authority) -> bool:
    return administered_authorities(user).filter(pk=local_authority.pk).exists()


def require_administers_practitioner(user, practitioner: Practitioner) -> None:
    """Raises PermissionDenied unless ``user`` is an LA admin of the practitioner's local authority."""
    if user is None or not administers(user, practitioner.organisation.local_authority):
        raise PermissionDenied("Only an LA admin of this practitioner's local authority can do that.")


def require_decides_for_child(user, child) -> None:
    """Access requests and break-glass reviews belong to the LA admins of the child's current LA."""
    if user is None or not administers(user, child.local_authority):
        raise PermissionDenied("Only an LA admin of the child's local authority can decide this.")


def require_may_break_glass(practitioner: Practitioner, child) -> None:
    """Break-glass is for vetted, verified practitioners, on an active record."""
    if practitioner is None or not may_search(practitioner.user):
        raise NotVetted("Only active, vetted practitioners with a second factor can use emergency access.")
    if child.status != child.Status.ACTIVE:
        raise PermissionDenied("This record is no longer active.")


# -- source-system feeds (issue 7) ---------------------------------------------------------------------------------

def administers_authority_id(user, local_authority_id: int) -> bool:
    """``administers`` for an id: feeds' tokens, review items, merges and uploads name their LA by id."""
    return administered_authorities(user).filter(pk=local_authority_id).exists()


def upload_organisations(user) -> QuerySet[Organisation]:
    """Organisations ``user`` may upload involvements (a CSV) for: every one in the authorities they
    administer, and their own when they are an active, vetted practitioner with the data manager duty
    (an LA admin gives it). Empty for anyone else. Whatever is uploaded, a row about a child the
    organisation could not already open is only a claim (``services.record_claims``)."""
    organisations = Organisation.objects.filter(local_authority__in=administered_authorities(user))
    if may_search(user) and practitioner_of(user).data_manager:
        organisations = organisations | Organisation.objects.filter(pk=practitioner_of(user).organisation_id)
    return organisations.select_related("local_authority").distinct().order_by("name")


def may_see_upload(user, upload) -> bool:
    """The uploader (while still allowed to upload for that organisation), or an LA admin of its authority."""
    if upload.uploaded_by_id == user.pk and upload_organisations(user).filter(pk=upload.organisation_id).exists():
        return True
    return administers_authority_id(user, upload.organisation.local_authority_id)
