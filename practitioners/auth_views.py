"""Sign-in and second-factor pages: django-two-factor-auth's views, with Signpost's rules.

- Every wrong one-time or recovery code is audited (axes only sees the password step;
  django-otp throttles the codes themselves).
- A user without an authenticator goes straight to set one up after the password.
- There is no page to switch the second factor off: Signpost requires it.
"""

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import urlencode
from django_otp.plugins.otp_totp.models import TOTPDevice
from two_factor import views as tf
from two_factor.utils import default_device

from audit.context import RequestContext
from practitioners import second_factor_views, services, throttles


def _relabel(form, labels: dict) -> None:
    for name, label in labels.items():
        if name in form.fields:
            form.fields[name].label = label


WRONG_CODE = "The code is wrong or has expired. Enter the code your authenticator app shows now"
WRONG_RECOVERY_CODE = "That recovery code is wrong or has already been used"


def _plain_code_errors(form, *, recovery=False) -> None:
    """django-otp and two-factor-auth say "Invalid token. Please make sure..."; say what to do instead."""
    message = WRONG_RECOVERY_CODE if recovery else WRONG_CODE
    if hasattr(form, "otp_error_messages"):
        form.otp_error_messages = {**form.otp_error_messages, "invalid_token": message,
                                   "token_required": "Enter the code"}
    if hasattr(form, "error_messages"):
        form.error_messages = {**form.error_messages, "invalid_token": message}


def authenticator_of(user):
    """The authenticator to ask for: two-factor-auth's "default" device, else any confirmed TOTP
    device (the demo's, an admin-enrolled one). A user who has one always gets the code step."""
    if not user:
        return None
    return default_device(user) or TOTPDevice.objects.devices_for_user(user, confirmed=True).first()


def locked_out_page(request, *, until):
    """The GOV.UK lockout page (429) for an account locked from every address."""
    return render(request, settings.AXES_LOCKOUT_TEMPLATE, {"account_locked_until": until}, status=429)


class LoginView(tf.LoginView):
    def post(self, *args, **kwargs):
        """Refuse a locked account at every step (password, code, recovery code) before checking
        anything, so a lockout cannot be walked around by going straight to the code step."""
        step = self.request.POST.get(f"{self.get_prefix(self.request)}-current_step", self.steps.current)
        if step == self.AUTH_STEP:
            username = self.request.POST.get(f"{self.AUTH_STEP}-username", "")
        else:
            user = self.get_user()
            username = user.get_username() if user else ""
        until = throttles.account_locked_until(username) if username else None
        if until is not None:
            services.record_lockout(username=username, scope="account", context=RequestContext.of(self.request))
            return locked_out_page(self.request, until=until)
        return super().post(*args, **kwargs)

    def has_token_step(self):
        return bool(authenticator_of(self.get_user())) and not self.remember_agent

    def has_backup_step(self):
        return (bool(authenticator_of(self.get_user())) and self.TOKEN_STEP not in self.storage.validated_step_data
                and not self.remember_agent)

    condition_dict = {tf.LoginView.TOKEN_STEP: has_token_step, tf.LoginView.BACKUP_STEP: has_backup_step}

    def get_device(self, step=None):
        device = super().get_device(step)
        if device is None and step != self.BACKUP_STEP:
            self.device_cache = device = authenticator_of(self.get_user())
        return device

    def get_form(self, step=None, **kwargs):
        form = super().get_form(step=step, **kwargs)
        step = step or self.steps.current
        _relabel(form, {"otp_token": "Recovery code" if step == self.BACKUP_STEP else "Code from your authenticator app"})
        _plain_code_errors(form, recovery=step == self.BACKUP_STEP)
        if "username" in form.fields:
            # Django's sign-in form sets max_length but no validator: a 1 MB username reached axes,
            # whose lockout record (varchar 255) could not store it. Refused here, before authenticate().
            limit = form.fields["username"].max_length or 150
            form.fields["username"].validators.append(
                MaxLengthValidator(limit, f"Enter a username of at most {limit} characters"))
        for name, message in (("username", "Enter your username"), ("password", "Enter your password"),
                              ("otp_token", "Enter the code")):
            if name in form.fields:
                form.fields[name].error_messages["required"] = message
        return form

    def render(self, form=None, **kwargs):
        step = self.steps.current
        if form is not None and form.is_bound and form.errors and step in (self.TOKEN_STEP, self.BACKUP_STEP):
            user = self.get_user()
            username = user.get_username() if user else ""
            # django-otp's back-off refuses every code, right or wrong, for a while after a wrong one:
            # say so in the event, so the audit shows the throttle holding.
            # (django-otp raises those refusals without a code; a checked wrong code is "invalid_token").
            throttled = any(e.code is None for e in form.errors.as_data().get("__all__", []))
            services.record_login_failure(
                username=username, stage="second_factor" if step == self.TOKEN_STEP else "recovery_code",
                context=RequestContext.of(self.request), throttled=throttled,
            )
            until = throttles.account_locked_until(username) if username else None
            if until is not None:
                return locked_out_page(self.request, until=until)
        return super().render(form, **kwargs)

    def done(self, form_list, **kwargs):
        response = super().done(form_list, **kwargs)
        if getattr(self.get_user(), "otp_device", None) is None:
            # Password accepted, no authenticator yet: setting one up is the only way on.
            next_url = self.get_success_url()
            return redirect(f"{reverse('two_factor:setup')}?{urlencode({'next': next_url})}")
        return response


class SetupView(tf.SetupView):
    def get(self, request, *args, **kwargs):
        if authenticator_of(request.user):  # one authenticator per person; recovery codes cover loss
            return redirect(self.get_success_url())
        return super().get(request, *args, **kwargs)

    def get_form(self, step=None, **kwargs):
        form = super().get_form(step=step, **kwargs)
        _relabel(form, {"token": "Code from your authenticator app"})
        _plain_code_errors(form)
        return form

    def done(self, form_list, **kwargs):
        next_url = self.get_redirect_url()
        super().done(form_list, **kwargs)
        services.record_page_view(action="second_factor.enrol", context=RequestContext.of(self.request))
        # Recovery codes come with the authenticator, shown once on the next page, before ``next``.
        second_factor_views.issue_codes_for_display(self.request)
        if next_url:
            self.request.session["next"] = next_url
        return redirect("two_factor:setup_complete")


urlpatterns = [
    path("account/login/", LoginView.as_view(), name="login"),
    path("account/two_factor/setup/", SetupView.as_view(), name="setup"),
    path("account/two_factor/qrcode/", tf.QRGeneratorView.as_view(), name="qr"),
    path("account/two_factor/setup/complete/", second_factor_views.SetupCompleteView.as_view(), name="setup_complete"),
    path("account/two_factor/backup/tokens/", second_factor_views.BackupTokensView.as_view(), name="backup_tokens"),
    path("account/two_factor/", second_factor_views.ProfileView.as_view(), name="profile"),
]
two_factor_urls = (urlpatterns, "two_factor")
