"""Access that lapses is taken away, and practitioners are warned first (SPEC 5, SPEC 8).

- ``expire_lapsed_practitioners``: vetting or training past its date -> status ``expired``
  (with a ``PractitionerStatusChange``), live grants revoked, sessions and API tokens ended.
- ``send_access_reminders``: an email ``ACCESS_REMINDER_DAYS`` before vetting or training
  expires, once per practitioner and date (``housekeeping.AccessReminder``).
- ``revoke_expired_grants``: grants and break-glass windows past ``expires_at`` are revoked.
  ``practitioners.permissions`` refuses an expired grant anyway; this tidies the rows and
  the guardian permission, and audits the end.

Each works one row per transaction. The transaction holds the job's lock (a second run at
the same time stops, ``locked_out``) and the row's lock (``skip_locked``), and re-reads the
row's condition under the lock, so a rerun or a redelivered task finds nothing left to do.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import dateformat, timezone

from audit.context import RequestContext
from housekeeping.locks import try_job_lock
from housekeeping.models import AccessReminder
from outbox import services as outbox
from practitioners.models import AccessGrant, Claim, Practitioner
from practitioners import services
from practitioners.services import revoke_grant

SYSTEM = RequestContext.system("housekeeping")
Progress = Callable[[int, int], None] | None


@dataclass
class ExpiryResult:
    counts: Counter = field(default_factory=Counter)
    locked_out: bool = False
    listing: list[str] = field(default_factory=list)  # dry run: what would change, by id only


def _each_locked_row(candidates, handle: Callable, *, related=(), lock_name: str, result: ExpiryResult,
                     on_progress: Progress) -> None:
    """Call ``handle(row)`` for each candidate, one transaction each, holding the job's lock and the
    row's lock. The row is read again under the lock: one that no longer qualifies, or that another
    transaction holds, is skipped. Stops (``locked_out``) if another run holds the job's lock."""
    pks = list(candidates.order_by("pk").values_list("pk", flat=True))
    for done, pk in enumerate(pks, 1):
        with transaction.atomic():
            if not try_job_lock(lock_name):
                result.locked_out = True
                return
            row = (candidates.select_for_update(skip_locked=True, of=("self",))
                   .select_related(*related).filter(pk=pk).first())
            if row is not None:
                handle(row)
        if on_progress is not None:
            on_progress(done, len(pks))


def _would_change(candidates, *, label: str, count_as: str) -> ExpiryResult:
    """A dry run: the candidates by id, nothing changed."""
    pks = list(candidates.order_by("pk").values_list("pk", flat=True))
    return ExpiryResult(counts=Counter({count_as: len(pks)}), listing=[f"{label} #{pk}" for pk in pks])


def _day(value: date) -> str:
    return dateformat.format(value, "j F Y")


# --- practitioners whose vetting or training lapsed -----------------------------------------

def lapses(practitioner: Practitioner, *, today: date) -> list[tuple[str, str]]:
    """Why this practitioner's access has lapsed on ``today``: (code, sentence) pairs, or []."""
    found = []
    if practitioner.vetting_expires_on is None:
        found.append(("vetting", "No vetting check expiry date is recorded."))
    elif practitioner.vetting_expires_on < today:
        found.append(("vetting", f"Vetting check expired on {_day(practitioner.vetting_expires_on)}."))
    if practitioner.training_completed_on is None:
        found.append(("training", "No training completion date is recorded."))
    elif not practitioner.training_current(today):
        lapsed_on = practitioner.training_completed_on + settings.TRAINING_VALID_FOR
        found.append(("training", f"Training expired on {_day(lapsed_on)}."))
    return found


def expire_lapsed_practitioners(
    *, today: date, now=None, dry_run: bool = False, on_progress: Progress = None
) -> ExpiryResult:
    """Set every active practitioner whose vetting or training lapsed to ``expired``.

    Per practitioner, in one transaction: the status change (with a ``PractitionerStatusChange``),
    ``grant.revoke`` for each live grant, every session and DRF token of the user ended, and a
    ``practitioner.expire`` audit event naming the practitioner by id and the lapse by kind.
    """
    now = now or timezone.now()
    lapsing = Practitioner.objects.lapsing(today=today)
    if dry_run:
        return _would_change(lapsing, label="Practitioner", count_as="would_expire")
    result = ExpiryResult(counts=Counter(expired=0))
    _each_locked_row(
        lapsing, lambda practitioner: _expire(practitioner, today=today, now=now, counts=result.counts),
        related=("user",), lock_name="expire_practitioners", result=result, on_progress=on_progress,
    )
    return result


def _expire(practitioner: Practitioner, *, today, now, counts: Counter) -> None:
    found = lapses(practitioner, today=today)
    ended = services.expire_practitioner(
        practitioner=practitioner, context=SYSTEM, now=now,
        reason=" ".join(sentence for _, sentence in found) or "Vetting or training is no longer current.",
        details={"lapsed": sorted({code for code, _ in found})},
    )
    if ended is not None:
        counts.update(expired=1, **ended)


# --- reminders before access lapses ----------------------------------------------------------

def _expiry_dates(practitioner: Practitioner) -> list[tuple[str, date]]:
    """(kind, last valid day) of the vetting check and the training, where known."""
    dates = []
    if practitioner.vetting_expires_on:
        dates.append((AccessReminder.Kind.VETTING, practitioner.vetting_expires_on))
    if practitioner.training_completed_on:
        dates.append((AccessReminder.Kind.TRAINING, practitioner.training_completed_on + settings.TRAINING_VALID_FOR))
    return dates


def send_access_reminders(
    *, today: date, now=None, dry_run: bool = False, on_progress: Progress = None
) -> ExpiryResult:
    """Email each active practitioner whose vetting or training expires within
    ``ACCESS_REMINDER_DAYS``; once per practitioner, kind and date.

    The reminder row and the queued email (``outbox``) are written in one transaction: exactly
    one email per date is queued, and the outbox retries its sending.
    """
    now = now or timezone.now()
    last_day = today + timedelta(days=settings.ACCESS_REMINDER_DAYS)
    valid_for = settings.TRAINING_VALID_FOR
    due = Practitioner.objects.active().filter(
        Q(vetting_expires_on__range=(today, last_day))
        | Q(training_completed_on__range=(today - valid_for, last_day - valid_for))
    )
    result = ExpiryResult(counts=Counter(would_remind=0) if dry_run else Counter(reminded=0))

    def remind(practitioner):
        sent = {(r.kind, r.expires_on) for r in practitioner.access_reminders.all()}
        pending = [(kind, day) for kind, day in _expiry_dates(practitioner)
                   if today <= day <= last_day and (kind, day) not in sent]
        if not pending:
            return
        if dry_run:
            result.listing += [f"Practitioner #{practitioner.pk}: {kind} expires {day.isoformat()}"
                               for kind, day in pending]
            result.counts["would_remind"] += 1
            return
        address = practitioner.work_email or practitioner.user.email
        if not address:
            result.counts["no_email_address"] += 1
            return
        for kind, day in pending:
            AccessReminder.objects.create(practitioner=practitioner, kind=kind, expires_on=day, sent_at=now)
        _send_reminder(practitioner, address, pending)
        result.counts["reminded"] += 1

    _each_locked_row(due, remind, related=("user", "organisation__local_authority"),
                     lock_name="remind_practitioners", result=result, on_progress=on_progress)
    return result


def _send_reminder(practitioner: Practitioner, address: str, pending: list[tuple[str, date]]) -> None:
    first_lapse = min(day for _, day in pending)
    items = [(AccessReminder.Kind(kind).label, day) for kind, day in sorted(pending, key=lambda p: p[1])]
    body = render_to_string("practitioners/email/access_lapse_reminder.txt", {
        "practitioner": practitioner, "items": items,
        "local_authority": practitioner.organisation.local_authority,
        "days": settings.ACCESS_REMINDER_DAYS,
    })
    subject = f"Your Signpost access will stop after {_day(first_lapse)} unless it is renewed"
    outbox.queue(EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [address]), kind="access_reminder")


# --- grants and break-glass windows past their expiry ----------------------------------------

def revoke_expired_grants(*, now=None, dry_run: bool = False, on_progress: Progress = None) -> ExpiryResult:
    """Lapse every claim not confirmed by ``lapses_at`` (``claim.lapse``), then revoke every grant past
    ``expires_at`` (``grant.revoke``), one transaction each; counts by source. Idempotent."""
    now = now or timezone.now()
    expired = AccessGrant.objects.expired(now=now)
    lapsing = Claim.objects.lapsing(now=now)
    if dry_run:
        result = _would_change(expired, label="Grant", count_as="would_revoke")
        claims = _would_change(lapsing, label="Claim", count_as="would_lapse_claims")
        result.counts.update(claims.counts)
        result.listing += claims.listing
        return result
    result = ExpiryResult(counts=Counter(revoked=0))

    def lapse(claim):
        # Claims first: a lapsing claim ends its involvement and revokes its claimed grant itself.
        if services.lapse_claim(claim=claim, context=SYSTEM, now=now):
            result.counts["lapsed_claims"] += 1

    _each_locked_row(lapsing, lapse, lock_name="expire_grants", result=result, on_progress=None)
    if result.locked_out:
        return result

    def revoke(grant):
        reason = "Break-glass window ended" if grant.source == AccessGrant.Source.BREAK_GLASS else "Grant expired"
        if revoke_grant(grant=grant, context=SYSTEM, reason=reason, now=now):
            result.counts["revoked"] += 1
            result.counts[f"revoked_{grant.source}"] += 1

    _each_locked_row(expired, revoke, related=("practitioner__user", "child"), lock_name="expire_grants",
                     result=result, on_progress=on_progress)
    return result
