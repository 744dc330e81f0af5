"""Pages for practitioners (access requests, break-glass) and LA admins (the console).

Views parse input, call one service, and render. Every page that shows people's
details records a view event in the same transaction as its reads.
"""

from datetime import datetime, time

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from audit.context import RequestContext
from children.models import Child
from practitioners import forms, permissions, roles, selectors, services
from practitioners.decorators import practitioner_required, refuse, role_required
from practitioners.models import AccessGrant, AccessRequest, Organisation, Practitioner
from practitioners import throttles
from practitioners.throttles import over_rate


def _other_la(request):
    return refuse(request, why="other_la", title="You cannot use this page",
                  message="This belongs to another local authority: only its own LA admins can act on it.")


def _end_of_day(day):
    """Access approved "until 3 May" lasts to the end of 3 May, local time."""
    return timezone.make_aware(datetime.combine(day, time(23, 59, 59)))


# --- Self-registration --------------------------------------------------------------------

REGISTRATION_THROTTLED = ("Too many accounts have been asked for from your network recently. "
                          "Try again later, or ask your local authority's Signpost administrator.")


@require_http_methods(["GET", "POST"])
def register(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = forms.RegistrationForm(request.POST or None)
    if request.method == "POST" and over_rate(request, group="practitioners.register", rate=settings.REGISTRATION_RATE,
                                              why="registration throttled"):
        form = forms.RegistrationForm(request.POST)
        form.full_clean()
        form.add_error(None, REGISTRATION_THROTTLED)
        return render(request, "practitioners/register.html", {"form": form}, status=429)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with transaction.atomic():
            practitioner = services.register_practitioner(
                password=data["password1"], first_name=data["first_name"],
                last_name=data["last_name"], email=data["email"], organisation=data["organisation"],
                job_title=data["job_title"], work_phone=data["work_phone"], work_email=data["email"],
                context=RequestContext.of(request),
            )
            transaction.on_commit(lambda: services.send_username_email(practitioner=practitioner))
        request.session[NEW_USERNAME] = practitioner.user.get_username()  # shown once, on the next page
        return redirect("practitioners:registered")
    return render(request, "practitioners/register.html", {"form": form})


NEW_USERNAME = "signpost_registered_username"


def registered(request):
    return render(request, "practitioners/registered.html", {"username": request.session.pop(NEW_USERNAME, "")})


# --- Practitioner: access requests and break-glass ------------------------------------------

def _child(reference) -> Child:
    return get_object_or_404(Child.objects.active().select_related("local_authority"), reference=reference)


@require_http_methods(["GET", "POST"])
@practitioner_required
def request_access(request, reference):
    child = _child(reference)
    practitioner = request.practitioner
    if permissions.may_open_child(practitioner, child):
        return redirect(child.get_absolute_url())
    waiting = selectors.open_request_for(practitioner, child)
    form = forms.AccessRequestForm(request.POST or None)
    context = RequestContext.of(request)
    if request.method == "POST" and waiting is None and form.is_valid():
        try:
            services.request_access(practitioner=practitioner, child=child, reason=form.cleaned_data["reason"],
                                    context=context)
        except ValidationError as error:
            forms.add_service_errors(form, error)
        else:
            messages.success(request, f"Your request for record {child.reference} has been sent to "
                                      f"{child.local_authority.name}'s Signpost administrators.")
            return redirect("practitioners:my_requests")
    if request.method == "GET":
        services.record_page_view(action="access_request.start", context=context, child=child)
    return render(request, "practitioners/request_access.html", {"child": child, "form": form, "waiting": waiting})


@require_http_methods(["GET", "POST"])
@practitioner_required
def break_glass(request, reference):
    child = _child(reference)
    practitioner = request.practitioner
    if permissions.may_open_child(practitioner, child):
        return redirect(child.get_absolute_url())
    form = forms.BreakGlassForm(request.POST or None)
    context = RequestContext.of(request)
    if request.method == "POST" and form.is_valid():
        try:
            services.break_glass(practitioner=practitioner, child=child, reason=form.cleaned_data["reason"],
                                 context=context)
        except ValidationError as error:
            forms.add_service_errors(form, error)
        else:
            return redirect(child.get_absolute_url())
    if request.method == "GET":
        services.record_page_view(action="break_glass.start", context=context, child=child)
    return render(request, "practitioners/break_glass.html", {
        "child": child, "form": form, "window_hours": int(settings.BREAK_GLASS_WINDOW.total_seconds() // 3600),
    })


@practitioner_required
def my_requests(request):
    with transaction.atomic():
        services.record_page_view(action="access_request.list_own", context=RequestContext.of(request))
        rows = list(selectors.access_requests_of(request.practitioner)[:100])
    return render(request, "practitioners/my_requests.html", {"requests": rows, "now": timezone.now()})


# --- LA admin console ---------------------------------------------------------------------

@role_required(roles.LA_ADMIN)
def console(request):
    with transaction.atomic():
        services.record_page_view(action="console.home", context=RequestContext.of(request))
        summary = selectors.console_summary(request.user)
    return render(request, "practitioners/console/home.html", {"summary": summary})


@role_required(roles.LA_ADMIN)
def practitioner_list(request):
    form = forms.StatusFilterForm(request.GET or None)
    status = form.cleaned_data["status"] if form.is_valid() else ""
    with transaction.atomic():
        services.record_page_view(action="console.practitioners", context=RequestContext.of(request),
                                  details={"status": status})
        rows = list(selectors.practitioners_administered_by(request.user, status=status)[:500])
    return render(request, "practitioners/console/practitioner_list.html",
                  {"form": form, "rows": rows, "status": status, "statuses": Practitioner.Status.choices})


def _administered_practitioner(request, pk):
    """The practitioner, or a refusal response when another LA's (404 when there is none)."""
    practitioner = get_object_or_404(
        Practitioner.objects.select_related("user", "organisation__local_authority", "approved_by"), pk=pk)
    try:
        permissions.require_administers_practitioner(request.user, practitioner)
    except PermissionDenied:
        return None, _other_la(request)
    return practitioner, None


@require_http_methods(["GET", "POST"])
@role_required(roles.LA_ADMIN)
def new_practitioner(request):
    """Create an approved account for a practitioner of one of the admin's organisations; they are
    emailed a link to set their password."""
    organisations = Organisation.objects.filter(
        local_authority__in=permissions.administered_authorities(request.user)).select_related("local_authority")
    form = forms.NewAccountForm(request.POST or None, organisations=organisations)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                practitioner = services.create_practitioner_account(
                    username=data["username"], first_name=data["first_name"], last_name=data["last_name"],
                    email=data["email"], organisation=data["organisation"], job_title=data["job_title"],
                    work_phone=data["work_phone"], vetting_checked_on=data["vetting_checked_on"],
                    vetting_expires_on=data["vetting_expires_on"],
                    training_completed_on=data["training_completed_on"], context=RequestContext.of(request))
                transaction.on_commit(lambda: services.send_set_password_email(
                    practitioner=practitioner, site_url=request.build_absolute_uri("/")))
        except PermissionDenied:
            return _other_la(request)
        except ValidationError as error:
            forms.add_service_errors(form, error)
        else:
            messages.success(request, f"Account created. We have emailed {practitioner.user.email} a link to set "
                                      "a password.")
            return redirect("practitioners:practitioner_detail", pk=practitioner.pk)
    return render(request, "practitioners/console/new_practitioner.html", {"form": form})


@role_required(roles.LA_ADMIN)
def practitioner_detail(request, pk):
    practitioner, refusal = _administered_practitioner(request, pk)
    if refusal:
        return refusal
    with transaction.atomic():
        services.record_page_view(action="console.practitioner", context=RequestContext.of(request),
                                  details={"practitioner_id": practitioner.pk})
        history = list(practitioner.status_changes.select_related("changed_by"))
        grants = list(practitioner.grants.live().select_related("child").order_by("expires_at")[:50])
        organisation_records = permissions.children_with_organisation_access(practitioner.organisation).count()
        lockout = throttles.sign_in_lockout(practitioner.user)
    return render(request, "practitioners/console/practitioner_detail.html", {
        "practitioner": practitioner, "history": history, "grants": grants,
        "organisation_records": organisation_records, "lockout": lockout,
        "vetting_current": practitioner.vetting_current(), "training_current": practitioner.training_current(),
    })


@require_POST
@role_required(roles.LA_ADMIN)
def clear_lockout(request, pk):
    """Let a practitioner who is locked out of signing in try again now (audited)."""
    practitioner, refusal = _administered_practitioner(request, pk)
    if refusal:
        return refusal
    try:
        services.clear_sign_in_lockout(practitioner=practitioner, context=RequestContext.of(request))
    except PermissionDenied:
        return _other_la(request)
    messages.success(request, "Sign-in lockout cleared. The practitioner can sign in again now.")
    return redirect("practitioners:practitioner_detail", pk=practitioner.pk)


def _lifecycle_view(request, pk, *, form_class, template, act, success, action):
    practitioner, refusal = _administered_practitioner(request, pk)
    if refusal:
        return refusal
    initial = {f: getattr(practitioner, f) for f in ("vetting_checked_on", "vetting_expires_on",
                                                     "training_completed_on")}
    form = form_class(request.POST or None, initial=initial if form_class is forms.VettingForm else None)
    if request.method == "POST" and form.is_valid():
        try:
            act(practitioner, form.cleaned_data, RequestContext.of(request))
        except PermissionDenied:
            return _other_la(request)
        except ValidationError as error:
            forms.add_service_errors(form, error)
        else:
            messages.success(request, success)
            return redirect("practitioners:practitioner_detail", pk=practitioner.pk)
    if request.method == "GET":
        services.record_page_view(action=f"console.{action}_form", context=RequestContext.of(request),
                                  details={"practitioner_id": practitioner.pk})
    return render(request, template, {"practitioner": practitioner, "form": form})


@require_http_methods(["GET", "POST"])
@role_required(roles.LA_ADMIN)
def approve(request, pk):
    def act(practitioner, data, context):
        services.approve_practitioner(
            practitioner=practitioner, vetting_checked_on=data["vetting_checked_on"],
            vetting_expires_on=data["vetting_expires_on"], training_completed_on=data["training_completed_on"],
            reason=data["note"], context=context)
    return _lifecycle_view(request, pk, form_class=forms.ApproveForm, template="practitioners/console/approve.html", action="approve",
                           act=act, success="Account approved. The practitioner can now use Signpost.")


@require_http_methods(["GET", "POST"])
@role_required(roles.LA_ADMIN)
def suspend(request, pk):
    def act(practitioner, data, context):
        services.suspend_practitioner(practitioner=practitioner, reason=data["reason"], context=context)
    return _lifecycle_view(request, pk, form_class=forms.SuspendForm, template="practitioners/console/suspend.html", action="suspend",
                           act=act, success="Account suspended. The practitioner has been signed out everywhere.")


@require_http_methods(["GET", "POST"])
@role_required(roles.LA_ADMIN)
def reinstate(request, pk):
    def act(practitioner, data, context):
        services.reinstate_practitioner(
            practitioner=practitioner, reason=data["reason"], context=context,
            vetting_checked_on=data["vetting_checked_on"], vetting_expires_on=data["vetting_expires_on"],
            training_completed_on=data["training_completed_on"])
    return _lifecycle_view(request, pk, form_class=forms.ReinstateForm,
                           template="practitioners/console/reinstate.html", action="reinstate", act=act,
                           success="Account reinstated. The practitioner can use Signpost again.")


@require_http_methods(["GET", "POST"])
@role_required(roles.LA_ADMIN)
def vetting(request, pk):
    def act(practitioner, data, context):
        services.update_vetting_and_training(
            practitioner=practitioner, vetting_checked_on=data["vetting_checked_on"],
            vetting_expires_on=data["vetting_expires_on"], training_completed_on=data["training_completed_on"],
            context=context)
    return _lifecycle_view(request, pk, form_class=forms.VettingForm, template="practitioners/console/vetting.html", action="vetting",
                           act=act, success="Vetting and training dates saved.")


@role_required(roles.LA_ADMIN)
def access_requests(request):
    with transaction.atomic():
        services.record_page_view(action="console.access_requests", context=RequestContext.of(request))
        rows = list(selectors.open_access_requests_for(request.user)[:200])
    return render(request, "practitioners/console/access_requests.html", {"rows": rows})


@require_http_methods(["GET", "POST"])
@role_required(roles.LA_ADMIN)
def decide_access_request(request, pk):
    access_request = get_object_or_404(
        AccessRequest.objects.select_related("child__local_authority", "practitioner__user",
                                             "practitioner__organisation__local_authority"), pk=pk)
    try:
        permissions.require_decides_for_child(request.user, access_request.child)
    except PermissionDenied:
        return _other_la(request)
    form = forms.DecisionForm(request.POST or None)
    context = RequestContext.of(request)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["decision"] == form.APPROVE:
                services.approve_access_request(access_request=access_request,
                                                expires_at=_end_of_day(data["expires_on"]), context=context)
                messages.success(request, f"Access approved until {data['expires_on']:%-d %B %Y}.")
            else:
                services.refuse_access_request(access_request=access_request, reason=data["refusal_reason"],
                                               context=context)
                messages.success(request, "Request refused. The practitioner can see your reason.")
        except ValidationError as error:
            forms.add_service_errors(form, error)
        else:
            return redirect("practitioners:access_requests")
    if request.method == "GET":
        services.record_page_view(action="console.access_request", context=context, child=access_request.child,
                                  details={"access_request_id": access_request.pk})
    return render(request, "practitioners/console/decide_access_request.html",
                  {"access_request": access_request, "form": form})


@role_required(roles.LA_ADMIN)
def break_glass_reviews(request):
    with transaction.atomic():
        services.record_page_view(action="console.break_glass", context=RequestContext.of(request))
        awaiting = list(selectors.break_glass_uses_for(request.user, awaiting_review=True)[:200])
        reviewed = list(selectors.break_glass_uses_for(request.user, awaiting_review=False)[:50])
    return render(request, "practitioners/console/break_glass_reviews.html",
                  {"awaiting": awaiting, "reviewed": reviewed, "now": timezone.now()})


@require_http_methods(["GET", "POST"])
@role_required(roles.LA_ADMIN)
def review_break_glass(request, pk):
    grant = get_object_or_404(AccessGrant.objects.break_glass().select_related(
        "child__local_authority", "practitioner__user", "practitioner__organisation", "reviewed_by"), pk=pk)
    try:
        permissions.require_decides_for_child(request.user, grant.child)
    except PermissionDenied:
        return _other_la(request)
    form = forms.BreakGlassReviewForm(request.POST or None)
    context = RequestContext.of(request)
    if request.method == "POST" and form.is_valid():
        try:
            services.review_break_glass(grant=grant, outcome=form.cleaned_data["outcome"],
                                        comment=form.cleaned_data["comment"], context=context)
        except ValidationError as error:
            forms.add_service_errors(form, error)
        else:
            messages.success(request, "Review recorded.")
            return redirect("practitioners:break_glass_reviews")
    if request.method == "GET":
        services.record_page_view(action="console.break_glass_use", context=context, child=grant.child,
                                  details={"grant_id": grant.pk})
    return render(request, "practitioners/console/review_break_glass.html",
                  {"grant": grant, "form": form, "now": timezone.now()})
