"""The nightly check of the access log, and the alarm when it fails (SPEC 4, SPEC 5).

The checking itself is ``audit.integrity.verify`` (every chain, the triggers, the last
anchor); this module turns a failed check into an alert: an ERROR log line, an email to
ADMINS and an ``audit.chain_broken`` event. Ids and chain positions only, never personal data.
"""

import logging

from audit import integrity, services
from audit.context import RequestContext
from outbox import services as outbox

logger = logging.getLogger(__name__)


def verify_chain() -> integrity.Break | None:
    """The first break in the audit log, or None when every chain and the anchor check out."""
    return integrity.verify().first_break


def alert_broken_chain(first_break: integrity.Break) -> None:
    """Log at ERROR, email ADMINS and audit ``audit.chain_broken``."""
    logger.error("Audit chain broken: %s", first_break)
    outbox.queue_admin_alert(
        subject=f"Audit chain broken: {first_break}",
        message=(
            f"The nightly check of the Signpost access log found a break: {first_break}. Events may have "
            "been altered, inserted or deleted, or the append-only triggers removed.\n\n"
            "Run `manage.py verify_audit_chain` to confirm, and treat this as a security incident."
        ),
    )
    services.record_event(
        action="audit.chain_broken", context=RequestContext.system("housekeeping"),
        details={"chain": first_break.chain, "seq": first_break.seq, "event_id": first_break.event_id,
                 "problem": first_break.problem},
    )
