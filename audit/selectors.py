"""Reads for the auditors' console. Nothing here writes; the views audit each read.

Every list is keyset-paginated on (occurred_at, id), newest first: a page costs the
same on the millionth page as on the first, where OFFSET would read and discard
every row before it.
"""

import base64
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from audit import actions
from audit.models import AccessEvent, AnomalyReview, DailySearchCount, DailySearchTally, EventDisclosure


@dataclass(frozen=True)
class EventFilter:
    actor: str = ""
    organisation: str = ""
    child_ref: str = ""
    action: str = ""
    outcome: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def as_details(self) -> dict:
        """What the audit event of a filtered read records about the filter."""
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in self.__dict__.items() if v}


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def events_matching(f: EventFilter) -> QuerySet[AccessEvent]:
    events = AccessEvent.objects.all()
    if f.actor:
        ids = list(get_user_model().objects.filter(username__iexact=f.actor).values_list("pk", flat=True))
        # A deleted user's events still carry the username they had.
        events = events.filter(actor_id__in=ids) if ids else events.filter(actor_username__iexact=f.actor)
    if f.organisation:
        from practitioners.models import Organisation

        ids = list(Organisation.objects.filter(name__icontains=f.organisation).values_list("pk", flat=True)[:500])
        events = events.filter(organisation_id__in=ids)
    if f.child_ref:
        events = events.filter(child_ref=f.child_ref)
    if f.action:
        events = events.filter(action=f.action)
    if f.outcome:
        events = events.filter(outcome=f.outcome)
    if f.date_from:
        events = events.filter(occurred_at__gte=_day_start(f.date_from))
    if f.date_to:
        events = events.filter(occurred_at__lt=_day_start(f.date_to + timedelta(days=1)))
    return events


# Keyset pagination ---------------------------------------------------------------

def encode_cursor(event: AccessEvent) -> str:
    raw = f"{event.occurred_at.isoformat()}~{event.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    """(occurred_at, id), or None for anything malformed (treated as the first page)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, pk = raw.rsplit("~", 1)
        occurred_at = parse_datetime(stamp)
        return (occurred_at, int(pk)) if occurred_at and timezone.is_aware(occurred_at) else None
    except (ValueError, UnicodeDecodeError):
        return None


@dataclass
class Page:
    events: list[AccessEvent]
    older: str | None = None  # cursor for the next page of older events
    newer: str | None = None  # cursor for the page before this one
    organisation_names: dict[int, str] = field(default_factory=dict)


def page_of(events: QuerySet[AccessEvent], *, before: str = "", after: str = "", size: int = 50) -> Page:
    """One page, newest first, starting just older than ``before`` or just newer than ``after``."""
    newer_position = decode_cursor(after) if after else None
    older_position = decode_cursor(before) if before else None
    if newer_position:
        rows = list(events.after(*newer_position).order_by("occurred_at", "id")[: size + 1])
        more_newer = len(rows) > size
        rows = list(reversed(rows[:size]))
        page = Page(rows, older=encode_cursor(rows[-1]) if rows else None,
                    newer=encode_cursor(rows[0]) if rows and more_newer else None)
    else:
        if older_position:
            events = events.before(*older_position)
        rows = list(events.newest_first()[: size + 1])
        more_older = len(rows) > size
        rows = rows[:size]
        page = Page(rows, older=encode_cursor(rows[-1]) if rows and more_older else None,
                    newer=encode_cursor(rows[0]) if rows and older_position else None)
    page.organisation_names = organisation_names({e.organisation_id for e in page.events})
    return page


def organisation_names(ids) -> dict[int, str]:
    from practitioners.models import Organisation

    ids = {i for i in ids if i is not None}
    return dict(Organisation.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}


def batches(events: QuerySet[AccessEvent], *, size: int = 2000):
    """Every event of ``events`` as dicts of its fields, newest first, ``size`` at a time by keyset.

    For exports of any length: one batch in memory at a time, and each batch costs
    the same index range scan however deep into the log it is.
    """
    position = None
    fields = [f.attname for f in AccessEvent._meta.concrete_fields]
    while True:
        page = events.before(*position) if position else events
        rows = list(page.newest_first().values(*fields)[:size])
        if not rows:
            return
        yield rows
        if len(rows) < size:
            return
        position = (rows[-1]["occurred_at"], rows[-1]["id"])


# Who accessed this record --------------------------------------------------------

def accesses_of_child(child_ref: str) -> QuerySet[AccessEvent]:
    """Every event about the child, and every search whose results included it.

    Auditors' own work with the log (``audit.*``, such as producing this report) is not
    an access to the child's record and is left out.
    """
    disclosed_in = list(EventDisclosure.objects.filter(child_ref=child_ref).values_list("event_id", flat=True))
    return AccessEvent.objects.filter(Q(child_ref=child_ref) | Q(id__in=disclosed_in)).exclude(
        action__startswith="audit.")


# Anomalies -----------------------------------------------------------------------

ANOMALY_KINDS = {
    "break_glass": "Break-glass uses",
    "claimed": "Claimed relationships (form, CSV upload, break-glass)",
    "shielded": "Access to shielded records",
    "denied": "Denied attempts",
    "out_of_area": "Access outside the practitioner's area",
    "search_volume": "Unusual numbers of searches",
}


def anomalous_events(kind: str, *, since: date, until: date, include_reviewed: bool) -> QuerySet[AccessEvent]:
    events = AccessEvent.objects.filter(occurred_at__gte=_day_start(since),
                                        occurred_at__lt=_day_start(until + timedelta(days=1)))
    if kind == "break_glass":
        events = events.filter(action__in=actions.BREAK_GLASS_ACTIONS)
    elif kind == "claimed":
        events = events.filter(action__in=actions.CLAIM_ACTIONS)
    elif kind == "shielded":
        events = events.filter(shielded=True)
    elif kind == "denied":
        events = events.filter(outcome=AccessEvent.Outcome.DENIED)
    elif kind == "out_of_area":
        events = events.out_of_area()
    else:
        raise ValueError(f"not an event anomaly: {kind}")
    if not include_reviewed:
        events = events.exclude(Exists(AnomalyReview.objects.filter(event_id=OuterRef("id"))))
    return events


@dataclass
class SearchVolume:
    actor_id: int
    actor_username: str
    day: date
    searches: int
    review: AnomalyReview | None = None

    @property
    def key(self) -> str:
        return search_volume_key(self.actor_id, self.day)


def search_volume_key(actor_id, day: date) -> str:
    return f"search-volume:{actor_id}:{day.isoformat()}"


def search_counts(*, since: date, until: date):
    """Searches per (actor, day) counted from the log itself, days in the local time zone."""
    return (
        AccessEvent.objects.filter(action__in=actions.SEARCH_ACTIONS, actor_id__isnull=False,
                                   occurred_at__gte=_day_start(since),
                                   occurred_at__lt=_day_start(until + timedelta(days=1)))
        .annotate(day=TruncDate("occurred_at"))
        .values("actor_id", "day")
        .annotate(searches=Count("id"), actor_username=Max("actor_username"))
    )


def heavy_searchers(*, since: date, until: date, threshold: int, include_reviewed: bool,
                    limit: int = 200) -> list[SearchVolume]:
    """Practitioner-days with more than ``threshold`` searches, busiest first.

    Days already tallied are read from DailySearchCount; only the rest (normally just
    today) are counted from the log.
    """
    tallied = set(DailySearchTally.objects.filter(day__gte=since, day__lte=until).values_list("day", flat=True))
    found = [SearchVolume(**row) for row in DailySearchCount.objects.filter(day__in=tallied, searches__gt=threshold)
             .order_by("-searches", "-day", "actor_id")
             .values("actor_id", "actor_username", "day", "searches")[:limit]]
    untallied = [d for d in (since + timedelta(days=n) for n in range((until - since).days + 1)) if d not in tallied]
    if untallied:
        live = search_counts(since=min(untallied), until=max(untallied)).filter(searches__gt=threshold).order_by(
            "-searches", "-day", "actor_id")
        found += [SearchVolume(**row) for row in live if row["day"] in untallied]
    found = sorted(found, key=lambda v: (-v.searches, -v.day.toordinal(), v.actor_id))[:limit]
    reviews = {r.anomaly_key: r for r in AnomalyReview.objects.filter(anomaly_key__in=[f.key for f in found])}
    for item in found:
        item.review = reviews.get(item.key)
    return [item for item in found if include_reviewed or item.review is None]


def reviews_for(events) -> dict[int, AnomalyReview]:
    ids = [e.pk for e in events]
    return {r.event_id: r for r in AnomalyReview.objects.filter(event_id__in=ids)} if ids else {}
