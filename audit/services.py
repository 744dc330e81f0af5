"""The one way an audit event is written.

``record_event`` must run inside the transaction of the change or view it records:
if the event cannot be written, the caller's transaction fails and nothing is
shown or changed (fail closed, SPEC principle 3).
"""

import hashlib
import hmac
import json
from datetime import UTC

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.context import RequestContext
from audit.models import AccessEvent, ChainHead

GENESIS_HASH = "0" * 64
CHAIN_ID = 1

# The fields the hash covers, in a fixed order: change this and every hash changes.
HASHED_FIELDS = (
    "id", "occurred_at", "actor_id", "actor_username", "actor_role", "organisation_id", "local_authority_id",
    "action", "child_ref", "reason", "request_id", "ip_address", "user_agent", "outcome", "details",
)


def canonical(event: AccessEvent) -> bytes:
    values = {}
    for name in HASHED_FIELDS:
        value = getattr(event, name)
        if name == "occurred_at":
            value = value.astimezone(UTC).isoformat(timespec="microseconds")
        values[name] = value
    return json.dumps(values, sort_keys=True, separators=(",", ":"), default=str).encode()


def compute_hash(event: AccessEvent) -> str:
    return hashlib.sha256(event.prev_hash.encode() + canonical(event)).hexdigest()


def fingerprint(text: str) -> str:
    """Keyed fingerprint of a search query: equal queries match, the text is not recoverable."""
    key = settings.AUDIT_FINGERPRINT_KEY.encode()
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _actor_facts(user):
    if user is None or not getattr(user, "is_authenticated", False):
        return {}
    facts = {"actor_id": user.pk, "actor_username": user.get_username()}
    practitioner = getattr(user, "practitioner", None)
    roles = sorted(g.name for g in user.groups.all())
    facts["actor_role"] = ",".join(roles)[:60]
    if practitioner is not None:
        facts["organisation_id"] = practitioner.organisation_id
        facts["local_authority_id"] = practitioner.organisation.local_authority_id
    return facts


@transaction.atomic
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
) -> AccessEvent:
    """Append one event to the chain. Locks the chain head; raises if it cannot write."""
    ChainHead.objects.get_or_create(pk=CHAIN_ID, defaults={"last_hash": GENESIS_HASH})
    head = ChainHead.objects.select_for_update().get(pk=CHAIN_ID)
    event = AccessEvent(
        # Ids come from the locked head, not a sequence: the id is hashed, and the
        # row is never updated after insert (the table refuses UPDATE).
        id=(head.last_event_id or 0) + 1,
        occurred_at=timezone.now(),
        action=action,
        child_ref=child.reference if child is not None else child_ref,
        reason=reason,
        request_id=context.request_id,
        ip_address=context.ip_address,
        user_agent=context.user_agent,
        outcome=outcome,
        details=details or {},
        prev_hash=head.last_hash,
        **_actor_facts(actor if actor is not None else context.user),
    )
    event.hash = compute_hash(event)
    event.save(force_insert=True)
    ChainHead.objects.filter(pk=CHAIN_ID).update(last_event_id=event.pk, last_hash=event.hash)
    return event
