"""Stale child records are deleted (SPEC 5): in batches, idempotent, resumable, one run at a time.

A record is stale, unless it is on legal hold, when either
- it has no open involvement and no activity for the retention period: its ``retain_until``
  has passed (``Child.objects.stale``), and its ``last_activity_at`` and the end of every
  involvement are more than the period ago (whichever clock says "recent" keeps the record); or
- the child's 18th birthday plus the retention period has passed, whatever its involvements.

Deleting a child deletes its names, addresses, involvements, grants, access requests and
object permissions (database cascades), and the field history django-auditlog kept of them,
which would otherwise keep the names the deletion removes. Audit events are not touched: they
name the child only by its random reference, which points at nothing once the record is gone.
Each batch writes one ``housekeeping.expire_records`` event with its references, in its own
transaction, so no deletion is ever committed unaudited, however the run ends.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from auditlog.context import disable_auditlog
from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from audit import guards
from audit import services as audit
from audit.context import RequestContext
from children.models import Address, Child, ChildName, Involvement
from housekeeping.locks import try_job_lock
from practitioners.models import AccessGrant, AccessRequest

LOCK_NAME = "expire_records"
AUDIT_ACTION = "housekeeping.expire_records"
ONE_DAY = timedelta(days=1)


def eighteenth_birthday(date_of_birth: date) -> date:
    """The day a child turns 18. Born on 29 February: 1 March in a common year (the later day,
    so a record is never deleted early)."""
    try:
        return date_of_birth.replace(year=date_of_birth.year + 18)
    except ValueError:
        return date(date_of_birth.year + 18, 3, 1)


def first_birth_date_not_yet_adult(before: date) -> date:
    """The earliest date of birth whose 18th birthday is on or after ``before``.

    Everyone born earlier turned 18 before ``before``, so a date-of-birth filter (indexed)
    expresses the age rule. Leap days make "the same day 18 years back" off by one either way,
    hence the two nudges.
    """
    try:
        bound = before.replace(year=before.year - 18)
    except ValueError:  # 29 February in a year whose 18-years-earlier is common
        bound = date(before.year - 18, 3, 1)
    while eighteenth_birthday(bound - ONE_DAY) >= before:
        bound -= ONE_DAY
    while eighteenth_birthday(bound) < before:
        bound += ONE_DAY
    return bound


def stale_children(*, today: date, period: timedelta | None = None) -> QuerySet[Child]:
    """Children whose record should be deleted on ``today`` (see the module docstring)."""
    period = settings.RETENTION_PERIOD if period is None else period
    cutoff = today - period
    start_of_cutoff = timezone.make_aware(datetime.combine(cutoff, time.min))
    ended_recently = Involvement.objects.filter(child=OuterRef("pk"), ended_on__gte=cutoff)
    inactive = Child.objects.stale(today=today).filter(last_activity_at__lt=start_of_cutoff).exclude(
        Exists(ended_recently)
    )
    adult = Child.objects.filter(legal_hold=False, date_of_birth__lt=first_birth_date_not_yet_adult(cutoff))
    return inactive | adult


@dataclass
class RetentionResult:
    deleted: Counter = field(default_factory=Counter)  # model name -> rows deleted
    batches: int = 0
    locked_out: bool = False  # another run held the lock: this one stopped
    completed: bool = False  # ran until no stale record was left
    would_delete: list[str] = field(default_factory=list)  # dry run: references, nothing else

    dry_run: bool = False

    def counts(self) -> dict[str, int]:
        if self.dry_run:
            return {"would_delete": len(self.would_delete)}
        counts = {"children": self.deleted["child"], "batches": self.batches}
        counts.update({f"deleted_{name}": n for name, n in sorted(self.deleted.items()) if name != "child"})
        return counts


def expire_stale_records(
    *,
    today: date,
    batch_size: int | None = None,
    dry_run: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    inside_batch: Callable[[list[int]], None] | None = None,
) -> RetentionResult:
    """Delete stale records, ``batch_size`` children per transaction; returns what was deleted.

    Safe to run twice at once: every batch takes the job's advisory lock (PostgreSQL) and
    locks its rows (``skip_locked``); a run that finds the lock taken stops with
    ``locked_out``. Safe to stop anywhere, even by SIGKILL: a batch commits whole, with its
    ``housekeeping.expire_records`` audit event (the batch's child references and counts),
    or not at all, and the next run picks up whatever is still stale. ``dry_run`` lists
    references and changes nothing.

    ``on_progress(deleted, total)`` is called after each batch commits (the job's heartbeat).
    ``inside_batch(child_ids)`` is called inside each batch's transaction, after the delete and
    its audit event and before the commit: if it raises, that batch rolls back and the
    exception propagates.
    """
    batch_size = batch_size or settings.RETENTION_BATCH_SIZE
    result = RetentionResult(dry_run=dry_run)
    if dry_run:
        result.would_delete = list(stale_children(today=today).order_by("pk").values_list("reference", flat=True))
        result.completed = True
        return result

    total = stale_children(today=today).count()
    after_pk = 0
    while True:
        with transaction.atomic():
            if not try_job_lock(LOCK_NAME):
                result.locked_out = True
                break
            batch, after_pk = _lock_next_batch(today=today, after_pk=after_pk, size=batch_size)
            if after_pk is None:
                result.completed = True
                break
            deleted = Counter()
            if batch:
                deleted = _delete_children(list(batch))
                _audit_batch(batch, deleted, today=today, number=result.batches + 1)
            if inside_batch is not None:
                inside_batch(list(batch))
        result.deleted.update(deleted)  # only once the batch has committed
        result.batches += 1
        if on_progress is not None:
            on_progress(result.deleted["child"], total)
    return result


def _lock_next_batch(*, today, after_pk, size) -> tuple[dict[int, str], int | None]:
    """Lock the next ``size`` candidates after ``after_pk``; return those still stale (pk ->
    reference) and the new keyset position (None when there are no candidates left)."""
    locked = list(
        stale_children(today=today)
        .filter(pk__gt=after_pk)
        .order_by("pk")
        .select_for_update(skip_locked=True)
        .values_list("pk", flat=True)[:size]
    )
    if not locked:
        return {}, None
    # Check again now the rows are locked: under READ COMMITTED this statement sees an
    # involvement another transaction opened since the candidates were chosen. Involvements
    # opened from now on wait for our row lock and then fail on the deleted child.
    still_stale = dict(stale_children(today=today).filter(pk__in=locked).values_list("pk", "reference"))
    return still_stale, max(locked)


def _delete_children(ids: list[int]) -> Counter:
    """Delete the children and everything that cascades from them, with their field history.

    auditlog is off for the delete: its delete entry would copy every field (the names)
    into a history table the retention job is meant to empty.
    """
    history = list(_field_history_of(ids).values_list("pk", flat=True))
    with disable_auditlog():
        _, per_model = Child.objects.filter(pk__in=ids).delete()
    # The field history is append-only; entries go only once their records are gone (audit.guards).
    purged = guards.purge_field_history(history)
    counts = Counter({label.rsplit(".", 1)[-1].lower(): n for label, n in per_model.items() if n})
    if purged:
        counts["field_history"] = purged
    return counts


def _field_history_of(child_ids: list[int]) -> QuerySet[LogEntry]:
    """django-auditlog entries about these children and the rows that cascade from them."""
    rows = {
        Child: child_ids,
        ChildName: ChildName.objects.filter(child_id__in=child_ids).values_list("pk", flat=True),
        Address: Address.objects.filter(child_id__in=child_ids).values_list("pk", flat=True),
        Involvement: Involvement.objects.filter(child_id__in=child_ids).values_list("pk", flat=True),
        AccessGrant: AccessGrant.objects.filter(child_id__in=child_ids).values_list("pk", flat=True),
        AccessRequest: AccessRequest.objects.filter(child_id__in=child_ids).values_list("pk", flat=True),
    }
    about = Q(pk__in=[])
    for model, pks in rows.items():
        keys = [str(pk) for pk in pks]
        if keys:
            about |= Q(content_type=ContentType.objects.get_for_model(model), object_pk__in=keys)
    return LogEntry.objects.filter(about)


def _audit_batch(batch: dict[int, str], deleted: Counter, *, today: date, number: int) -> None:
    """One event per batch, in the batch's transaction: the deletion commits with it or not at all.

    The references are the children's pseudonyms (docs/decisions.md): after the delete they
    point at nothing, but a subject access request or an auditor holding one finds when and
    by which run the record went. Raises if the event cannot be written (fail closed).
    """
    audit.record_event(
        action=AUDIT_ACTION, context=RequestContext.system("housekeeping"),
        details={
            "today": today.isoformat(),
            "batch": number,
            "deleted": dict(sorted(deleted.items())),
            "child_refs": sorted(batch.values()),
        },
    )
