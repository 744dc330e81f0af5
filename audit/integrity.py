"""Is the audit log intact? Chain verification and anchors kept outside the database.

``verify`` walks every chain from its first event, recomputing each hash and its link
to the one before, then checks the chain against every anchor: a signed record
(HMAC with ``settings.AUDIT_ANCHOR_KEY``) of every chain's head, appended to
``settings.AUDIT_ANCHOR_FILE`` and written to the log. Someone who can edit rows and
rehash everything after an edit produces a chain that verifies on its own, but not
one that passes through the anchored hashes, since they cannot sign a new anchor; and
someone who deletes the newest events and moves the head back loses events an anchor
names. Anchors are written every minute by beat and, so as not to depend on beat,
by the writer itself every ``AUDIT_ANCHOR_EVERY`` events of a chain (``anchor_soon``).
What no anchor can catch is the removal of events newer than the newest anchor: that
window is at most a minute or ``AUDIT_ANCHOR_EVERY`` events (docs/decisions.md).
"""

import fcntl
import hashlib
import hmac
import json
import logging
import os
from contextlib import contextmanager
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
        if self.event_id:
            where = f"event #{self.event_id} (chain {self.chain}, seq {self.seq})"
        elif self.seq is not None:
            where = f"chain {self.chain}, seq {self.seq}"
        else:
            where = f"chain {self.chain}" if self.chain else "the log"
        return f"{where}: {self.problem}"


@dataclass
class Report:
    events_checked: int = 0
    chains: dict[int, tuple[int, str]] = field(default_factory=dict)  # chain -> (last seq, last hash)
    breaks: list[Break] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    anchor: dict | None = None  # the newest anchor line
    anchors_checked: int = 0

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


def chain_ids(*, with_events: bool = True) -> list[int]:
    """Every chain that has a head or (``with_events``) an event.

    The anchor, run every minute and by the writer, takes the heads only: a DISTINCT over the
    whole log would scan it, and heads cannot be deleted (their trigger refuses it), so every
    chain with events has one. The full verifier, which reads every event anyway, asks both.
    """
    ids = set(ChainHead.objects.values_list("id", flat=True))
    if with_events and AccessEvent.objects.exists():
        ids |= set(AccessEvent.objects.order_by().values_list("chain", flat=True).distinct())
    return sorted(ids)


def verify(*, anchor_file=None, require_anchor: bool | None = None) -> Report:
    """Verify every chain end to end, the append-only triggers, and every anchor in the file.

    ``require_anchor`` (default ``settings.AUDIT_ANCHOR_REQUIRED``, on unless DEBUG): no anchor
    at all is a break, not a warning -- removing the file must not turn the check into a
    self-consistency check that a rehashed chain passes.
    """
    report = Report()
    missing = guards.missing(connection)
    if missing:
        report.breaks.append(Break(0, None, None, "append-only triggers missing: " + ", ".join(missing)))
    # Heads first: anything written while we walk only lengthens the chains past them.
    heads = list(ChainHead.objects.all())
    for chain in chain_ids():
        walk_chain(chain, report=report)
    _check_heads(report, heads)
    if require_anchor is None:
        require_anchor = settings.AUDIT_ANCHOR_REQUIRED
    _check_against_anchors(report, anchor_file or settings.AUDIT_ANCHOR_FILE, required=require_anchor)
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


def iter_anchors(path):
    """(line number, anchor) for every line of the file, oldest first, streamed; a line that is
    not JSON reads as {} (so it fails its MAC)."""
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    parsed = json.loads(line)
                except ValueError:
                    parsed = {}
                yield number, parsed if isinstance(parsed, dict) else {}


def read_anchors(path) -> list[dict]:
    """Every anchor in the file, oldest first (small files and tests; the verifier streams)."""
    return [anchor for _, anchor in iter_anchors(path)]


def last_anchor(path) -> dict | None:
    """The newest anchor line, read from the end of the file (it grows by a line a minute)."""
    if not os.path.exists(path):
        return None
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        end = handle.tell()
        size = 4096
        while True:
            start = max(0, end - size)
            handle.seek(start)
            lines = [line for line in handle.read(end - start).splitlines() if line.strip()]
            if len(lines) > 1 or start == 0:
                break
            size *= 2
    if not lines:
        return None
    try:
        parsed = json.loads(lines[-1])
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def anchor_is_genuine(anchor: dict) -> bool:
    body = {k: v for k, v in anchor.items() if k != "mac"}
    return bool(body) and hmac.compare_digest(str(anchor.get("mac", "")), _mac(body))


def _check_against_anchors(report: Report, path, *, required: bool) -> None:
    """Every anchored (chain, seq, hash) must still be in the log with that hash.

    Checked in batches of distinct points (a quiet minute repeats the last one), so memory
    stays flat however long the file. Reports at most one break per chain and kind.
    """
    last_seq: dict[int, int] = {}
    pending: dict[tuple[int, int], tuple[str, str]] = {}
    reported: set[tuple[int, str]] = set()

    def flush():
        if not pending:
            return
        found = {}
        by_chain: dict[int, list[int]] = {}
        for chain, seq in pending:
            by_chain.setdefault(chain, []).append(seq)
        for chain, seqs in by_chain.items():
            for seq, pk, event_hash in AccessEvent.objects.filter(chain=chain, seq__in=seqs).order_by(
                    "seq", "id").values_list("seq", "id", "hash"):
                found.setdefault((chain, seq), (pk, event_hash))
        for (chain, seq), (anchored_hash, at) in sorted(pending.items()):
            pk, event_hash = found.get((chain, seq), (None, None))
            if pk is None and (chain, "gone") not in reported:
                reported.add((chain, "gone"))
                report.breaks.append(Break(chain, seq, None, f"the anchored event (anchored at {at}) is gone: "
                                                             "events were deleted from the end of the chain"))
            elif pk is not None and event_hash != anchored_hash and (chain, "rewritten") not in reported:
                reported.add((chain, "rewritten"))
                report.breaks.append(Break(chain, seq, pk,
                                           f"hash differs from the one anchored at {at}: the chain was rewritten"))
        pending.clear()

    for number, anchor in iter_anchors(path):
        report.anchors_checked += 1
        report.anchor = anchor
        if not anchor_is_genuine(anchor):
            report.breaks.append(Break(0, None, None, f"anchor line {number} in {path} is not signed with this "
                                                      "deployment's key"))
            continue
        for chain, seq, anchored_hash in anchor.get("heads", ()):
            if seq < last_seq.get(chain, 0) and (chain, "backwards") not in reported:
                reported.add((chain, "backwards"))
                report.breaks.append(Break(chain, seq, None, f"anchor line {number} moves chain {chain} back "
                                                             f"from seq {last_seq[chain]} to {seq}"))
            if seq and seq != last_seq.get(chain):
                pending[(chain, seq)] = (anchored_hash, anchor.get("at", "?"))
            last_seq[chain] = max(seq, last_seq.get(chain, 0))
        if len(pending) >= BATCH:
            flush()
    flush()
    if not report.anchors_checked:
        if required:
            report.breaks.append(Break(0, None, None, f"no anchor in {path}: without one a rewritten chain "
                                                      "cannot be told from the real one (was the file removed? on a new "
                                                      "install, run manage.py anchor_audit_chain)"))
        elif report.events_checked:
            report.warnings.append(f"no anchor in {path} yet: run anchor_audit_chain")


@contextmanager
def _locked(path):
    """An exclusive lock on the anchor file: web processes, workers and beat all append to it."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield handle
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def anchor(*, path=None) -> dict:
    """Verify what was added since the last anchor, then append a signed anchor of every chain head.

    Raises ChainBroken (and anchors nothing) if the new events do not verify or no
    longer reach the previous anchor.
    """
    path = path or settings.AUDIT_ANCHOR_FILE
    with _locked(path) as handle:
        return _anchor(path, handle)


def _anchor(path, handle) -> dict:
    last = last_anchor(path)
    report = Report()
    starts = {}
    if last is not None:
        if not anchor_is_genuine(last):
            raise ChainBroken(f"the latest anchor in {path} is not signed with this deployment's key")
        starts = {chain: (seq, anchored_hash) for chain, seq, anchored_hash in last["heads"]}
        for chain, (seq, anchored_hash) in starts.items():
            if seq and not AccessEvent.objects.filter(chain=chain, seq=seq, hash=anchored_hash).exists():
                raise ChainBroken(f"chain {chain} no longer reaches its anchored event (seq {seq})")
    chains = chain_ids(with_events=False)
    for chain in chains:
        seq, prev_hash = starts.get(chain, (0, GENESIS_HASH))
        walk_chain(chain, after_seq=seq, prev_hash=prev_hash, report=report)
    if report.breaks:
        raise ChainBroken(str(report.first_break))
    heads = [[chain, *report.chains.get(chain, starts.get(chain, (0, GENESIS_HASH)))] for chain in chains]
    if last is not None and last.get("heads") == heads:
        return last  # nothing written since: a quiet minute adds no line
    body = {"at": timezone.now().isoformat(timespec="seconds"), "heads": heads}
    line = {**body, "mac": _mac(body)}
    handle.write(json.dumps(line, sort_keys=True) + "\n")
    handle.flush()
    os.fsync(handle.fileno())
    # A second copy leaves the machine with the application logs: hashes only, no personal data.
    logger.info("audit anchor %s", json.dumps(line, sort_keys=True))
    return line


def anchor_soon() -> None:
    """The writer's own anchor, run after the commit of every ``AUDIT_ANCHOR_EVERY``-th event of a
    chain (``audit.services``), so anchors do not depend on beat. Never fails the request, which
    has already committed: a broken chain or an unwritable file is logged at ERROR.

    With a worker (``AUDIT_ANCHOR_IN_PROCESS`` off, the default with Redis) it is queued: anchoring
    walks every event since the last anchor, which on a large log (or before the first anchor) is
    far more than a request may spend -- measured: a search timed out at 1M events.
    """
    if not settings.AUDIT_ANCHOR_IN_PROCESS:
        from celery import current_app

        try:
            current_app.send_task("audit.tasks.anchor_chain_heads")
        except Exception as error:  # noqa: BLE001 -- a broker outage must not fail a committed request
            logger.error("audit anchor not queued (beat's next anchor will cover it): %s", type(error).__name__)
        return
    try:
        anchor()
    except ChainBroken as broken:
        logger.error("audit chain broken, not anchored: %s", broken)
    except OSError as error:
        logger.error("audit anchor not written: %s", error.strerror or error)


class ChainBroken(Exception):
    pass
