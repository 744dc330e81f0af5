"""Sign-in and second-factor pages: django-two-factor-auth's views, with Signpost's rules.

- Every wrong one-time or recovery code is audited (axes only sees the password step;
  django-otp throttles the codes themselves).
- A user without an authenticator goes straight to set one up after the password.
- There is no page to switch the second factor off: Signpost requires it.
"""

from django.core.validators import MaxLengthValidator
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.http import urlencode
from django_otp.plugins.otp_totp.models import TOTPDevice
from two_factor import views as tf
from two_factor.utils import default_device

from audit.context import RequestContext
from practitioners import services


def _relabel(form, labels: dict) -> None:
    for name, label in labels.items():
        if name in form.fields:
            form.fields[name].label = label


def authenticator_of(user):
    """The authenticator to ask for: two-factor-auth's "default" device, else any confirmed TOTP
    device (the demo's, an admin-enrolled one). A user who has one always gets the code step."""
    if not user:
        return None
    return default_device(user) or TOTPDevice.objects.devices_for_user(user, confirmed=True).first()


class LoginView(tf.LoginView):
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
            services.record_login_failure(
                username=user.get_username() if user else "", stage="second_factor" if step == self.TOKEN_STEP
                else "recovery_code", context=RequestContext.of(self.request),
            )
        return super().render(form, **kwargs)

    def done(self, form_list, **kwargs):
        response = super().done(form_list, **kwargs)
        if getattr(self.get_user(), "otp_device", None) is None:
            # Password accepted, no authenticator yet: setting one up is the only way on.
            next_url = self.get_success_url()
            return redirect(f"{reverse('two_factor:setup')}?{urlencode({'next': next_url})}")
        return response


class BackupTokensView(tf.BackupTokensView):
    """Recovery codes; generating new ones is audited (the old ones stop working)."""

    def form_valid(self, form):
        response = super().form_valid(form)
        services.record_page_view(action="second_factor.recovery_codes", context=RequestContext.of(self.request))
        return response


class SetupView(tf.SetupView):
    def get(self, request, *args, **kwargs):
        if authenticator_of(request.user):  # one authenticator per person; recovery codes cover loss
            return redirect(self.get_success_url())
        return super().get(request, *args, **kwargs)

    def get_form(self, step=None, **kwargs):
        form = super().get_form(step=step, **kwargs)
        _relabel(form, {"token": "Code from your authenticator app"})
        return form

    def done(self, form_list, **kwargs):
        response = super().done(form_list, **kwargs)
        services.record_page_view(action="second_factor.enrol", context=RequestContext.of(self.request))
        return response


urlpatterns = [
    path("account/login/", LoginView.as_view(), name="login"),
    path("account/two_factor/setup/", SetupView.as_view(), name="setup"),
    path("account/two_factor/qrcode/", tf.QRGeneratorView.as_view(), name="qr"),
    path("account/two_factor/setup/complete/", tf.SetupCompleteView.as_view(), name="setup_complete"),
    path("account/two_factor/backup/tokens/", BackupTokensView.as_view(), name="backup_tokens"),
    path("account/two_factor/", tf.ProfileView.as_view(), name="profile"),
]
two_factor_urls = (urlpatterns, "two_factor")
