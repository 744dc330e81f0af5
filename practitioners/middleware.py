"""Ends a suspended or expired practitioner's session on its next request (SPEC 8).

Suspension already deletes every recorded session and API token; this catches any
session that was not recorded, and an expiry written by a bulk job. Status is read
from the database on every request, never cached.
"""

from django.contrib.auth import logout

from audit.context import RequestContext
from practitioners import permissions, services
from practitioners.decorators import refused_page


class BarredAccountMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and permissions.is_barred(user):
            services.record_refusal(context=RequestContext.of(request), why="barred", path=request.get_full_path())
            logout(request)
            return refused_page(request, why="barred", title="Your access is suspended",
                                message="Your Signpost account is suspended or has expired, so you have been "
                                        "signed out. Contact your local authority's Signpost administrator.")
        return self.get_response(request)
