"""Recovery from a lost phone, the practitioner's side: recovery codes shown once, and a
"Sign-in security" page that tells the truth about the authenticator Signpost will ask for.

Codes are shown only on the page that follows their creation (kept in the session until that
page pops them), never again: a later visit shows how many are left and offers new ones.
"""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django_otp.decorators import otp_required
from django_otp.plugins.otp_static.models import StaticToken
from django.views.generic import TemplateView
from two_factor import views as tf

from audit.context import RequestContext
from practitioners import services

NEW_CODES = "signpost_new_recovery_codes"


def issue_codes_for_display(request) -> None:
    """Create new recovery codes for the signed-in user and keep them for the next page to show once."""
    request.session[NEW_CODES] = services.issue_recovery_codes(user=request.user, context=RequestContext.of(request))


def _codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user).count()


class BackupTokensView(tf.BackupTokensView):
    """GET: how many codes are left (and, once, the codes just made); POST: replace them all."""

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "new_codes": self.request.session.pop(NEW_CODES, None),
                "codes_left": _codes_left(self.request.user)}

    def form_valid(self, form):
        issue_codes_for_display(self.request)
        return redirect(self.success_url)


@method_decorator([never_cache, otp_required], name="dispatch")
class SetupCompleteView(TemplateView):
    """After set-up: the recovery codes made with the authenticator, shown once, then on to ``next``."""

    template_name = "two_factor/core/setup_complete.html"

    def get(self, request, *args, **kwargs):
        codes = request.session.pop(NEW_CODES, None)
        next_url = request.session.pop("next", None)
        if codes is None and next_url:
            return redirect(next_url)
        return self.render_to_response(self.get_context_data(new_codes=codes, next_url=next_url or "/"))


@method_decorator([never_cache, login_required], name="dispatch")
class ProfileView(tf.ProfileView):
    """Uses the same test as sign-in (any confirmed authenticator, not only one named "default"),
    so a demo user or one enrolled by an admin is not told they have none."""

    def get_context_data(self, **kwargs):
        from practitioners.auth_views import authenticator_of

        context = super().get_context_data(**kwargs)
        device = authenticator_of(self.request.user)
        return {**context, "default_device": device, "default_device_type": type(device).__name__,
                "backup_tokens": _codes_left(self.request.user)}
