"""Check the access log's hash chain (SPEC 4) and raise the alarm when it is broken."""

import logging
from collections.abc import Callable

from django.core.mail import mail_admins

from audit import services
from audit.context import RequestContext
from audit.models import AccessEvent, ChainHead

logger = logging.getLogger(__name__)


def verify_chain(*, batch_size: int = 2000, on_progress: Callable[[int, int], None] | None = None) -> int | None:
    """The id of the first event that breaks the chain, or None if it is intact.

    Walks the events in id order, recomputing each hash and checking each ``prev_hash`` links
    to the previous event (the first to the genesis hash), then checks the chain head points at
    the last event. A deleted event breaks the link of the one after it; events deleted from
    the end show as a head pointing past the last event (the first missing id is returned).
    Only events up to the head read at the start are checked, so writers may append meanwhile.
    """
    head = ChainHead.objects.filter(pk=services.CHAIN_ID).first()
    head_id = head.last_event_id if head is not None else None
    events = AccessEvent.objects.order_by("id")
    if head_id is not None:
        events = events.filter(id__lte=head_id)
    total = events.count()
    expected_prev, last_id, checked = services.GENESIS_HASH, 0, 0
    while True:
        batch = list(events.filter(id__gt=last_id)[:batch_size])
        if not batch:
            break
        for event in batch:
            if event.prev_hash != expected_prev or services.compute_hash(event) != event.hash:
                return event.id
            expected_prev, last_id = event.hash, event.id
        checked += len(batch)
        if on_progress is not None:
            on_progress(checked, total)
    if head is None:
        return None  # no head is only right for an empty log, and then there is nothing above
    if head.last_event_id != last_id or head.last_hash != expected_prev:
        return last_id + 1
    return None


def alert_broken_chain(first_broken_id: int) -> None:
    """Log at ERROR, email ADMINS and audit ``audit.chain_broken``: ids only, no personal data."""
    logger.error("Audit chain broken: first broken event id %s", first_broken_id)
    mail_admins(
        subject=f"Audit chain broken at event {first_broken_id}",
        message=(
            f"The nightly check of the Signpost access log found that event {first_broken_id} does not "
            "link to the event before it, or its hash does not match its content. Events may have been "
            "altered, inserted or deleted.\n\nRun `manage.py run_housekeeping --job verify_audit_chain` "
            "to confirm, and treat this as a security incident."
        ),
    )
    services.record_event(
        action="audit.chain_broken", context=RequestContext.system("housekeeping"),
        details={"first_broken_event_id": first_broken_id},
    )
