"""The one way an audit event is written.

``record_event`` must run inside the transaction of the change or view it records:
if the event cannot be written, the caller's transaction fails and nothing is
shown or changed (fail closed, SPEC principle 3).

Events go into one of ``settings.AUDIT_CHAINS`` hash chains. A writer locks the
head row of the first chain no other transaction holds (``FOR UPDATE SKIP LOCKED``),
links its event to that head and moves the head on; the lock is held until the
caller commits, so two writers can never link to the same ``prev_hash``. With one
chain every audited request in the service would queue behind the slowest one;
with several, writers queue only when all chains are busy. See docs/decisions.md.
"""

import hashlib
import hmac
import json
import random
from datetime import UTC

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, models, transaction
from django.utils import timezone

from audit.context import RequestContext
from audit.models import AccessEvent, AnomalyReview, ChainHead, DailySearchCount, DailySearchTally, EventDisclosure

GENESIS_HASH = "0" * 64

# The fields the hash covers, in a fixed order: change this and every hash changes.
# ``id`` is not among them: ids come from a sequence, and the position in the
# chain is (chain, seq).
HASHED_FIELDS = (
    "chain", "seq", "occurred_at", "actor_id", "actor_username", "actor_role", "organisation_id",
    "local_authority_id", "action", "child_ref", "child_local_authority_id", "shielded", "reason",
    "request_id", "ip_address", "user_agent", "outcome", "details",
)
_IP_FIELD = AccessEvent._meta.get_field("ip_address")
_LIMITS = {f.name: f.max_length for f in AccessEvent._meta.fields if getattr(f, "max_length", None)}


def canonical(event) -> bytes:
    """The bytes the hash covers: HASHED_FIELDS as sorted, compact JSON, times in UTC."""
    values = {}
    for name in HASHED_FIELDS:
        value = getattr(event, name)
        if name == "occurred_at":
            value = value.astimezone(UTC).isoformat(timespec="microseconds")
        values[name] = value
    return json.dumps(values, sort_keys=True, separators=(",", ":"), default=str).encode()


def compute_hash(event) -> str:
    return hashlib.sha256(event.prev_hash.encode() + canonical(event)).hexdigest()


def fingerprint(text: str) -> str:
    """Keyed fingerprint of a search query: equal queries match, the text is not recoverable."""
    key = settings.AUDIT_FINGERPRINT_KEY.encode()
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _actor_facts(user) -> dict:
    """Who is acting: id, username, roles, and (for a practitioner) organisation and LA. One query."""
    if user is None or not getattr(user, "is_authenticated", False):
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_sql().actor, [user.pk])
        rows = cursor.fetchall()
    facts = {"actor_id": user.pk, "actor_username": user.get_username(),
             "actor_role": ",".join(sorted({name for _, _, name in rows if name}))}
    if rows and rows[0][0] is not None:
        facts["organisation_id"], facts["local_authority_id"] = rows[0][0], rows[0][1]
    return facts


def _text(value, field: str) -> str:
    """PostgreSQL refuses NUL in text, and an over-long value would fail the insert:
    either would turn an audited request into a 500, so clean before hashing."""
    value = (value or "").replace("\x00", "")
    limit = _LIMITS.get(field)
    return value[:limit] if limit else value


def _plain_json(details: dict | None) -> dict:
    """What the JSON column will give back when read (so the hash verifies later), without NULs."""
    return _without_nul(json.loads(json.dumps(details or {}, cls=DjangoJSONEncoder)))


def _without_nul(value):
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


def ensure_chain_heads(using: str = "default", apps=None, **kwargs) -> None:
    """Create any missing chain head (``post_migrate``, so also after a test flush).

    Done ahead of the first write: heads created inside a writer's transaction stay
    locked by it until it commits, and every other writer would queue behind it.
    As a ``post_migrate`` receiver it uses the migrated state's model, and does nothing
    while the audit app is migrated only part of the way.
    """
    model = ChainHead
    if apps is not None:
        try:
            model = apps.get_model("audit", "ChainHead")
            model._meta.get_field("last_seq")
        except (LookupError, FieldDoesNotExist):
            return
    count = settings.AUDIT_CHAINS
    model.objects.using(using).bulk_create(
        [model(id=n, last_seq=0, last_hash=GENESIS_HASH) for n in range(1, count + 1)], ignore_conflicts=True)


class _Sql:
    """The write path's statements, built once from the models' metadata.

    Raw SQL rather than the ORM: an audited request pays for these on every call, and
    compiling ORM queries cost more CPU than the database spent running them.
    """

    def __init__(self, vendor: str):
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        from practitioners.models import Organisation, Practitioner

        q = connection.ops.quote_name
        user = get_user_model()
        memberships = user.groups.through._meta
        self.actor = (
            f"SELECT p.{q('organisation_id')}, o.{q('local_authority_id')}, g.{q('name')} "
            f"FROM {q(user._meta.db_table)} u "
            f"LEFT JOIN {q(Practitioner._meta.db_table)} p ON p.{q('user_id')} = u.{q(user._meta.pk.column)} "
            f"LEFT JOIN {q(Organisation._meta.db_table)} o ON o.{q('id')} = p.{q('organisation_id')} "
            f"LEFT JOIN {q(memberships.db_table)} m ON m.{q(memberships.get_field('user').column)} = u.{q('id')} "
            f"LEFT JOIN {q(Group._meta.db_table)} g ON g.{q('id')} = m.{q(memberships.get_field('group').column)} "
            f"WHERE u.{q(user._meta.pk.column)} = %s"
        )
        heads = q(ChainHead._meta.db_table)
        self.lock_free = f"SELECT id, last_seq, last_hash FROM {heads} WHERE id <= %s ORDER BY id LIMIT 1"
        self.lock_one = f"SELECT id, last_seq, last_hash FROM {heads} WHERE id = %s"
        if vendor == "postgresql":
            self.lock_free += " FOR UPDATE SKIP LOCKED"
            self.lock_one += " FOR UPDATE"
        self.fields = [f for f in AccessEvent._meta.concrete_fields if not f.primary_key]
        # Only these need adapting for the driver; every other value is already a plain str/int/bool.
        self.adapted = {f.attname for f in self.fields if isinstance(
            f, (models.DateTimeField, models.JSONField, models.GenericIPAddressField))}
        columns = ", ".join(q(f.column) for f in self.fields)
        marks = ", ".join(["%s"] * len(self.fields))
        self.insert = f"INSERT INTO {q(AccessEvent._meta.db_table)} ({columns}) VALUES ({marks})"
        self.move_head = f"UPDATE {heads} SET last_seq = %s, last_hash = %s, last_event_id = %s WHERE id = %s"
        # PostgreSQL: insert the event and move the head in one round trip.
        self.insert_and_move_head = (
            f"WITH event AS ({self.insert} RETURNING id) UPDATE {heads} SET last_seq = %s, last_hash = %s, "
            f"last_event_id = (SELECT id FROM event) WHERE id = %s RETURNING last_event_id"
        )


_statements: dict[str, _Sql] = {}


def _sql() -> _Sql:
    if connection.vendor not in _statements:
        _statements[connection.vendor] = _Sql(connection.vendor)
    return _statements[connection.vendor]


def _lock_chain_head(cursor) -> tuple[int, int, str]:
    """Lock a chain head, preferring one nobody else holds; return (chain, last seq, last hash).

    A transaction that already holds a head gets it (or a lower free one) back from
    SKIP LOCKED, so only a transaction holding no head ever blocks: no deadlock
    between two audit writers.
    """
    count = settings.AUDIT_CHAINS
    cursor.execute(_sql().lock_free, [count])
    head = cursor.fetchone()
    if head is None and ChainHead.objects.filter(id__lte=count).count() < count:
        ensure_chain_heads()  # AUDIT_CHAINS was raised since the last migrate
        cursor.execute(_sql().lock_free, [count])
        head = cursor.fetchone()
    if head is None:  # every chain is busy: queue behind one of them
        cursor.execute(_sql().lock_one, [random.randint(1, count)])
        head = cursor.fetchone()
    return head


def _append(events: list[AccessEvent]) -> None:
    """Lock a head, link ``events`` to it in order, insert them and move the head on.

    The caller holds the transaction. One event (every audited request) takes the
    raw-SQL path; a batch goes in as one multi-row insert.
    """
    sql = _sql()
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        chain, seq, prev_hash = _lock_chain_head(cursor)
        every = settings.AUDIT_ANCHOR_EVERY
        if every and (seq + len(events)) // every > seq // every:
            # The writer anchors too, so anchors don't depend on beat: after this commit
            # (a rolled-back write anchors nothing), outside the head lock.
            from audit.integrity import anchor_soon

            transaction.on_commit(anchor_soon, using=connection.alias)
        for event in events:
            seq += 1
            # Times are taken once the head is ours, so a chain's times ascend with its seq.
            event.chain, event.seq, event.prev_hash, event.occurred_at = chain, seq, prev_hash, timezone.now()
            event.hash = prev_hash = compute_hash(event)
        if len(events) > 1:
            AccessEvent.objects.bulk_create(events)
            cursor.execute(sql.move_head, [seq, prev_hash, events[-1].pk, chain])
            return
        event = events[0]
        values = [f.get_db_prep_save(getattr(event, f.attname), connection) if f.attname in sql.adapted
                  else getattr(event, f.attname) for f in sql.fields]
        if connection.vendor == "postgresql":
            cursor.execute(sql.insert_and_move_head, [*values, event.seq, event.hash, event.chain])
            event.pk = cursor.fetchone()[0]
        else:
            cursor.execute(sql.insert, values)
            event.pk = cursor.lastrowid
            cursor.execute(sql.move_head, [event.seq, event.hash, event.pk, event.chain])
        event._state.adding, event._state.db = False, connection.alias


def record_event(
    *,
    action: str,
    context: RequestContext,
    child=None,
    child_ref: str = "",
    outcome: str = AccessEvent.Outcome.ALLOWED,
    reason: str = "",
    details: dict | None = None,
    actor=None,
    disclosed_refs=(),
) -> AccessEvent:
    """Append one event to a chain, in the caller's transaction. Raises if it cannot write.

    ``child`` (a Child) or ``child_ref`` names the child the event is about; only its
    reference is stored, with its local authority and shielded flag at this moment.
    ``disclosed_refs``: references of other children the event disclosed (a search's
    results); stored in ``details["disclosed"]`` and indexed for "who accessed this record".
    Locks one chain head until the caller's transaction ends.
    """
    facts = _actor_facts(actor if actor is not None else context.user)
    event = _event(action=action, context=context, facts=facts, child=child, child_ref=child_ref, outcome=outcome,
                   reason=reason, details=details, disclosed_refs=disclosed_refs)
    _write([event])
    return event


def record_events(*, context: RequestContext, events: list[dict], actor=None) -> list[AccessEvent]:
    """Append several events at once (bulk jobs: one per grant revoked, record expired...).

    Each item takes ``record_event``'s keywords except ``context`` and ``actor``, which
    are shared. The events are linked consecutively on one chain, in the given order,
    with one lock, one multi-row insert and one head move: far cheaper per event than
    one ``record_event`` each. Same transaction rules as ``record_event``.
    """
    facts = _actor_facts(actor if actor is not None else context.user)
    built = [_event(context=context, facts=facts, **item) for item in events]
    if built:
        _write(built)
    return built


def _event(*, action, context, facts, child=None, child_ref="", outcome=AccessEvent.Outcome.ALLOWED, reason="",
           details=None, disclosed_refs=()) -> AccessEvent:
    details = _plain_json(details)
    disclosed = sorted({ref for ref in disclosed_refs if ref})
    if disclosed:
        details["disclosed"] = disclosed
    return AccessEvent(
        action=_text(action, "action"),
        child_ref=child.reference if child is not None else _text(child_ref, "child_ref"),
        child_local_authority_id=child.local_authority_id if child is not None else None,
        shielded=bool(child is not None and child.shielded),
        reason=_text(reason, "reason"),
        request_id=_text(context.request_id, "request_id"),
        ip_address=_IP_FIELD.get_prep_value(context.ip_address) or None,
        user_agent=_text(context.user_agent, "user_agent"),
        outcome=outcome,
        details=details,
        **{k: _text(v, k) if isinstance(v, str) else v for k, v in facts.items()},
    )


def _write(events: list[AccessEvent]) -> None:
    # No savepoint: if this write fails, the caller's whole transaction must fail.
    with transaction.atomic(savepoint=False):
        _append(events)
        disclosures = [EventDisclosure(event_id=e.pk, occurred_at=e.occurred_at, child_ref=ref)
                       for e in events for ref in e.details.get("disclosed", ())]
        if disclosures:
            EventDisclosure.objects.bulk_create(disclosures)


@transaction.atomic
def review_anomaly(*, anomaly_key: str, kind: str, comment: str, context: RequestContext,
                   event_id: int | None = None) -> AnomalyReview:
    """Record an auditor's review of one anomaly. Audits ``audit.anomaly.review``.

    Raises IntegrityError if the anomaly was already reviewed (one review each).
    """
    user = context.user
    review = AnomalyReview.objects.create(
        anomaly_key=anomaly_key, kind=kind, comment=comment, event_id=event_id,
        reviewed_by_id=user.pk, reviewed_by_username=user.get_username(),
    )
    record_event(action="audit.anomaly.review", context=context, reason=comment,
                 details={"anomaly": anomaly_key, "kind": kind, "review_id": review.pk})
    return review


def tally_searches(*, day) -> int:
    """Count one completed day's searches per practitioner into DailySearchCount, once.

    Append-only like the rest of the audit tables: a day already tallied is left alone (its
    events no longer change), and a run racing another one loses on the tally's primary key
    and writes nothing. Returns how many practitioners searched that day (0 if already tallied).
    """
    from audit.selectors import search_counts

    if DailySearchTally.objects.filter(day=day).exists():
        return 0
    try:
        with transaction.atomic():
            DailySearchTally.objects.create(day=day, tallied_at=timezone.now())
            counts = [DailySearchCount(day=day, actor_id=row["actor_id"], actor_username=row["actor_username"] or "",
                                       searches=row["searches"]) for row in search_counts(since=day, until=day)]
            DailySearchCount.objects.bulk_create(counts)
    except IntegrityError:  # another run tallied the day first
        return 0
    return len(counts)


def tally_recent_searches(*, today, days: int = 35) -> int:
    """Tally every completed day of the last ``days`` not tallied yet (catches up after a missed night)."""
    from datetime import timedelta

    done = set(DailySearchTally.objects.filter(day__gte=today - timedelta(days=days)).values_list("day", flat=True))
    missing = [today - timedelta(days=n) for n in range(1, days + 1) if today - timedelta(days=n) not in done]
    for day in missing:
        tally_searches(day=day)
    return len(missing)
