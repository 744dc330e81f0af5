"""Sign-in events from Django, django-otp and django-axes, each handed to one service function."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from audit.context import RequestContext
from practitioners import services


def _context(request) -> RequestContext:
    return RequestContext.of(request) if request is not None else RequestContext.system("no request")


@receiver(user_logged_in, dispatch_uid="signpost.login_success")
def _login_succeeded(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    services.record_login_success(
        user=user, session_key=getattr(session, "session_key", None),
        second_factor=getattr(user, "otp_device", None) is not None, context=_context(request),
    )


@receiver(user_logged_out, dispatch_uid="signpost.logout")
def _logged_out(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    services.record_logout(user=user, session_key=getattr(session, "session_key", None), context=_context(request))


@receiver(user_login_failed, dispatch_uid="signpost.login_failure")
def _login_failed(sender, credentials, request=None, **kwargs):
    # While locked out, axes refuses before the password is checked: that is recorded as a lockout.
    if request is not None and getattr(request, "axes_locked_out", False):
        return
    services.record_login_failure(username=credentials.get("username", ""), stage="password",
                                  context=_context(request))


@receiver(user_locked_out, dispatch_uid="signpost.lockout")
def _locked_out(sender, request, username, **kwargs):
    services.record_lockout(username=username or "", context=_context(request))
