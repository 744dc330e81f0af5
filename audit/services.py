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
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from audit.context import RequestContext
from audit.models import AccessEvent, AnomalyReview, ChainHead, EventDisclosure

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
    if user is None or not getattr(user, "is_authenticated", False):
        return {}
    from practitioners.models import Practitioner

    facts = {"actor_id": user.pk, "actor_username": user.get_username()}
    facts["actor_role"] = ",".join(sorted(user.groups.values_list("name", flat=True)))
    where = Practitioner.objects.filter(user_id=user.pk).values_list(
        "organisation_id", "organisation__local_authority_id").first()
    if where is not None:
        facts["organisation_id"], facts["local_authority_id"] = where
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


def ensure_chain_heads(using: str = "default", **kwargs) -> None:
    """Create any missing chain head (``post_migrate``, so also after a test flush).

    Done ahead of the first write: heads created inside a writer's transaction stay
    locked by it until it commits, and every other writer would queue behind it.
    """
    count = settings.AUDIT_CHAINS
    ChainHead.objects.using(using).bulk_create(
        [ChainHead(id=n, last_seq=0, last_hash=GENESIS_HASH) for n in range(1, count + 1)], ignore_conflicts=True)


def _lock_chain_head() -> ChainHead:
    """Lock and return a chain head, preferring one nobody else holds.

    A transaction that already holds a head gets it (or a lower free one) back from
    SKIP LOCKED, so only a transaction holding no head ever blocks: no deadlock
    between two audit writers.
    """
    count = settings.AUDIT_CHAINS
    free = ChainHead.objects.filter(id__lte=count).order_by("id").select_for_update(skip_locked=True)
    head = free.first()
    if head is not None:
        return head
    if ChainHead.objects.filter(id__lte=count).count() < count:
        ensure_chain_heads()  # AUDIT_CHAINS was raised since the last migrate
        head = free.first()
        if head is not None:
            return head
    # Every chain is busy: queue behind one of them.
    return ChainHead.objects.select_for_update().get(id=random.randint(1, count))


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
    details = _plain_json(details)
    disclosed = sorted({ref for ref in disclosed_refs if ref})
    if disclosed:
        details["disclosed"] = disclosed
    facts = _actor_facts(actor if actor is not None else context.user)
    # No savepoint: if this write fails, the caller's whole transaction must fail.
    with transaction.atomic(savepoint=False):
        head = _lock_chain_head()
        event = AccessEvent(
            occurred_at=timezone.now(),
            chain=head.id,
            seq=head.last_seq + 1,
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
            prev_hash=head.last_hash,
            **{k: _text(v, k) if isinstance(v, str) else v for k, v in facts.items()},
        )
        event.hash = compute_hash(event)
        event.save(force_insert=True)
        ChainHead.objects.filter(id=head.id).update(last_seq=event.seq, last_hash=event.hash, last_event_id=event.pk)
        if disclosed:
            EventDisclosure.objects.bulk_create(
                [EventDisclosure(event_id=event.pk, occurred_at=event.occurred_at, child_ref=ref) for ref in disclosed])
    return event


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
