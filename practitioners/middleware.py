"""Per-request account and session rules.

- ``BarredAccountMiddleware`` ends a suspended or expired practitioner's session on its next
  request (SPEC 8). Suspension already deletes every recorded session and API token; this
  catches any session that was not recorded, and an expiry written by a bulk job. Status is
  read from the database on every request, never cached.
- ``SessionMiddleware`` is Django's, except that a background request (a view marked with
  ``background_request``, e.g. the upload page's progress poll) does not renew the idle timer:
  a page left open polling must not keep a session alive for ever.
- ``SessionLifetimeMiddleware`` ends a session ``SESSION_ABSOLUTE_LIFETIME`` after sign-in
  however active it is (ASVS 3.3.2), and notes when it was last seen for "Your sessions".
"""

import time
from functools import wraps

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from audit.context import RequestContext
from practitioners import permissions, services
from practitioners.decorators import refused_page

SIGNED_IN_AT = "signpost_signed_in_at"  # epoch seconds of the sign-in, in the session
LAST_SEEN_AT = "signpost_last_seen_at"  # epoch seconds of the last "last seen" write
LAST_SEEN_RESOLUTION = 60  # seconds: "last seen" is written at most once a minute per session


def mark_signed_in(session) -> None:
    """Start the absolute lifetime: called on every sign-in (``user_logged_in``)."""
    now = time.time()
    session[SIGNED_IN_AT] = now
    session[LAST_SEEN_AT] = now


def background_request(view):
    """Mark a view polled by a script (not a person's action): it does not renew the session's idle
    timer. The mark is on the server, so a page cannot forget to send it."""

    @wraps(view)
    def marked(request, *args, **kwargs):
        return view(request, *args, **kwargs)

    marked.signpost_background = True
    return marked


def is_background(request) -> bool:
    return getattr(request, "signpost_background", False)


class SessionMiddleware(DjangoSessionMiddleware):
    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "signpost_background", False):
            request.signpost_background = True
        return None

    def process_response(self, request, response):
        # SESSION_SAVE_EVERY_REQUEST renews the expiry on every save: skip the save for a background
        # request that changed nothing, so the session's expiry stays where the last real request left it.
        session = getattr(request, "session", None)
        if session is not None and is_background(request) and not session.modified:
            if session.accessed:
                patch_vary_headers(response, ("Cookie",))
            return response
        return super().process_response(request, response)


class SessionLifetimeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        session = getattr(request, "session", None)
        if user is not None and session is not None and user.is_authenticated:
            now = time.time()
            signed_in_at = session.get(SIGNED_IN_AT)
            if signed_in_at is None:  # a session from before this rule: its lifetime starts now
                mark_signed_in(session)
            elif now - signed_in_at > settings.SESSION_ABSOLUTE_LIFETIME.total_seconds():
                services.record_session_expired(user=user, session_key=session.session_key, why="absolute lifetime",
                                                context=RequestContext.of(request))
                session.flush()  # not logout(): this is the session ending, not the user signing out
                request.user = AnonymousUser()
                return redirect_to_login(request.get_full_path())
            elif now - session.get(LAST_SEEN_AT, 0) >= LAST_SEEN_RESOLUTION:
                # Lazily: a background poll is not the person being there, and writing the session
                # would renew its idle timer.
                request.signpost_note_last_seen = True
        response = self.get_response(request)
        if (getattr(request, "signpost_note_last_seen", False) and not is_background(request)
                and request.user.is_authenticated and request.session.session_key):
            services.note_session_seen(session_key=request.session.session_key, now=timezone.now())
            request.session[LAST_SEEN_AT] = time.time()
        return response


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
