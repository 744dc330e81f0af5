"""Web pages: search, the child record, and the record's actions. Thin: parse, call a service, render."""

from functools import wraps

from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from audit.context import RequestContext
from children import forms, matching, selectors, services
from practitioners import throttles
from practitioners.decorators import practitioner_required, record_viewer_required, refused_page
from practitioners.forms import add_service_errors
from practitioners.permissions import NoGrant, NotVetted

# Service errors are keyed by the model's field; the form shows them at its own inputs.
FORM_FIELD = {"ended_on": "end_day", "moved_in_on": "moved_day", "started_on": "start_day"}


def _record_refusals(view):
    """The service's refusals on a record page, already audited against the child: a vetted
    practitioner without a grant gets the request-access / break-glass choice; anyone else
    (an LA admin of another area) the refusal page."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NoGrant:
            return _no_grant(request, kwargs["reference"])
        except NotVetted as error:
            return refused_page(request, why="not_vetted", title="You cannot open this record", message=str(error))

    return wrapped


def _no_grant(request, reference: str):
    """403: the choice of requesting access or break-glass, and nothing of the record."""
    return render(request, "children/no_grant.html", {"reference": reference}, status=403)


@require_http_methods(["GET", "POST"])
@practitioner_required
def search(request):
    """Find a child: at least two of name, date of birth and postcode, or an identifier."""
    context = RequestContext.of(request)
    outcome = None
    if request.method == "POST":
        form = forms.SearchForm(request.POST)
        if form.is_valid():
            refusal = throttles.search_refused(request)
            if refusal is not None:  # over SEARCH_RATE_PER_MINUTE or _PER_DAY: audited, nothing searched
                response = render(request, "children/search_limit.html", {"refusal": refusal}, status=429)
                response["Retry-After"] = str(refusal.retry_after)
                return response
            mode = matching.FUZZY if form.cleaned_data["similar"] else matching.AUTO
            outcome = services.search_children(query=form.query(), mode=mode, context=context)
    else:
        form = forms.SearchForm()
    next_steps = None
    if outcome is not None and not outcome.candidates and not outcome.too_many:
        next_steps = selectors.next_steps_when_unmatched(postcode=form.cleaned_data.get("postcode", ""),
                                                         practitioner=request.practitioner)
    return render(request, "children/search.html", {"form": form, "outcome": outcome, "next_steps": next_steps},
                  status=400 if form.errors else 200)


@require_GET
@record_viewer_required
@_record_refusals
def record(request, reference):
    """The child record: who is working with the child now and before, and how to reach them."""
    child_record = services.open_record(reference=reference, context=RequestContext.of(request))
    return render(request, "children/record.html", {"record": child_record})


@require_http_methods(["GET", "POST"])
@practitioner_required
@_record_refusals
def add_involvement(request, reference):
    """Record that your organisation is working with this child."""
    context = RequestContext.of(request)
    organisation = request.practitioner.organisation
    form_kwargs = {
        "services": selectors.services_offered_by(organisation),
        "colleagues": selectors.colleagues_of(request.practitioner),
    }
    if request.method == "POST":
        form = forms.InvolvementForm(request.POST, **form_kwargs)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.add_involvement(reference=reference, context=context, involvement=services.NewInvolvement(
                    service=data["service"], started_on=data["started_on"], contact_phone=data["contact_phone"],
                    contact_email=data["contact_email"], lead_practitioner=data["lead_practitioner"]))
            except ValidationError as error:
                add_service_errors(form, error, fields=FORM_FIELD)
            else:
                return redirect("children:record", reference=reference)
    else:
        # Audited: the form lists the organisation's colleagues by name.
        services.open_involvement_form(reference=reference, context=context)
        form = forms.InvolvementForm(initial={"contact_phone": organisation.contact_phone,
                                              "contact_email": organisation.contact_email}, **form_kwargs)
    return render(request, "children/add_involvement.html",
                  {"form": form, "reference": reference, "organisation": organisation},
                  status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@practitioner_required
@_record_refusals
def end_involvement(request, reference, involvement_id):
    """End your organisation's involvement: its grants end with it."""
    context = RequestContext.of(request)
    if request.method == "GET":  # the page shows the involvement: an audited read
        involvement = services.open_involvement_to_end(reference=reference, involvement_id=involvement_id,
                                                       context=context)
    else:
        involvement = services.own_open_involvement(reference=reference, involvement_id=involvement_id,
                                                    context=context)
    form = forms.EndInvolvementForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.end_involvement(reference=reference, involvement_id=involvement_id,
                                     ended_on=form.cleaned_data["ended_on"], context=context)
        except ValidationError as error:
            add_service_errors(form, error, fields=FORM_FIELD)
        else:
            return redirect("children:record", reference=reference)
    return render(request, "children/end_involvement.html",
                  {"form": form, "reference": reference, "involvement": involvement},
                  status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@record_viewer_required
@_record_refusals
def record_move(request, reference):
    """Record a new address, in this or another local authority."""
    context = RequestContext.of(request)
    form = forms.MoveForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.record_move(reference=reference, context=context, address=services.NewAddress(
                address_line=data["address_line"], postcode=data["postcode"],
                local_authority=data["local_authority"], moved_in_on=data["moved_in_on"]))
        except ValidationError as error:
            add_service_errors(form, error, fields=FORM_FIELD)
        else:
            return redirect("children:record", reference=reference)
    elif request.method == "GET":
        services.check_record_access(reference=reference, context=context, action="child.move")
    return render(request, "children/move.html", {"form": form, "reference": reference},
                  status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@practitioner_required
def contact(request, reference):
    """Ask the services working with a child to contact you: from a search result, no grant needed.
    The confirmation names no service, route or number of services (SPEC 3.8)."""
    context = RequestContext.of(request)
    form = forms.ContactRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            sent = services.send_contact_request(reference=reference, reason=form.cleaned_data["reason"],
                                                 context=context)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return render(request, "children/contact_sent.html", {"reference": reference, "emailed": sent.emailed})
    elif request.method == "GET":
        services.open_contact_form(reference=reference, context=context)
    return render(request, "children/contact.html",
                  {"form": form, "reference": reference, "practitioner": request.practitioner},
                  status=400 if form.errors else 200)
