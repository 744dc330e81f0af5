"""Browser pages for feeds: tokens, review queue, merges, CSV uploads, data quality.

Thin views: parse, call one service (or audit-and-select), render. Every page writes
its audit event in the same transaction as its read or write; a refusal writes a
denied event.
"""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit import services as audit
from audit.context import RequestContext
from children.models import Child
from feeds import access, csv_format, merging, selectors, services
from feeds.forms import IssueTokenForm, MergeForm, QualityForm, ReviewDecisionForm, UploadForm
from feeds.models import ChildMerge, CsvUpload, MatchReview, OrganisationToken
from practitioners import permissions, roles
from practitioners.decorators import refuse, role_required, signed_in_required
from practitioners.middleware import background_request
from practitioners.models import Service


def _feed_page(guard, scope, refusal: str):
    """``guard`` (a ``practitioners.decorators`` guard) first; then ``scope(user)``, what this user may touch,
    as ``request.feed_scope`` (none -> refused); a PermissionDenied from the view (another authority's
    object) -> the refused page. Every refusal of a signed-in user is audited (``access.refused``)."""
    def decorator(view):
        @wraps(view)
        def scoped(request, *args, **kwargs):
            request.feed_scope = scope(request.user)
            if not request.feed_scope.exists():
                return refuse(request, why="wrong_role", title="You cannot use this page", message=refusal)
            try:
                return view(request, *args, **kwargs)
            except PermissionDenied as exc:
                return refuse(request, why="not_theirs", title="You cannot use this page", message=str(exc))
        return never_cache(guard(scoped))
    return decorator


la_admin_page = _feed_page(role_required(roles.LA_ADMIN), permissions.administered_authorities,
                           "This page is for LA admins only.")
uploader_page = _feed_page(signed_in_required, permissions.upload_organisations,
                           "Only LA admins and active practitioners can upload involvements.")


def _posted(request, part="POST"):
    """The submitted data for a form (even when empty), or None for a GET: an unbound form."""
    return getattr(request, part) if request.method == "POST" else None


def _audit(request, action, **details):
    audit.record_event(action=action, context=RequestContext.of(request), details=details)


# -- hub ----------------------------------------------------------------------------------------------------------

@require_GET
@la_admin_page
@transaction.atomic
def home(request):
    authorities = request.feed_scope
    _audit(request, "feed.hub.view")
    return render(request, "feeds/home.html", {
        "open_reviews": selectors.open_reviews_for(authorities).count(),
        "live_tokens": selectors.tokens_for(authorities).filter(revoked_at__isnull=True).count(),
        "authorities": authorities,
    })


# -- tokens -------------------------------------------------------------------------------------------------------

def _show_key(request, token, key):
    response = render(request, "feeds/token_issued.html", {"token": token, "key": key})
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
@la_admin_page
def tokens(request):
    authorities = request.feed_scope
    form = IssueTokenForm(_posted(request), organisations=selectors.organisations_of(authorities))
    if request.method == "POST" and form.is_valid():
        token, key = services.issue_token(user=request.user, organisation=form.cleaned_data["organisation"],
                                          name=form.cleaned_data["name"], context=RequestContext.of(request))
        return _show_key(request, token, key)
    with transaction.atomic():
        _audit(request, "feed.token.list")
        listed = list(selectors.tokens_for(authorities))
    return render(request, "feeds/tokens.html", {"form": form, "tokens": listed}, status=400 if form.errors else 200)


def _token_for(request, pk) -> OrganisationToken:
    token = get_object_or_404(OrganisationToken.objects.select_related("organisation"), pk=pk)
    access.require_admin_of(request.user, token.organisation.local_authority_id)
    return token


@require_POST
@la_admin_page
def token_rotate(request, pk):
    token = _token_for(request, pk)
    try:
        new, key = services.rotate_token(user=request.user, token=token, context=RequestContext.of(request))
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
        return redirect("feeds:tokens")
    return _show_key(request, new, key)


@require_http_methods(["GET", "POST"])
@la_admin_page
def token_revoke(request, pk):
    token = _token_for(request, pk)
    if request.method == "POST":
        if services.revoke_token(user=request.user, token=token, context=RequestContext.of(request)):
            messages.success(request, f"Token '{token.name}' revoked. Requests using it are refused from now on.")
        return redirect("feeds:tokens")
    with transaction.atomic():
        _audit(request, "feed.token.view", token_id=token.pk, organisation_id=token.organisation_id)
    return render(request, "feeds/token_revoke.html", {"token": token})


# -- review queue -------------------------------------------------------------------------------------------------

@require_GET
@la_admin_page
@transaction.atomic
def reviews(request):
    _audit(request, "feed.review.list")
    return render(request, "feeds/reviews.html", {"reviews": selectors.open_reviews_for(request.feed_scope)[:200]})


@require_http_methods(["GET", "POST"])
@la_admin_page
def review(request, pk):
    item = get_object_or_404(MatchReview.objects.select_related("organisation"), pk=pk)
    access.require_admin_of(request.user, item.organisation.local_authority_id)
    context = RequestContext.of(request)
    if not item.is_open:
        with transaction.atomic():
            _audit(request, "feed.review.view", review_id=item.pk, organisation_id=item.organisation_id)
        return render(request, "feeds/review_done.html", {"review": item})
    with transaction.atomic():
        view = services.open_review(user=request.user, review=item, context=context)
    form = ReviewDecisionForm(_posted(request), candidates=view.candidates)
    if request.method == "POST" and form.is_valid():
        decision = form.cleaned_data["decision"]
        try:
            if decision == "new":
                involvement = services.decide_new_child(user=request.user, review=item, context=context)
                messages.success(request, f"New record {involvement.child.reference} created with the involvement.")
            else:
                involvement = services.decide_same_child(user=request.user, review=item, child_id=int(decision),
                                                         context=context)
                messages.success(request, f"The involvement was added to record {involvement.child.reference}.")
        except ValidationError as exc:
            form.add_error("decision", exc.messages[0])
        else:
            return redirect("feeds:reviews")
    service = Service.objects.filter(code=view.row.get("service")).first()
    # SPEC 2: a sensitive service is never named to others, here the reviewing admin included.
    row_service = "" if service is None else "A sensitive service" if service.sensitive else service.name
    return render(request, "feeds/review.html", {
        "view": view, "form": form, "row_service": row_service,
        "row_sex": dict(Child.Sex.choices).get(view.row.get("sex"), "Not known"),
    }, status=400 if form.errors else 200)


# -- merges -------------------------------------------------------------------------------------------------------

@require_GET
@la_admin_page
@transaction.atomic
def merges(request):
    _audit(request, "child.merge.list")
    return render(request, "feeds/merges.html", {"merges": selectors.merges_for(request.feed_scope)[:200]})


@require_http_methods(["GET", "POST"])
@la_admin_page
def merge(request):
    authorities = request.feed_scope
    form = MergeForm(_posted(request), authorities=authorities)
    context = RequestContext.of(request)
    if request.method == "POST" and form.is_valid():
        merged, into = form.cleaned_data["merged_reference"], form.cleaned_data["into_reference"]
        if request.POST.get("confirm") == "yes":
            try:
                merging.merge_children(user=request.user, merged_child=merged, into=into,
                                              reason=form.cleaned_data["reason"], context=context)
            except ValidationError as exc:
                form.add_error(None, exc.messages[0])
            else:
                messages.success(request, f"Record {merged.reference} was merged into {into.reference}.")
                return redirect("feeds:merges")
        if not form.errors:
            try:
                merging.check_mergeable(merged, into)
            except ValidationError as exc:
                form.add_error(None, exc.messages[0])
            else:
                with transaction.atomic():
                    _audit(request, "child.merge.preview", children=[merged.reference, into.reference])
                return render(request, "feeds/merge_confirm.html", {"form": form, "merged": merged, "into": into})
    with transaction.atomic():
        _audit(request, "child.merge.form")
    return render(request, "feeds/merge.html", {"form": form}, status=400 if form.errors else 200)


@require_POST
@la_admin_page
def merge_undo(request, pk):
    item = get_object_or_404(ChildMerge.objects.select_related("merged_child", "into"), pk=pk)
    access.require_admin_of(request.user, item.into.local_authority_id)
    try:
        merging.undo_merge(user=request.user, merge=item, context=RequestContext.of(request))
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, f"Merge undone: {item.merged_child.reference} is a record of its own again.")
    return redirect("feeds:merges")


# -- data quality -------------------------------------------------------------------------------------------------

@require_GET
@la_admin_page
@transaction.atomic
def quality(request):
    form = QualityForm(request.GET or None, initial={"months": settings.FEED_STALE_MONTHS})
    months = form.cleaned_data["months"] if form.is_valid() else settings.FEED_STALE_MONTHS
    _audit(request, "feed.quality.view", months=months)
    report = selectors.data_quality(authorities=request.feed_scope, now=timezone.now(), stale_months=months)
    return render(request, "feeds/quality.html", {"form": form, "report": report},
                  status=400 if form.errors else 200)


# -- CSV uploads --------------------------------------------------------------------------------------------------

@require_http_methods(["GET", "POST"])
@uploader_page
def upload(request):
    organisations = request.feed_scope
    form = UploadForm(_posted(request), _posted(request, "FILES"), organisations=organisations)
    if request.method == "POST" and form.is_valid():
        file = form.cleaned_data["file"]
        item = services.start_upload(user=request.user, organisation=form.cleaned_data["organisation"],
                                     filename=file.name, content=file.read(), context=RequestContext.of(request))
        return redirect("feeds:upload_detail", pk=item.pk)
    with transaction.atomic():
        _audit(request, "feed.csv.form")
        authorities = permissions.administered_authorities(request.user)
        recent = list(selectors.uploads_visible_to(request.user, authorities)[:20])
    return render(request, "feeds/upload.html", {
        "form": form, "columns": csv_format.COLUMNS, "services": Service.objects.filter(
            organisations__in=organisations).distinct().order_by("name"),
        "uploads": recent, "max_rows": settings.FEED_CSV_MAX_ROWS,
    }, status=400 if form.errors else 200)


@require_GET
@uploader_page
@transaction.atomic
def upload_template(request):
    _audit(request, "feed.csv.template")
    response = HttpResponse(csv_format.template(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="signpost-involvements-template.csv"'
    return response


def _upload_for(request, pk) -> CsvUpload:
    # Never the file itself: the status endpoint is polled every second or two.
    item = get_object_or_404(CsvUpload.objects.select_related("organisation").defer("content"), pk=pk)
    access.require_upload_access(request.user, item)
    return item


@require_http_methods(["GET", "POST"])
@uploader_page
def upload_detail(request, pk):
    item = _upload_for(request, pk)
    context = RequestContext.of(request)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "commit" and services.commit_upload(user=request.user, upload=item, context=context):
            messages.success(request, "Adding the involvements. This page shows the progress.")
        elif action == "discard" and services.discard_upload(user=request.user, upload=item, context=context):
            messages.success(request, "The upload was discarded; nothing was added.")
        return redirect("feeds:upload_detail", pk=item.pk)
    with transaction.atomic():
        _audit(request, "feed.csv.view", upload_id=item.pk, organisation_id=item.organisation_id)
    return render(request, "feeds/upload_detail.html", {
        "upload": item, "errors": item.errors[:200], "status_url": reverse("feeds:upload_status", args=[item.pk]),
    })


@background_request  # polled by the progress page's script: does not renew the idle timer
@require_GET
@uploader_page
@transaction.atomic
def upload_status(request, pk):
    item = _upload_for(request, pk)
    _audit(request, "feed.csv.status", upload_id=item.pk)
    return JsonResponse({
        "status": item.status, "label": item.get_status_display(), "processed": item.processed_rows,
        "total": item.total_rows, "percent": item.percent, "in_progress": item.in_progress,
    })


@require_GET
@uploader_page
@transaction.atomic
def upload_errors(request, pk):
    item = _upload_for(request, pk)
    _audit(request, "feed.csv.errors", upload_id=item.pk)
    body = csv_format.write_rows(["line", "column", "message"],
                                 [[e["line"], e["column"], e["message"]] for e in item.errors])
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="upload-{item.pk}-errors.csv"'
    return response
