"""Page guards for every app: who may reach a view, decided by ``practitioners.permissions``.

Order of the checks, the same for every guard:
1. not signed in -> redirect to the sign-in page (with ``next``);
2. signed in without a verified second factor -> set one up (no authenticator yet), or a
   403 page asking to sign in again with the code;
3. suspended or expired -> 403 (the middleware also ends such sessions);
4. not the role the page is for (or not a vetted, active practitioner) -> 403.
Refusals of signed-in users are audited (``access.refused``).
"""

from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect, render
from django.urls import reverse
from django_otp import user_has_device

from audit.context import RequestContext
from practitioners import permissions, roles, services
from practitioners.models import Practitioner

ROLE_PAGES = {
    roles.PRACTITIONER: "practitioners",
    roles.LA_ADMIN: "LA admins",
    roles.AUDITOR: "auditors",
}


def refused_page(request, *, why: str, title: str, message: str, status: int = 403):
    """The 403 page, with the reason a person can act on. Not audited: for refusals already audited."""
    return render(request, "practitioners/refused.html", {"title": title, "message": message, "why": why},
                  status=status)


def refuse(request, *, why: str, title: str, message: str, status: int = 403):
    """The 403 page, with the reason a person can act on; audited for signed-in users."""
    if request.user.is_authenticated:
        services.record_refusal(context=RequestContext.of(request), why=why, path=request.get_full_path())
    return refused_page(request, why=why, title=title, message=message, status=status)


def _second_factor_gate(request):
    """The response for steps 1-3 above, or None when the user may go on."""
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not permissions.second_factor_verified(user):
        if not user_has_device(user):
            return redirect(f"{reverse('two_factor:setup')}?{urlencode({'next': request.get_full_path()})}")
        return refuse(request, why="unverified", title="Sign in again with your code",
                      message="This page needs the code from your authenticator app. Sign out, then sign in "
                              "again with your password and the code.")
    if permissions.is_barred(user):
        return refuse(request, why="barred", title="Your access is suspended",
                      message="Your Signpost account is suspended or has expired. Contact your local authority's "
                              "Signpost administrator.")
    return None


def signed_in_required(view):
    """Steps 1-3 only: for a page open to several roles, whose view then asks ``permissions`` which of
    its things this user may touch and refuses (``refuse``) when none (e.g. feeds' CSV uploads: an LA
    admin or a vetted practitioner)."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        refusal = _second_factor_gate(request)
        if refusal is not None:
            return refusal
        return view(request, *args, **kwargs)

    return guarded


def _not_vetted_message(user) -> tuple[str, str]:
    practitioner = permissions.practitioner_of(user)
    if practitioner is None or not roles.has_role(user, roles.PRACTITIONER):
        return "wrong_role", "This page is for practitioners only."
    if practitioner.status == Practitioner.Status.PENDING:
        return "pending", ("Your account is waiting for approval by your local authority's Signpost "
                           "administrator. You can use Signpost once they have checked your vetting and training.")
    if not practitioner.credentials_current():
        return "lapsed", ("Your vetting check or safeguarding training is out of date. Ask your local authority's "
                          "Signpost administrator to record the renewed dates.")
    return "not_vetted", "Your account cannot search Signpost at the moment. Contact your Signpost administrator."


def practitioner_required(view):
    """Only a vetted, active practitioner with a verified second factor; sets ``request.practitioner``."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        refusal = _second_factor_gate(request)
        if refusal is not None:
            return refusal
        if not permissions.may_search(request.user):
            why, message = _not_vetted_message(request.user)
            return refuse(request, why=why, title="You cannot use this page", message=message)
        request.practitioner = permissions.practitioner_of(request.user)
        return view(request, *args, **kwargs)

    return guarded


def record_viewer_required(view):
    """The child record's pages: a vetted practitioner or an LA admin, second factor verified.

    Which record each may open (own area, live grant) is decided per child by the service
    (``permissions.require_may_open_record``), which audits that refusal against the child.
    """

    @wraps(view)
    def guarded(request, *args, **kwargs):
        refusal = _second_factor_gate(request)
        if refusal is not None:
            return refusal
        if not permissions.may_open_records(request.user):
            why, message = _not_vetted_message(request.user)
            if why == "wrong_role":
                message = "This page is for practitioners and LA admins only."
            return refuse(request, why=why, title="You cannot use this page", message=message)
        return view(request, *args, **kwargs)

    return guarded


def role_required(role: str):
    """Only users holding ``role`` (LA admin, auditor, practitioner group) with a verified second factor.

    For ``roles.LA_ADMIN`` the user must also administer at least one local authority;
    which one(s) a page may touch is the service's check.
    """
    if role not in roles.ALL:
        raise ValueError(f"Unknown role {role!r}")

    def decorator(view):
        @wraps(view)
        def guarded(request, *args, **kwargs):
            refusal = _second_factor_gate(request)
            if refusal is not None:
                return refusal
            allowed = roles.has_role(request.user, role)
            if role == roles.LA_ADMIN:
                allowed = permissions.administered_authorities(request.user).exists()
            elif role == roles.AUDITOR:
                allowed = permissions.is_auditor(request.user)
            if not allowed:
                return refuse(request, why="wrong_role", title="You cannot use this page",
                              message=f"This page is for {ROLE_PAGES[role]} only.")
            return view(request, *args, **kwargs)

        return guarded

    return decorator


class PractitionerRequiredMixin:
    """Class-based views: the same guard as ``practitioner_required``."""

    def dispatch(self, request, *args, **kwargs):
        return practitioner_required(super().dispatch)(request, *args, **kwargs)


class RoleRequiredMixin:
    """Class-based views: set ``required_role`` to one of ``practitioners.roles``."""

    required_role: str = ""

    def dispatch(self, request, *args, **kwargs):
        return role_required(self.required_role)(super().dispatch)(request, *args, **kwargs)
