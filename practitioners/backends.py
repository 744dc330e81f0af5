"""An authentication backend that refuses a locked account before any password is checked."""

from django.core.exceptions import PermissionDenied

from practitioners import throttles


class AccountLockoutBackend:
    """Placed after django-axes' backend and before ModelBackend: while ``username`` has
    ``LOGIN_ACCOUNT_FAILURE_LIMIT`` failures in the window (from any address), every
    ``authenticate()`` for it stops here, right password or not (ASVS 2.2.1).

    Raising PermissionDenied makes Django stop trying backends and send ``user_login_failed``;
    ``request.signpost_account_locked_until`` tells the receivers it was a lockout, not a guess.
    The sign-in page checks the same lock first (``auth_views.LoginView``); this covers every
    other caller of ``authenticate()`` (the Django admin's login). It has no ``get_user``: it never
    signs anyone in, so no session names it as its backend.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None or not username:
            return None
        until = throttles.account_locked_until(username)
        if until is not None:
            request.signpost_account_locked_until = until
            raise PermissionDenied("This account is locked after too many failed sign-ins.")
        return None
