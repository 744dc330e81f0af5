"""Who may use the feed pages, composed only from ``practitioners.permissions``.

LA admins (verified second factor) manage tokens, review queue, merges and the
dashboard for their own authorities; an active, vetted practitioner may upload a
CSV for their own organisation. Checked on every request.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from practitioners import permissions
from practitioners.models import LocalAuthority, Organisation


def la_admin_authorities(user) -> QuerySet[LocalAuthority]:
    """The authorities ``user`` administers; PermissionDenied without the role or a verified second factor."""
    if not permissions.second_factor_verified(user):
        raise PermissionDenied("Sign in with your second factor to use this page.")
    authorities = permissions.administered_authorities(user)
    if not authorities.exists():
        raise PermissionDenied("Only LA admins can use this page.")
    return authorities


def require_admin_of(user, local_authority_id: int) -> None:
    if not la_admin_authorities(user).filter(pk=local_authority_id).exists():
        raise PermissionDenied("This belongs to another local authority.")


def is_la_admin(user) -> bool:
    try:
        la_admin_authorities(user)
    except PermissionDenied:
        return False
    return True


def upload_organisations(user) -> QuerySet[Organisation]:
    """Organisations ``user`` may upload a CSV for: every one in their authorities for an LA admin,
    their own for a vetted practitioner. PermissionDenied when none."""
    if not permissions.second_factor_verified(user):
        raise PermissionDenied("Sign in with your second factor to use this page.")
    organisations = Organisation.objects.none()
    if is_la_admin(user):
        organisations = Organisation.objects.filter(local_authority__in=permissions.administered_authorities(user))
    if permissions.may_search(user):
        own = permissions.practitioner_of(user).organisation_id
        organisations = organisations | Organisation.objects.filter(pk=own)
    if not organisations.exists():
        raise PermissionDenied("Only LA admins and active practitioners can upload involvements.")
    return organisations.select_related("local_authority").distinct().order_by("name")


def require_upload_access(user, upload) -> None:
    """The uploader (while still allowed to upload for that organisation), or an LA admin of its authority."""
    allowed = upload_organisations(user)
    if upload.uploaded_by_id == user.pk and allowed.filter(pk=upload.organisation_id).exists():
        return
    require_admin_of(user, upload.organisation.local_authority_id)
