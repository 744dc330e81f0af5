"""Sign-in, sign-out and failed sign-in are audit events (SPEC 3.6)."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from audit.context import RequestContext
from audit.models import AccessEvent
from audit.services import record_event


def _context(request, user=None) -> RequestContext:
    if request is None:
        return RequestContext(user=user, user_agent="no request")
    context = RequestContext.of(request)
    return RequestContext(user=user, ip_address=context.ip_address, user_agent=context.user_agent,
                          request_id=context.request_id)


def logged_in(sender, request, user, **kwargs):
    record_event(action="auth.login", context=_context(request, user))


def logged_out(sender, request, user, **kwargs):
    if user is not None:
        record_event(action="auth.logout", context=_context(request, user))


def login_failed(sender, credentials, request=None, **kwargs):
    # ``credentials`` has been cleansed by Django (no password); the username is not child data.
    username = str(credentials.get("username", ""))[:150]
    record_event(action="auth.login_failed", context=_context(request), outcome=AccessEvent.Outcome.DENIED,
                 details={"username": username})


def connect() -> None:
    user_logged_in.connect(logged_in, dispatch_uid="audit_logged_in")
    user_logged_out.connect(logged_out, dispatch_uid="audit_logged_out")
    user_login_failed.connect(login_failed, dispatch_uid="audit_login_failed")
