"""Reads for the feed pages: lists scoped to the admin's authorities and the data-quality figures.

Every figure is one grouped query over all the admin's organisations, never a query
per organisation.
"""

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Sum

from children.models import Child, Involvement
from feeds.models import ChildMerge, CsvUpload, FeedBatch, MatchReview, OrganisationToken
from practitioners.models import Organisation

WEEKS = 4


def months_before(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 - months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def organisations_of(authorities) -> QuerySet[Organisation]:
    return Organisation.objects.filter(local_authority__in=authorities).select_related("local_authority")


def tokens_for(authorities) -> QuerySet[OrganisationToken]:
    return OrganisationToken.objects.filter(organisation__local_authority__in=authorities).select_related(
        "organisation", "created_by")


def open_reviews_for(authorities) -> QuerySet[MatchReview]:
    return MatchReview.objects.filter(
        organisation__local_authority__in=authorities, status=MatchReview.Status.OPEN
    ).select_related("organisation")


def merges_for(authorities) -> QuerySet[ChildMerge]:
    return ChildMerge.objects.filter(into__local_authority__in=authorities).select_related(
        "merged_child", "into", "merged_by", "undone_by")


def uploads_visible_to(user, authorities) -> QuerySet[CsvUpload]:
    return CsvUpload.objects.filter(
        Q(uploaded_by=user) | Q(organisation__local_authority__in=authorities)
    ).select_related("organisation").defer("content")


@dataclass
class OrganisationQuality:
    organisation: Organisation
    last_feed_at: datetime | None
    rows_last_week: int
    rows_per_week: float
    error_rate: float | None  # errors / rows over the last four weeks
    open_involvements: int
    stale_involvements: int
    children_without_open: int


@dataclass
class Quality:
    organisations: list[OrganisationQuality]
    children_without_open_in_area: int
    stale_months: int
    weeks: int = WEEKS


def data_quality(*, authorities, now: datetime, stale_months: int) -> Quality:
    organisations = list(organisations_of(authorities).order_by("local_authority__name", "name"))
    ids = [o.pk for o in organisations]
    window_start, last_week = now - timedelta(weeks=WEEKS), now - timedelta(weeks=1)
    batches = {
        row["organisation"]: row
        for row in FeedBatch.objects.filter(organisation__in=ids).values("organisation").annotate(
            last=Max("received_at"),
            rows_window=Sum("rows", filter=Q(received_at__gte=window_start)),
            errors_window=Sum("errors", filter=Q(received_at__gte=window_start)),
            rows_week=Sum("rows", filter=Q(received_at__gte=last_week)),
        )
    }
    stale_before = months_before(now, stale_months)
    involvements = {
        row["organisation"]: row
        for row in Involvement.objects.open().filter(organisation__in=ids).values("organisation").annotate(
            open=Count("pk"), stale=Count("pk", filter=Q(last_confirmed_at__lt=stale_before)))
    }
    open_elsewhere = Involvement.objects.open().filter(child=OuterRef("child"))
    without_open = dict(
        Involvement.objects.filter(organisation__in=ids).exclude(Exists(open_elsewhere))
        .values("organisation").annotate(children=Count("child", distinct=True))
        .values_list("organisation", "children")
    )
    area_without_open = Child.objects.active().filter(local_authority__in=authorities).exclude(
        Exists(Involvement.objects.open().filter(child=OuterRef("pk")))).count()
    rows = []
    for organisation in organisations:
        b = batches.get(organisation.pk, {})
        i = involvements.get(organisation.pk, {})
        window_rows = b.get("rows_window") or 0
        rows.append(OrganisationQuality(
            organisation=organisation,
            last_feed_at=b.get("last"),
            rows_last_week=b.get("rows_week") or 0,
            rows_per_week=window_rows / WEEKS,
            error_rate=(b.get("errors_window") or 0) / window_rows if window_rows else None,
            open_involvements=i.get("open", 0),
            stale_involvements=i.get("stale", 0),
            children_without_open=without_open.get(organisation.pk, 0),
        ))
    return Quality(organisations=rows, children_without_open_in_area=area_without_open, stale_months=stale_months)
