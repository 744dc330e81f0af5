"""Is the audit log intact? Chain verification and anchors kept outside the database.

``verify`` walks every chain from its first event, recomputing each hash and its link
to the one before, then checks the chain against the latest anchor: a signed record
(HMAC with ``settings.AUDIT_ANCHOR_KEY``) of every chain's head, appended to
``settings.AUDIT_ANCHOR_FILE`` and written to the log. Someone who can edit rows and
rehash everything after an edit produces a chain that verifies on its own, but not
one that ends at the anchored hashes, since they cannot sign a new anchor.
"""

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.utils import timezone

from audit import guards, partitions
from audit.models import AccessEvent, ChainHead
from audit.services import GENESIS_HASH, compute_hash

logger = logging.getLogger("signpost.audit")
BATCH = 2000


@dataclass
class Break:
    chain: int
    seq: int | None
    event_id: int | None
    problem: str

    def __str__(self):
        where = f"event #{self.event_id} (chain {self.chain}, seq {self.seq})" if self.event_id else f"chain {self.chain}"
        return f"{where}: {self.problem}"


@dataclass
class Report:
    events_checked: int = 0
    chains: dict[int, tuple[int, str]] = field(default_factory=dict)  # chain -> (last seq, last hash)
    breaks: list[Break] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    anchor: dict | None = None

    @property
    def ok(self) -> bool:
        return not self.breaks

    @property
    def first_break(self) -> Break | None:
        """The earliest break by event id (a break with no event -- a missing tail -- last)."""
        if not self.breaks:
            return None
        return min(self.breaks, key=lambda b: (b.event_id is None, b.event_id or 0))


def walk_chain(chain: int, *, after_seq: int = 0, prev_hash: str = GENESIS_HASH, report: Report) -> None:
    """Check one chain from ``after_seq`` on, in batches (memory stays flat at any length).

    Records the chain's first break in ``report`` and stops there: after a break every
    later link is suspect, and the first is what an investigator needs.
    """
    expected_seq = after_seq + 1
    while True:
        batch = list(AccessEvent.objects.filter(chain=chain, seq__gte=expected_seq).order_by("seq", "id")[:BATCH])
        for event in batch:
            problem = None
            if event.seq != expected_seq:
                problem = (f"expected seq {expected_seq}, found {event.seq}: "
                           + ("an event is missing" if event.seq > expected_seq else "two events share a seq"))
            elif event.prev_hash != prev_hash:
                problem = "prev_hash does not match the hash of the event before it"
            elif compute_hash(event) != event.hash:
                problem = "hash does not match the event's content"
            if problem:
                report.breaks.append(Break(chain, event.seq, event.pk, problem))
                return
            report.events_checked += 1
            prev_hash, expected_seq = event.hash, expected_seq + 1
        report.chains[chain] = (expected_seq - 1, prev_hash)
        if len(batch) < BATCH:
            return


def chain_ids() -> list[int]:
    """Every chain that has a head or an event."""
    ids = set(ChainHead.objects.values_list("id", flat=True))
    if AccessEvent.objects.exists():
        ids |= set(AccessEvent.objects.order_by().values_list("chain", flat=True).distinct())
    return sorted(ids)


def verify(*, anchor_file=None) -> Report:
    """Verify every chain end to end, the append-only triggers, and the latest anchor."""
    report = Report()
    missing = guards.missing(connection)
    if missing:
        report.breaks.append(Break(0, None, None, "append-only triggers missing: " + ", ".join(missing)))
    # Heads first: anything written while we walk only lengthens the chains past them.
    heads = list(ChainHead.objects.all())
    for chain in chain_ids():
        walk_chain(chain, report=report)
    _check_heads(report, heads)
    _check_against_anchor(report, anchor_file or settings.AUDIT_ANCHOR_FILE)
    stray = partitions.default_partition_rows()
    if stray:
        report.warnings.append(f"{stray} events are in the default partition: run ensure_audit_partitions")
    return report


def _check_heads(report: Report, heads: list[ChainHead]) -> None:
    broken = {b.chain for b in report.breaks}
    for head in heads:
        if head.id in broken:
            continue
        last_seq, last_hash = report.chains.get(head.id, (0, GENESIS_HASH))
        if head.last_seq > last_seq:
            report.breaks.append(Break(head.id, last_seq + 1, None,
                                       f"the chain head says {head.last_seq} events, only {last_seq} are there"))
        elif head.last_seq and not AccessEvent.objects.filter(
                chain=head.id, seq=head.last_seq, hash=head.last_hash).exists():
            report.breaks.append(Break(head.id, head.last_seq, None,
                                       "the chain head's hash is not the hash of the event it points at"))


# Anchors -------------------------------------------------------------------------

def _mac(body: dict) -> str:
    message = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(settings.AUDIT_ANCHOR_KEY.encode(), message, hashlib.sha256).hexdigest()


def read_anchors(path) -> list[dict]:
    """Every anchor in the file, oldest first; a line that is not JSON reads as {} (so it fails its MAC)."""
    if not os.path.exists(path):
        return []
    anchors = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                try:
                    anchors.append(json.loads(line))
                except ValueError:
                    anchors.append({})
    return anchors


def anchor_is_genuine(anchor: dict) -> bool:
    body = {k: v for k, v in anchor.items() if k != "mac"}
    return bool(body) and hmac.compare_digest(str(anchor.get("mac", "")), _mac(body))


def _check_against_anchor(report: Report, path) -> None:
    anchors = read_anchors(path)
    if not anchors:
        if report.events_checked:
            report.warnings.append(f"no anchor in {path} yet: run anchor_audit_chain")
        return
    anchor = anchors[-1]
    report.anchor = anchor
    if not anchor_is_genuine(anchor):
        report.breaks.append(Break(0, None, None, f"the latest anchor in {path} is not signed with this deployment's key"))
        return
    for chain, seq, anchored_hash in anchor["heads"]:
        if seq == 0:
            continue
        event = AccessEvent.objects.filter(chain=chain, seq=seq).order_by("id").first()
        if event is None:
            report.breaks.append(Break(chain, seq, None, f"the anchored event (anchored at {anchor['at']}) is gone"))
        elif event.hash != anchored_hash:
            report.breaks.append(Break(chain, seq, event.pk,
                                       f"hash differs from the one anchored at {anchor['at']}: the chain was rewritten"))


def anchor(*, path=None) -> dict:
    """Verify what was added since the last anchor, then append a signed anchor of every chain head.

    Raises ChainBroken (and anchors nothing) if the new events do not verify or no
    longer reach the previous anchor.
    """
    path = path or settings.AUDIT_ANCHOR_FILE
    previous = read_anchors(path)
    report = Report()
    starts = {}
    if previous:
        last = previous[-1]
        if not anchor_is_genuine(last):
            raise ChainBroken(f"the latest anchor in {path} is not signed with this deployment's key")
        starts = {chain: (seq, anchored_hash) for chain, seq, anchored_hash in last["heads"]}
        for chain, (seq, anchored_hash) in starts.items():
            if seq and not AccessEvent.objects.filter(chain=chain, seq=seq, hash=anchored_hash).exists():
                raise ChainBroken(f"chain {chain} no longer reaches its anchored event (seq {seq})")
    for chain in chain_ids():
        seq, prev_hash = starts.get(chain, (0, GENESIS_HASH))
        walk_chain(chain, after_seq=seq, prev_hash=prev_hash, report=report)
    if report.breaks:
        raise ChainBroken(str(report.first_break))
    body = {
        "at": timezone.now().isoformat(timespec="seconds"),
        "heads": [[chain, *report.chains.get(chain, starts.get(chain, (0, GENESIS_HASH)))] for chain in chain_ids()],
    }
    line = {**body, "mac": _mac(body)}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(line, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    # A second copy leaves the machine with the application logs: hashes only, no personal data.
    logger.info("audit anchor %s", json.dumps(line, sort_keys=True))
    return line


class ChainBroken(Exception):
    pass
