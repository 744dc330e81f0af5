"""Write a large access log for ``bench/generate.py --audit-events N``: hash-chained, across monthly
partitions, with the children a search disclosed, as the app's writer would leave it.

Events are spread evenly over ``months`` months up to now, in time order, dealt round the
``AUDIT_CHAINS`` chains; each chain is hashed in order with the app's own ``compute_hash`` (so
``verify_audit_chain`` checks them), continuing from the chain's current head. Each worker owns
whole chains, so chains are hashed in parallel and never interleave. Actors, organisations and
children are real rows of the generated database.
"""

import hashlib
import multiprocessing
import random
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from django.conf import settings
from django.db import connection, transaction

from audit import partitions
from audit.models import AccessEvent, ChainHead, EventDisclosure
from audit.services import compute_hash

# (action, share, carries a child, discloses search results); roughly a practitioner's day.
ACTIONS = [
    ("child.search", 0.55, False, True),
    ("child.view", 0.25, True, False),
    ("login", 0.08, False, False),
    ("logout", 0.05, False, False),
    ("involvement.add", 0.03, True, False),
    ("access.request", 0.015, True, False),
    ("grant.break_glass", 0.005, True, False),
    ("audit.view", 0.02, False, False),
]
ROLES = ["practitioner", "practitioner", "practitioner", "la_admin", "auditor"]
AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
COLUMNS = ["id", "occurred_at", "chain", "seq", "actor_id", "actor_username", "actor_role", "organisation_id",
           "local_authority_id", "action", "child_ref", "child_local_authority_id", "shielded", "reason",
           "request_id", "ip_address", "user_agent", "outcome", "details", "prev_hash", "hash"]


def _sample(cursor, *, children: int, actors: int, rng: random.Random):
    """Children (reference, LA, shielded) and organisations to act from: a sample of the real rows."""
    cursor.execute("SELECT count(*) FROM children_child")
    total = cursor.fetchone()[0]
    percent = min(100.0, 100.0 * children * 1.5 / max(total, 1))
    cursor.execute("SELECT reference, local_authority_id, shielded FROM children_child "
                   f"TABLESAMPLE BERNOULLI ({percent}) REPEATABLE (%s) LIMIT %s", [rng.randint(0, 10**6), children])
    kids = cursor.fetchall()
    cursor.execute("SELECT id, local_authority_id FROM practitioners_organisation ORDER BY id")
    organisations = cursor.fetchall()
    people = [(1_000_000 + n, f"bench.user.{n}", *rng.choice(organisations), rng.choice(ROLES)) for n in range(actors)]
    return kids, people


def _chain_job(args):
    """Hash and COPY every event of the chains given, in order; returns (events, disclosures)."""
    chains, n_chains, total, first_id, start, span, seed, kids, people, heads = args
    connection.close()
    cum, acc = [], 0.0
    for _, share, _, _ in ACTIONS:
        acc += share
        cum.append(acc)
    written = disclosed = 0
    for chain in chains:
        rng = random.Random(seed * 7_919 + chain)
        seq, prev = heads[chain]
        lines, disclosures = [], []
        for i in range(chain - 1, total, n_chains):
            action, _, with_child, discloses = rng.choices(ACTIONS, cum_weights=cum)[0]
            actor_id, username, organisation_id, la_id, role = rng.choice(people)
            child_ref, child_la, shielded = rng.choice(kids) if with_child else ("", None, False)
            details = {}
            refs = []
            if discloses:
                refs = sorted({rng.choice(kids)[0] for _ in range(rng.choice([0, 1, 1, 1, 2, 3]))})
                details = {"fingerprint": hashlib.sha256(f"{seed}:{i}".encode()).hexdigest(), "mode": "auto",
                           "results": len(refs)}
                if refs:
                    details["disclosed"] = refs
            seq += 1
            event = SimpleNamespace(
                chain=chain, seq=seq, occurred_at=start + span * (i / total), actor_id=actor_id,
                actor_username=username, actor_role=role, organisation_id=organisation_id, local_authority_id=la_id,
                action=action, child_ref=child_ref, child_local_authority_id=child_la, shielded=shielded,
                reason="", request_id=f"{i:032x}", ip_address=f"10.{i % 250}.{(i // 250) % 250}.{rng.randint(1, 250)}",
                user_agent=AGENT, outcome="allowed", details=details, prev_hash=prev)
            event.hash = prev = compute_hash(event)
            event_id = first_id + i
            lines.append("\t".join(_copy_value(getattr(event, c)) if c != "id" else str(event_id) for c in COLUMNS)
                         + "\n")
            disclosures += [f"{event_id}\t{event.occurred_at.isoformat()}\t{ref}\n" for ref in refs]
            if len(lines) >= 20_000:
                written, disclosed = _flush(lines, disclosures, written, disclosed)
                lines, disclosures = [], []
        written, disclosed = _flush(lines, disclosures, written, disclosed)
        heads[chain] = (seq, prev)
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {ChainHead._meta.db_table} SET last_seq = %s, last_hash = %s, last_event_id = "
                           f"(SELECT max(id) FROM {AccessEvent._meta.db_table} WHERE chain = %s) WHERE id = %s",
                           [seq, prev, chain, chain])
    return written, disclosed


def _copy_value(value) -> str:
    import json

    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, dict):
        value = json.dumps(value, sort_keys=True)
    elif isinstance(value, datetime):
        return value.isoformat()
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _flush(lines, disclosures, written, disclosed):
    with connection.cursor() as django_cursor, transaction.atomic():
        cursor = django_cursor.cursor
        if lines:
            with cursor.copy(f"COPY {AccessEvent._meta.db_table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                copy.write("".join(lines))
        if disclosures:
            with cursor.copy(f"COPY {EventDisclosure._meta.db_table} (event_id, occurred_at, child_ref) "
                             "FROM STDIN") as copy:
                copy.write("".join(disclosures))
    return written + len(lines), disclosed + len(disclosures)


def write_events(*, total: int, seed: int, months: int = 12, workers: int = 2, children: int = 200_000,
                 actors: int = 5_000) -> dict:
    """Append ``total`` chained events over the last ``months`` months; return counts and timings."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    start = (now - timedelta(days=30 * months)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    partitions.ensure_month_partitions(first_month=start.date(), months=months + 3)
    n_chains = settings.AUDIT_CHAINS
    from audit.services import ensure_chain_heads

    ensure_chain_heads()
    heads = {h.pk: (h.last_seq, h.last_hash) for h in ChainHead.objects.filter(pk__lte=n_chains)}
    with connection.cursor() as cursor:
        kids, people = _sample(cursor, children=children, actors=actors, rng=rng)
        cursor.execute(f"SELECT COALESCE(max(id), 0) + 1 FROM {AccessEvent._meta.db_table}")
        first_id = cursor.fetchone()[0]
    if not kids:
        raise RuntimeError("no children to name in the log: generate children first")
    # Events already in a chain are older; new ones continue after them in time.
    latest = AccessEvent.objects.order_by("-occurred_at").values_list("occurred_at", flat=True).first()
    if latest and latest > start:
        start = latest + timedelta(microseconds=1)
    span = now - start
    jobs = [([c for c in range(1, n_chains + 1) if c % workers == w], n_chains, total, first_id, start, span, seed,
             kids, people, heads) for w in range(workers)]
    started = time.perf_counter()
    connection.close()
    if workers == 1:
        results = [_chain_job(jobs[0])]
    else:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = pool.map(_chain_job, jobs)
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        for table in (AccessEvent._meta.db_table, EventDisclosure._meta.db_table):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"GREATEST((SELECT max(id) FROM {table}), 1))")
    events = sum(r[0] for r in results)
    return {"audit_events": events, "disclosures": sum(r[1] for r in results), "audit_seconds": round(seconds, 1),
            "audit_events_per_second": round(events / max(seconds, 1e-9)), "months": months, "chains": n_chains}
