"""The auditors' console: thin views; each read is audited in the same transaction (fail closed).

Auditors see the log and child references, never anything from a child's record.
"""

import csv
import json
from datetime import UTC, date
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from audit import actions, selectors, services
from audit.context import RequestContext
from audit.forms import AnomalyFilterForm, ChildReportForm, EventFilterForm, ReviewForm
from audit.models import AccessEvent
from practitioners import permissions


def auditor_required(view):
    """Signed in -> Auditor role -> verified second factor, else the login page or 403 (audited)."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not permissions.is_auditor(request.user):
            services.record_event(action="audit.console.refused", context=RequestContext.of(request),
                                  outcome=AccessEvent.Outcome.DENIED, details={"path": request.path[:200]})
            raise PermissionDenied("The audit console is for auditors with a verified second factor.")
        return view(request, *args, **kwargs)

    return guarded


def _query_without(request, *names) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


@require_GET
@auditor_required
def events(request):
    form = EventFilterForm(request.GET or None)
    event_filter = form.event_filter() if form.is_valid() else selectors.EventFilter()
    with transaction.atomic():
        services.record_event(action="audit.events.view", context=RequestContext.of(request),
                              details={"filter": event_filter.as_details()})
        page = selectors.page_of(selectors.events_matching(event_filter), before=request.GET.get("before", ""),
                                 after=request.GET.get("after", ""), size=settings.AUDIT_PAGE_SIZE)
    return render(request, "audit/events.html", {
        "form": form, "page": page, "rows": _rows(page), "section": "events",
        "query": _query_without(request, "before", "after"),
    })


def _rows(page):
    return [{"event": e, "label": actions.label(e.action),
             "organisation": page.organisation_names.get(e.organisation_id, "")} for e in page.events]


# CSV ---------------------------------------------------------------------------

FORMULA_START = frozenset("=+-@\t\r")


def safe_cell(value) -> str:
    """A CSV cell a spreadsheet will not run: text starting like a formula gets a leading quote (SPEC 8)."""
    if value is None:
        return ""
    if value is True or value is False:
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    return "'" + text if text and text[0] in FORMULA_START else text


class _Line:
    """csv.writer target that hands back each line instead of keeping it."""

    def write(self, value):
        return value


def _stream_csv(header, rows_in_batches):
    writer = csv.writer(_Line())
    yield writer.writerow(header)
    for rows in rows_in_batches:
        yield "".join(writer.writerow([safe_cell(cell) for cell in row]) for row in rows)


def _csv_response(filename, header, rows_in_batches) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_stream_csv(header, rows_in_batches), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


EXPORT_HEADER = [
    "event_id", "occurred_at_utc", "actor_username", "actor_role", "organisation_id", "organisation",
    "local_authority_id", "action", "child_ref", "child_local_authority_id", "shielded", "outcome", "reason",
    "request_id", "ip_address", "user_agent", "details", "chain", "seq", "prev_hash", "hash",
]


def _export_rows(queryset):
    for batch in selectors.batches(queryset):
        names = selectors.organisation_names({e["organisation_id"] for e in batch})
        yield [[
            e["id"], e["occurred_at"].astimezone(UTC).isoformat(), e["actor_username"], e["actor_role"],
            e["organisation_id"], names.get(e["organisation_id"], ""), e["local_authority_id"], e["action"],
            e["child_ref"], e["child_local_authority_id"], e["shielded"], e["outcome"], e["reason"], e["request_id"],
            e["ip_address"], e["user_agent"], json.dumps(e["details"], sort_keys=True), e["chain"], e["seq"],
            e["prev_hash"], e["hash"],
        ] for e in batch]


@require_GET
@auditor_required
def export_events(request):
    """The filtered log as CSV, streamed a batch at a time (memory stays flat). Audited before any row."""
    form = EventFilterForm(request.GET or None)
    if request.GET and not form.is_valid():
        return redirect(f"{reverse('audit:events')}?{request.GET.urlencode()}")
    event_filter = form.event_filter() if request.GET else selectors.EventFilter()
    services.record_event(action="audit.events.export", context=RequestContext.of(request),
                          details={"filter": event_filter.as_details()})
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return _csv_response(f"audit-log-{stamp}.csv", EXPORT_HEADER,
                         _export_rows(selectors.events_matching(event_filter)))


# Who accessed this record ----------------------------------------------------------

@require_GET
@auditor_required
def child_report(request):
    form = ChildReportForm(request.GET or None)
    context = {"form": form, "section": "child_report"}
    if form.is_valid():
        ref = form.cleaned_data["ref"]
        with transaction.atomic():
            services.record_event(action="audit.child_report", context=RequestContext.of(request), child_ref=ref)
            page = selectors.page_of(selectors.accesses_of_child(ref), before=request.GET.get("before", ""),
                                     after=request.GET.get("after", ""), size=settings.AUDIT_PAGE_SIZE)
        context.update(ref=ref, page=page, rows=_report_rows(page.events, page.organisation_names, ref),
                       query=_query_without(request, "before", "after"))
    else:
        services.record_event(action="audit.child_report", context=RequestContext.of(request),
                              details={"form": "blank" if not request.GET else "invalid"})
    return render(request, "audit/child_report.html", context)


def _report_rows(events, names, ref):
    return [{
        "event": e, "label": actions.label(e.action), "organisation": names.get(e.organisation_id, ""),
        "how": _how(e.child_ref, ref),
    } for e in events]


def _how(child_ref, ref):
    return "About this child" if child_ref == ref else "In search results"


REPORT_HEADER = ["child_ref", "occurred_at_utc", "who", "role", "organisation", "what", "how", "outcome", "reason", "event_id"]


def _report_csv_rows(queryset, ref):
    for batch in selectors.batches(queryset):
        names = selectors.organisation_names({e["organisation_id"] for e in batch})
        yield [[ref, e["occurred_at"].astimezone(UTC).isoformat(), e["actor_username"], e["actor_role"],
                names.get(e["organisation_id"], ""), actions.label(e["action"]), _how(e["child_ref"], ref),
                e["outcome"], e["reason"], e["id"]] for e in batch]


@require_GET
@auditor_required
def child_report_csv(request):
    form = ChildReportForm(request.GET or None)
    if not form.is_valid():
        return redirect(f"{reverse('audit:child_report')}?{request.GET.urlencode()}")
    ref = form.cleaned_data["ref"]
    services.record_event(action="audit.child_report.export", context=RequestContext.of(request), child_ref=ref)
    return _csv_response(f"who-accessed-{ref}.csv", REPORT_HEADER,
                         _report_csv_rows(selectors.accesses_of_child(ref), ref))


# Anomalies -----------------------------------------------------------------------

@require_GET
@auditor_required
def anomalies(request):
    form = AnomalyFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    kind = request.GET.get("kind") if request.GET.get("kind") in selectors.ANOMALY_KINDS else "break_glass"
    since, until = AnomalyFilterForm.period(data)
    include_reviewed = bool(data.get("include_reviewed"))
    context = {"form": form, "kind": kind, "kinds": selectors.ANOMALY_KINDS, "since": since, "until": until,
               "include_reviewed": include_reviewed, "section": "anomalies",
               "threshold": settings.AUDIT_SEARCHES_PER_DAY_THRESHOLD}
    with transaction.atomic():
        services.record_event(action="audit.anomalies.view", context=RequestContext.of(request),
                              details={"kind": kind, "since": since.isoformat(), "until": until.isoformat()})
        if kind == "search_volume":
            context["volumes"] = selectors.heavy_searchers(
                since=since, until=until, threshold=settings.AUDIT_SEARCHES_PER_DAY_THRESHOLD,
                include_reviewed=include_reviewed)
        else:
            page = selectors.page_of(
                selectors.anomalous_events(kind, since=since, until=until, include_reviewed=include_reviewed),
                before=request.GET.get("before", ""), after=request.GET.get("after", ""),
                size=settings.AUDIT_PAGE_SIZE)
            context.update(page=page, rows=_rows(page), reviews=selectors.reviews_for(page.events))
    context["query"] = _query_without(request, "before", "after")
    context["tab_query"] = _query_without(request, "before", "after", "kind")
    return render(request, "audit/anomalies.html", context)


def _anomaly(key: str):
    """(kind, event or None, search-volume row or None) for an anomaly key; 404 if it is not one."""
    if key.startswith("event:"):
        event = AccessEvent.objects.filter(pk=_int(key[6:])).first()
        if event is None:
            raise Http404
        for kind in ("break_glass", "claimed", "shielded", "denied", "out_of_area"):
            since = until = timezone.localtime(event.occurred_at).date()
            if selectors.anomalous_events(kind, since=since, until=until, include_reviewed=True).filter(
                    pk=event.pk).exists():
                return kind, event, None
        raise Http404
    if key.startswith("search-volume:"):
        try:
            _, actor_id, day = key.split(":")
            day = date.fromisoformat(day)
        except ValueError:
            raise Http404 from None
        for row in selectors.heavy_searchers(since=day, until=day, include_reviewed=True,
                                             threshold=settings.AUDIT_SEARCHES_PER_DAY_THRESHOLD):
            if str(row.actor_id) == actor_id:
                return "search_volume", None, row
    raise Http404


def _int(text):
    try:
        return int(text)
    except ValueError:
        raise Http404 from None


@require_http_methods(["GET", "POST"])
@auditor_required
def review_anomaly(request, key):
    kind, event, volume = _anomaly(key)
    existing = selectors.reviews_for([event]).get(event.pk) if event else volume.review
    form = ReviewForm(request.POST or None)
    context_ = RequestContext.of(request)
    if request.method == "POST" and existing is None and form.is_valid():
        try:
            services.review_anomaly(anomaly_key=key, kind=kind, comment=form.cleaned_data["comment"],
                                    context=context_, event_id=event.pk if event else None)
        except IntegrityError:  # reviewed by someone else a moment ago
            messages.info(request, "Someone else has just reviewed this anomaly.")
        else:
            messages.success(request, "Anomaly marked as reviewed.")
        return redirect(f"{reverse('audit:anomalies')}?kind={kind}")
    services.record_event(action="audit.anomaly.open", context=context_, child_ref=event.child_ref if event else "",
                          details={"anomaly": key, "kind": kind})
    rows = _rows(selectors.Page([event], organisation_names=selectors.organisation_names([event.organisation_id]))) \
        if event else []
    return render(request, "audit/review.html", {
        "form": form, "key": key, "kind": kind, "kind_label": selectors.ANOMALY_KINDS[kind], "rows": rows,
        "volume": volume, "existing": existing, "section": "anomalies",
    })
