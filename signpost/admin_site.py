"""The Django admin: superusers only, and only with a verified second factor (issue 16 item 4).

Every request to it is audited by ``audit.middleware.AdminAccessAuditMiddleware``. What it
shows is narrowed in each app's ``admin.py``: no password hashes, TOTP secrets or token keys,
and child records (and the grants that open them) read-only, since changes go through the
services that check and audit them.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import redirect, render
from django.urls import reverse
from django_otp.admin import OTPAdminSite


class SignpostAdminSite(OTPAdminSite):
    site_header = "Signpost administration"
    site_title = "Signpost administration"

    def __init__(self, name="admin"):
        super().__init__(name)

    def has_permission(self, request):
        """A superuser whose session was verified with a second factor (django-otp's ``is_verified``)."""
        user = request.user
        return bool(user.is_active and user.is_superuser and user.is_verified())

    def login(self, request, extra_context=None):
        """One way in: the site's own sign-in (password, then second factor, throttled and audited).

        A signed-in user who is not a verified superuser is refused, not offered a second login
        form: a password alone must never reach the admin.
        """
        if request.user.is_authenticated:
            return render(request, "admin/refused.html", status=403)
        next_url = request.GET.get("next") or reverse("admin:index", current_app=self.name)
        return redirect(f"{reverse(settings.LOGIN_URL)}?{urlencode({'next': next_url})}")
