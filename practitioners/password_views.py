"""Forgotten password: Django's reset-by-email views with Signpost's rules.

- Asking is throttled per network address (django-ratelimit, ``PASSWORD_RESET_RATE``) and
  audited (``password.reset.request``, with whether any account matched); the page never says
  whether the address is known.
- Setting the new password is audited (``password.reset``) in the same transaction. It signs
  nobody in: the authenticator code is still asked for at sign-in. Changing the password ends
  the user's other sessions (Django's session hash) and API tokens (practitioners.signals).
"""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template import loader
from django.urls import reverse_lazy

from audit.context import RequestContext
from outbox import services as outbox
from practitioners import services
from practitioners.throttles import over_rate

THROTTLED = ("Too many password resets have been asked for from your network recently. Try again later, "
             "or ask your local authority's Signpost administrator.")


class QueuedPasswordResetForm(PasswordResetForm):
    """Django's form, but the link is queued (``outbox``), so a mail server that is down never turns
    "we have sent you a link" into a server error; the send is retried and a failure recorded."""

    def send_mail(self, subject_template_name, email_template_name, context, from_email, to_email,
                  html_email_template_name=None):
        subject = "".join(loader.render_to_string(subject_template_name, context).splitlines())
        message = EmailMultiAlternatives(subject, loader.render_to_string(email_template_name, context),
                                         from_email, [to_email])
        if html_email_template_name is not None:
            message.attach_alternative(loader.render_to_string(html_email_template_name, context), "text/html")
        outbox.queue(message, kind="password_reset")


class PasswordResetView(auth_views.PasswordResetView):
    form_class = QueuedPasswordResetForm
    template_name = "practitioners/password_reset/form.html"
    email_template_name = "practitioners/password_reset/email.txt"
    subject_template_name = "practitioners/password_reset/subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "timeout_hours": max(1, settings.PASSWORD_RESET_TIMEOUT // 3600)}

    def post(self, request, *args, **kwargs):
        if over_rate(request, group="password_reset", rate=settings.PASSWORD_RESET_RATE,
                     why="password reset throttled"):
            form = self.get_form()
            form.is_valid()
            form.add_error(None, THROTTLED)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        matched = sum(1 for _ in form.get_users(form.cleaned_data["email"]))
        with transaction.atomic():  # the event commits with the queued email, which is sent after
            response = super().form_valid(form)
            services.record_password_reset_request(matched=matched, context=RequestContext.of(self.request))
        return response


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "practitioners/password_reset/done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "practitioners/password_reset/confirm.html"
    success_url = reverse_lazy("password_reset_complete")
    post_reset_login = False

    def form_valid(self, form):
        with transaction.atomic():
            response = super().form_valid(form)
            services.record_password_reset(user=form.user, context=RequestContext.of(self.request))
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "practitioners/password_reset/complete.html"
