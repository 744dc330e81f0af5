"""DRF permission classes: the API follows the same rules as the web pages."""

from rest_framework.permissions import BasePermission

from practitioners import permissions


class IsVettedPractitioner(BasePermission):
    """An active, vetted practitioner: second factor for session calls, a live token for token calls
    (``permissions.may_use_api``). Status, vetting, training and ``is_active`` are read from the
    database on every request."""

    message = "Only active, vetted practitioners can use this endpoint."

    def has_permission(self, request, view):
        return permissions.admit_api_call(request.user, request.auth)
