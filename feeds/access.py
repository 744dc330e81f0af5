"""The feed services' checks, as PermissionDenied: each decided by ``practitioners.permissions``.

Pages are guarded by ``practitioners.decorators`` (see ``feeds.views``); services check
again here, whoever calls them, on every request.
"""

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

from practitioners import permissions
from practitioners.models import LocalAuthority, Organisation


def _require_second_factor(user) -> None:
    if not permissions.second_factor_verified(user):
        raise PermissionDenied("Sign in with your second factor to use this page.")


def la_admin_authorities(user) -> QuerySet[LocalAuthority]:
    """The authorities ``user`` administers; PermissionDenied without the role or a verified second factor."""
    _require_second_factor(user)
    authorities = permissions.administered_authorities(user)
    if not authorities.exists():
        raise PermissionDenied("Only LA admins can use this page.")
    return authorities


def require_admin_of(user, local_authority_id: int) -> None:
    _require_second_factor(user)
    if not permissions.administers_authority_id(user, local_authority_id):
        raise PermissionDenied("This belongs to another local authority.")


def upload_organisations(user) -> QuerySet[Organisation]:
    """Organisations ``user`` may upload a CSV for; PermissionDenied when none."""
    _require_second_factor(user)
    organisations = permissions.upload_organisations(user)
    if not organisations.exists():
        raise PermissionDenied("Only LA admins and active practitioners can upload involvements.")
    return organisations


def require_upload_access(user, upload) -> None:
    _require_second_factor(user)
    if not permissions.may_see_upload(user, upload):
        raise PermissionDenied("This upload belongs to another organisation.")
