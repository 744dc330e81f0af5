"""Sign-in events from Django, django-otp and django-axes, each handed to one service function."""

from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import pre_save
from django.dispatch import receiver

from audit.context import RequestContext
from practitioners import services
from practitioners.middleware import mark_signed_in


def _context(request) -> RequestContext:
    return RequestContext.of(request) if request is not None else RequestContext.system("no request")


@receiver(user_logged_in, dispatch_uid="signpost.login_success")
def _login_succeeded(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    if session is not None:
        mark_signed_in(session)
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
    # The account is locked from every address (practitioners.backends): a refusal, not a guess.
    if request is not None and getattr(request, "signpost_account_locked_until", None):
        services.record_lockout(username=credentials.get("username", ""), scope="account", context=_context(request))
        return
    services.record_login_failure(username=credentials.get("username", ""), stage="password",
                                  context=_context(request))


@receiver(user_locked_out, dispatch_uid="signpost.lockout")
def _locked_out(sender, request, username, **kwargs):
    services.record_lockout(username=username or "", context=_context(request))


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="signpost.password_change")
def _password_changing(sender, instance, update_fields=None, **kwargs):
    """A changed password ends the user's API tokens (SPEC 8: DRF tokens survive it otherwise).

    Sessions need nothing here: Django's session auth hash already refuses old sessions.
    Runs in the saving transaction, so a token is never left behind a saved new password.
    """
    if instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return
    old = sender.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if old is not None and old != instance.password:
        services.end_api_tokens(user=instance, reason="password changed")
