"""Every SPEC 7 measurement in one run, against a database bench/generate.py filled (issue 19).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/signpost_11m REDIS_URL=redis://127.0.0.1:6379/0 \\
    SECRET_KEY=... python bench/run.py [--clients 1,4,16] [--requests 400] [--seconds 60] [--quick]

The app runs under gunicorn as deployed (DEBUG off, PostgreSQL, Redis), on a free loopback port.
At each number of concurrent clients, each client its own process and its own signed-in user,
it times over HTTP (connect to last byte, in the client):

  search-identifier  NHS number
  search-plain       exact given and family name and date of birth
  search-phonetic    a sound-alike family name (the fuzzy stage's phonetic keys)
  search-typo        one typing slip in the family name
  search-nickname    a short form of the given name (Bill for William)
  search-dob-slip    exact names, the date of birth with a one-digit slip or day/month swap
  record             GET of a record the practitioner may open (its audit write included)
  feed-upsert        POST /api/v1/involvements/bulk, an organisation token, --feed-batch rows a call
  audit-filter       the auditor console, filtered by actor, action, child, organisation, dates
  audit-csv          the auditor's streamed CSV export of one practitioner's events today

Search queries come from children sampled from the database with the slips applied; each search's
"found" is the share of answers that listed the sampled child. Then, in-process:

  icontains          a naive ``family_name__icontains`` + ``given_names__icontains`` ORM query
                     (``UPPER(col) LIKE``), timed in this process with no HTTP, beside the engine's
                     own ``matching.search`` on the same names in this process: the ratio of their
                     p95s is the SPEC's "100x faster than icontains", without HTTP on either side
  audit-write        audit.services.record_event from --audit-writers processes, one transaction an
                     event; afterwards every new link is verified from the chain heads as they were
                     before (and the whole log with ``integrity.verify``, as ``verify_audit_chain``
                     does, when it holds at most --full-verify-max events)
  retention          children.retention.expire_stale_records over --retention-children stale
                     children the run makes itself (see ``make_stale_children``)
  worker-rss         resident memory of each gunicorn worker at the end of the HTTP measurements

What a run leaves in the database: bench users (``bench-run-practitioner-N``, ``bench-run-auditor``)
with a TOTP device each, reused by the next run; one organisation token a run; the audit events
every measurement writes (searches, views, exports, --audit-writers x --audit-events, one retention
run); involvements ``BENCH-<child id>`` from the feed, one per sampled child, re-sent with another
contact phone on every pass (so each pass after the first is all ``updated``); the retention
measurement's children are made and deleted within it. None of this changes what the next run
measures beyond the audit log growing.

Writes ``bench-run-<time>.json`` and ``.md`` into --out and prints the Markdown.
"""

import argparse
import itertools
import json
import multiprocessing
import os
import platform
import random
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone as dt_timezone
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "signpost.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, connections  # noqa: E402

from http_load import (  # noqa: E402
    request, signed_in, start_gunicorn, stop_gunicorn, summary, verified_session, worker_rss_kib)

SEARCH_KINDS = ["search-identifier", "search-plain", "search-phonetic", "search-typo", "search-nickname",
                "search-dob-slip"]
HTTP_KINDS = SEARCH_KINDS + ["record", "feed-upsert", "audit-filter", "audit-csv"]
# SPEC 7 p95 targets at 4 clients (ms). The phonetic stage is a key probe (25 ms); typo, nickname and
# date-slip queries reach the fuzzy stage's scoring (150 ms).
TARGET_P95_MS = {"search-identifier": 25, "search-plain": 25, "search-phonetic": 25, "search-typo": 150,
                 "search-nickname": 150, "search-dob-slip": 150, "record": 25, "audit-filter": 50}
BENCH_PREFIX = "bench-run"


# --- Who acts -------------------------------------------------------------------------------

def busiest_organisation():
    """The organisation with the most children it may open (open involvements give access)."""
    from django.db.models import Count

    from practitioners.models import ChildGroupObjectPermission, Organisation

    row = (ChildGroupObjectPermission.objects.values("group_id").annotate(n=Count("id")).order_by("-n").first())
    if not row:
        raise SystemExit("No organisation has an open involvement: generate a population first (bench/generate.py)")
    return Organisation.objects.get(access_group_id=row["group_id"])


def practitioner_users(organisation, count: int) -> list:
    """``count`` vetted practitioners of ``organisation``, made once and reused by later runs."""
    from practitioners.models import Practitioner
    from tests import factories

    users = []
    for n in range(count):
        username = f"{BENCH_PREFIX}-practitioner-{n}"
        practitioner = Practitioner.objects.filter(user__username=username).first()
        if practitioner is None:
            user = factories.UserFactory(username=username, roles=["Practitioner"])
            practitioner = factories.PractitionerFactory(user=user, organisation=organisation)
        elif practitioner.organisation_id != organisation.pk:  # a regenerated database: follow the organisation
            practitioner.organisation = organisation
            practitioner.save(update_fields=["organisation"])
        users.append(practitioner.user)
    return users


def auditor_user():
    from practitioners import roles
    from tests import factories

    return factories.UserFactory(username=f"{BENCH_PREFIX}-auditor", roles=[roles.AUDITOR])


def organisation_token(organisation) -> str:
    from feeds.models import OrganisationToken

    key = OrganisationToken.new_key()
    OrganisationToken.objects.create(name=f"{BENCH_PREFIX} {date.today()}", organisation=organisation,
                                     prefix=key[:10], key_hash=OrganisationToken.hash_key(key))
    return key


# --- What they ask ----------------------------------------------------------------------------

def sample_children(count: int, rng: random.Random) -> list:
    """About ``count`` unshielded children drawn at random by id (no ORDER BY random() over millions)."""
    from django.db.models import Max, Min

    from children.models import Child

    bounds = Child.objects.aggregate(low=Min("id"), high=Max("id"))
    if bounds["low"] is None:
        raise SystemExit("The database holds no children: run bench/generate.py first")
    span = range(bounds["low"], bounds["high"] + 1)
    ids = rng.sample(span, min(len(span), count * 2))
    children = list(Child.objects.filter(pk__in=ids, shielded=False).order_by("pk")[:count * 2])
    rng.shuffle(children)
    return children[:count]


def search_work(children, rng: random.Random) -> dict[str, list]:
    """(form, reference) pairs per search kind, the slips applied to each sampled child."""
    from tests.children import corpus

    def form(given, family, dob, **extra):
        return {"given_name": given, "family_name": family, "dob_day": dob.day, "dob_month": dob.month,
                "dob_year": dob.year, **extra}

    work = {kind: [] for kind in SEARCH_KINDS}
    for child in children:
        given, family, dob = child.given_names.split()[0], child.family_name, child.date_of_birth
        ref = child.reference
        work["search-identifier"].append(({"nhs_number": child.nhs_number}, ref))
        work["search-plain"].append((form(given, family, dob), ref))
        work["search-phonetic"].append((form(given, corpus.sound_alike(rng, family), dob), ref))
        work["search-typo"].append((form(given, corpus.typo(rng, family), dob), ref))
        short = corpus.short_form(rng, given)
        if short:
            work["search-nickname"].append((form(short, family, dob), ref))
        work["search-dob-slip"].append((form(given, family, corpus.dob_slip(rng, dob)), ref))
    return work


def viewable_references(organisation, count: int) -> list[str]:
    from children.models import Child
    from practitioners.models import ChildGroupObjectPermission

    ids = ChildGroupObjectPermission.objects.filter(group_id=organisation.access_group_id).values("content_object_id")
    return list(Child.objects.filter(pk__in=ids[:count * 4], shielded=False).values_list("reference", flat=True)
                [:count])


def feed_rows(children, organisation) -> list[dict]:
    """One row a child, matched by NHS number, under an external id of its own (``BENCH-<id>``)."""
    service = organisation.services.order_by("code").first()
    return [{"external_id": f"BENCH-{c.pk}", "given_names": c.given_names, "family_name": c.family_name,
             "date_of_birth": c.date_of_birth.isoformat(), "sex": c.sex, "nhs_number": c.nhs_number,
             "postcode": c.postcode, "service": service.code, "started_on": "2025-09-01"}
            for c in children if c.nhs_number]


def audit_filter_work(users, organisation, references) -> list[str]:
    today = date.today()
    queries = [{"actor": u.username} for u in users[:4]]
    queries += [{"action": "child.view"}, {"action": "child.search", "date_from": (today - timedelta(days=7))
                                            .isoformat(), "date_to": today.isoformat()},
                {"organisation": organisation.name[:12]}, {"outcome": "denied"}]
    queries += [{"child_ref": ref} for ref in references[:4]]
    return ["/audit/?" + urlencode(q) for q in queries]


# --- The clients ------------------------------------------------------------------------------

def client(args):
    """One client process: (kind, ms, found, units) a request, until its items or its seconds run out."""
    kind, port, session_key, items, seconds, warm = args
    cookies, token = ({}, "")
    if kind.startswith("search-"):
        cookies, token = signed_in(port, session_key)
    elif session_key:
        cookies = {settings.SESSION_COOKIE_NAME: session_key}
    out, started = [], time.perf_counter()
    for n, item in enumerate(items):
        if n >= warm and time.perf_counter() - started > seconds:
            break
        t0 = time.perf_counter()
        found, units = None, 1
        if kind.startswith("search-"):
            payload, ref = item
            status, _, data = request(port, "POST", "/children/search/",
                                      body=urlencode({"csrfmiddlewaretoken": token, **payload}), cookies=cookies,
                                      headers={"Referer": f"http://127.0.0.1:{port}/children/search/"})
            found = ref.encode() in data
        elif kind == "record":
            status, _, data = request(port, "GET", f"/children/{item}/", cookies=cookies)
        elif kind == "feed-upsert":
            key, rows = item
            status, _, data = request(port, "POST", "/api/v1/involvements/bulk", body=json.dumps({"rows": rows}),
                                      headers={"Authorization": f"Token {key}"}, content_type="application/json")
            units = len(rows)
            if status == 200:
                counts = json.loads(data)["counts"]
                assert counts.get("error", 0) == 0 and counts.get("queued_for_review", 0) == 0, counts
        else:  # audit-filter, audit-csv
            status, _, data = request(port, "GET", item, cookies=cookies)
            units = data.count(b"\n") if kind == "audit-csv" else 1
        elapsed = (time.perf_counter() - t0) * 1000
        assert status == 200, f"{kind} answered {status}: {data[:300]!r}"
        if n >= warm:  # the first requests of each client warm its worker: untimed
            out.append((elapsed, found, units))
    return out


def run_http(kind, port, clients: int, sessions: list, items: list, requests: int, seconds: float,
             warm: int = 2) -> dict:
    """``requests`` of ``kind`` shared by ``clients`` processes, each stopping after ``seconds``; each
    client's first ``warm`` requests are not timed."""
    per_client = max(1, requests // clients)
    cycle = itertools.cycle(items)
    shares = [[next(cycle) for _ in range(per_client + warm)] for _ in range(clients)]
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        results = pool.map(client, [(kind, port, sessions[n] if sessions else None, shares[n], seconds, warm)
                                    for n in range(clients)])
    wall = time.perf_counter() - started
    rows = [r for out in results for r in out]
    # Throughput over the timed part: the slowest client's span is the wall clock less its warm-up, so
    # use the sum of latencies per client as each one's busy time and the longest as the window.
    window = max(sum(ms for ms, _, _ in out) for out in results) / 1000 if rows else wall
    result = summary([ms for ms, _, _ in rows], window, units=sum(u for _, _, u in rows))
    found = [f for _, f, _ in rows if f is not None]
    if found:
        result["found"] = round(sum(found) / len(found), 3)
    if kind in ("feed-upsert", "audit-csv"):
        result["rows"] = sum(u for _, _, u in rows)
    return result


# --- In-process measurements -----------------------------------------------------------------

def time_icontains(children, count: int, seconds: float) -> dict:
    from children import matching
    from children.models import Child

    naive, engine = [], []
    started = time.perf_counter()
    for child in children[:count]:
        given, family = child.given_names.split()[0], child.family_name
        t0 = time.perf_counter()
        list(Child.objects.filter(family_name__icontains=family, given_names__icontains=given)[:20])
        naive.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        matching.search(matching.Query.of(given_name=given, family_name=family, date_of_birth=child.date_of_birth))
        engine.append((time.perf_counter() - t0) * 1000)
        if time.perf_counter() - started > seconds:
            break
    out = {"icontains": summary(naive, sum(naive) / 1000), "engine": summary(engine, sum(engine) / 1000)}
    out["ratio_p95"] = round(out["icontains"]["p95_ms"] / max(out["engine"]["p95_ms"], 1e-6), 1)
    return out


def time_audit_writes(writers: int, events: int, full_verify_max: int) -> dict:
    """Throughput of ``record_event`` from ``writers`` processes, then the chains checked."""
    from multiprocessing import Barrier, Process, Queue

    from audit import integrity
    from audit.models import AccessEvent, ChainHead
    from audit_write import writer
    from children.models import Child

    user = auditor_user()  # any signed-in actor: the actor lookup is part of a real write
    child_ids = list(Child.objects.filter(shielded=False).order_by("pk").values_list("pk", flat=True)[:20])
    heads = {h.id: (h.last_seq, h.last_hash) for h in ChainHead.objects.all()}
    before = AccessEvent.objects.count()
    connections.close_all()
    barrier, results = Barrier(writers + 1), Queue()
    procs = [Process(target=writer, args=(barrier, results, events, user.pk, child_ids, 1)) for _ in range(writers)]
    for p in procs:
        p.start()
    barrier.wait()
    started = time.perf_counter()
    for p in procs:
        p.join()
    wall = time.perf_counter() - started
    written = AccessEvent.objects.count() - before
    report = integrity.Report()
    for chain, (seq, last_hash) in sorted(heads.items()):
        integrity.walk_chain(chain, after_seq=seq, prev_hash=last_hash, report=report)
    new_ok = report.ok and report.events_checked >= written
    out = {"writers": writers, "events": written, "seconds": round(wall, 2),
           "per_second": round(written / max(wall, 1e-9), 1), "chains": settings.AUDIT_CHAINS,
           "new_links_verified": report.events_checked, "chain_ok": new_ok,
           "first_break": str(report.first_break) if report.first_break else None}
    if before + written <= full_verify_max:
        t0 = time.perf_counter()
        # A generated log has no anchor file (anchors are the deployment's, outside the database): the
        # chain's own links are what is measured here.
        full = integrity.verify(require_anchor=False)
        out.update(full_verify=True, full_verify_ok=full.ok, full_verify_events=full.events_checked,
                   full_verify_seconds=round(time.perf_counter() - t0, 2))
        out["chain_ok"] = out["chain_ok"] and full.ok
    else:
        out["full_verify"] = False
    return out


# Retention runs "as of" a day long ago, so only the bench's own children (born 1980, inactive since
# 1998) are stale then, whatever the age of the generated population: the run never deletes a
# generated child.
RETENTION_TODAY = date(2001, 1, 1)


def make_stale_children(count: int) -> list[int]:
    """``count`` children stale on RETENTION_TODAY, with a name, an address, an ended involvement
    and matching keys, written as the app stores them."""
    from children.models import Address, Child, ChildName, Involvement, NameKey
    from practitioners.models import Organisation

    organisation = Organisation.objects.filter(services__isnull=False).order_by("pk").first()
    service = organisation.services.order_by("pk").first()
    old = datetime(1998, 6, 1, tzinfo=dt_timezone.utc)
    tag = uuid.uuid4().hex[:6].upper()
    children = []
    for n in range(count):
        child = Child(given_names="Stale", family_name=f"Benchrun{tag}", date_of_birth=date(1980, 1, 1 + n % 28),
                      sex="U", postcode="LS6 2AB", address_line="1 Retention Road",
                      local_authority_id=organisation.local_authority_id, last_activity_at=old,
                      retain_until=date(1999, 6, 1))
        child.derive_fields()
        children.append(child)
    Child.objects.bulk_create(children, batch_size=1000)
    Child.objects.filter(pk__in=[c.pk for c in children]).update(created_at=old, last_activity_at=old)
    names_ = [ChildName(child=c, kind="current", given_names=c.given_names, family_name=c.family_name)
              for c in children]
    for name in names_:
        name.derive_fields()
    ChildName.objects.bulk_create(names_, batch_size=1000)
    NameKey.rebuild_for_children(children)
    Address.objects.bulk_create([Address(child=c, postcode=c.postcode, local_authority_id=c.local_authority_id,
                                         moved_in_on=date(1980, 1, 1)) for c in children], batch_size=1000)
    Involvement.objects.bulk_create([
        Involvement(child=c, organisation=organisation, service=service, started_on=date(1990, 1, 1),
                    ended_on=date(1995, 1, 1), contact_phone=organisation.contact_phone) for c in children],
        batch_size=1000)
    return [c.pk for c in children]


def time_retention(count: int) -> dict:
    from children import retention
    from children.models import Child

    # Checked before making any: only children an earlier, interrupted run made may be stale then.
    unrelated = retention.stale_children(today=RETENTION_TODAY).exclude(family_name__startswith="Benchrun").count()
    if unrelated:
        raise SystemExit(f"{unrelated} other children are stale on {RETENTION_TODAY}: the retention measurement "
                         "would delete them; not run")
    ids = make_stale_children(count)
    t0 = time.perf_counter()
    result = retention.expire_stale_records(today=RETENTION_TODAY)
    seconds = time.perf_counter() - t0
    left = Child.objects.filter(pk__in=ids).count()
    return {"children": result.deleted["child"], "batches": result.batches, "seconds": round(seconds, 2),
            "per_second": round(result.deleted["child"] / max(seconds, 1e-9), 1), "left_behind": left,
            "completed": result.completed, "batch_size": settings.RETENTION_BATCH_SIZE}


# --- Report -----------------------------------------------------------------------------------

def markdown(result: dict) -> str:
    meta = result["meta"]
    lines = [f"# bench/run {meta['started']}", "",
             f"{meta['children']:,} children, {meta['events_before']:,} audit events before; gunicorn "
             f"{meta['workers']} sync workers; {meta['cpus']} cores shared by clients, server and database; "
             f"load average {meta['load_before']} before / {meta['load_after']} after.", "",
             "| measurement | clients | n | p50 ms | p95 ms | p99 ms | throughput | found | SPEC 7 p95 |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for kind, by_clients in result["http"].items():
        unit = {"feed-upsert": "rows/s", "audit-csv": "rows/s"}.get(kind, "req/s")
        for clients, r in by_clients.items():
            if not r.get("n"):
                lines.append(f"| {kind} | {clients} | 0 | | | | | | |")
                continue
            target = TARGET_P95_MS.get(kind)
            verdict = (f"≤ {target} ms {'met' if r['p95_ms'] <= target else 'MISSED'}"
                       if target and clients == "4" else "")
            lines.append(f"| {kind} | {clients} | {r['n']} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | "
                         f"{r['per_second']:,} {unit} | {r.get('found', '')} | {verdict} |")
    ic = result["icontains"]
    lines += ["", "| in process | n | p50 ms | p95 ms | p99 ms | |", "|---|---:|---:|---:|---:|---|",
              f"| icontains (ORM) | {ic['icontains']['n']} | {ic['icontains']['p50_ms']} | {ic['icontains']['p95_ms']} "
              f"| {ic['icontains']['p99_ms']} | |",
              f"| engine matching.search | {ic['engine']['n']} | {ic['engine']['p50_ms']} | {ic['engine']['p95_ms']} "
              f"| {ic['engine']['p99_ms']} | icontains/engine p95 = {ic['ratio_p95']}x (SPEC: ≥ 100x) |"]
    if "ratio_p95_http" in ic:
        lines.append(f"| | | | | | icontains p95 / HTTP search-plain p95 at {ic['http_clients']} clients = "
                     f"{ic['ratio_p95_http']}x |")
    aw, rt, rss = result["audit_write"], result["retention"], result["worker_rss"]
    lines += ["",
              f"- audit writes: {aw['events']:,} events from {aw['writers']} writers in {aw['seconds']} s = "
              f"**{aw['per_second']:,} events/s** ({aw['chains']} chains; SPEC ≥ 5,000/s); chain "
              f"{'intact' if aw['chain_ok'] else 'BROKEN: ' + str(aw['first_break'])} "
              f"({aw['new_links_verified']:,} new links verified"
              + (f"; full verify of {aw['full_verify_events']:,} events {'OK' if aw['full_verify_ok'] else 'FAILED'}"
                 f" in {aw['full_verify_seconds']} s)" if aw["full_verify"] else "; full verify skipped: log too big)"),
              f"- retention: {rt['children']:,} stale children expired in {rt['seconds']} s = "
              f"**{rt['per_second']:,} records/s** ({rt['batches']} batches of {rt['batch_size']}; "
              f"{rt['left_behind']} left behind)",
              f"- web worker RSS: max {rss['max_mib']} MiB, mean {rss['mean_mib']} MiB over {rss['workers']} workers "
              f"(after the HTTP measurements)"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,4,16", help="comma-separated concurrency levels")
    parser.add_argument("--requests", type=int, default=400, help="requests per measurement per concurrency level")
    parser.add_argument("--seconds", type=float, default=60, help="time cap per measurement per concurrency level")
    parser.add_argument("--warm", type=int, default=2, help="untimed requests per client before each measurement")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--sample", type=int, default=500, help="children sampled for the queries")
    parser.add_argument("--feed-batch", type=int, default=100, help="rows per feed API call")
    parser.add_argument("--feed-rows", type=int, default=5000, help="children the feed sends a row for (each pass)")
    parser.add_argument("--icontains", type=int, default=20, help="naive icontains queries (and engine searches)")
    parser.add_argument("--audit-writers", type=int, default=8)
    parser.add_argument("--audit-events", type=int, default=1000, help="events per audit writer")
    parser.add_argument("--full-verify-max", type=int, default=2_000_000,
                        help="verify the whole audit log afterwards when it holds at most this many events")
    parser.add_argument("--retention-children", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "var" / "bench"), help="directory for the JSON and Markdown")
    parser.add_argument("--data-dir", default=os.environ.get("SIGNPOST_DATA_DIR", "/tmp/signpost-bench"))
    parser.add_argument("--quick", action="store_true", help="a few requests of each (for the test suite)")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.requests, args.seconds, args.sample = "1,4", 6, 10, 30
        args.feed_batch, args.icontains, args.audit_writers, args.audit_events = 5, 5, 2, 50
        args.feed_rows = 30
        args.retention_children, args.warm = 30, 1
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        raise SystemExit("bench/run measures the production shape: set DATABASE_URL=postgres://... and REDIS_URL")
    levels = [int(c) for c in args.clients.split(",")]
    rng = random.Random(args.seed)

    from audit.models import AccessEvent
    from children.models import Child

    started = datetime.now(dt_timezone.utc)
    organisation = busiest_organisation()
    practitioners = practitioner_users(organisation, max(levels))
    auditor = auditor_user()
    key = organisation_token(organisation)
    sampled = sample_children(args.sample, rng)
    work = search_work(sampled, rng)
    references = viewable_references(organisation, args.sample)
    feed_children = {c.pk: c for c in sampled + sample_children(max(0, args.feed_rows - len(sampled)), rng)}
    rows = feed_rows(list(feed_children.values())[:args.feed_rows], organisation)
    today = date.today().isoformat()
    csv_paths = ["/audit/export.csv?" + urlencode({"actor": u.username, "date_from": today, "date_to": today})
                 for u in practitioners[:4]]
    filters = audit_filter_work(practitioners, organisation, references)
    meta = {"started": started.isoformat(timespec="seconds"), "children": Child.objects.count(),
            "events_before": AccessEvent.objects.count(), "workers": args.workers, "clients": levels,
            "cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
            "postgresql": connection.pg_version, "load_before": round(os.getloadavg()[0], 2),
            "organisation_viewable": len(references), "requests": args.requests, "seconds_cap": args.seconds,
            "quick": args.quick}
    database_url = os.environ["DATABASE_URL"]
    connections.close_all()
    # The token throttle is lifted for the run: the benchmark measures the ingest, not the limiter.
    server, port = start_gunicorn(database_url, args.workers, args.data_dir,
                                  {"API_THROTTLE_RATE": "1000000/min"})
    http = {kind: {} for kind in HTTP_KINDS}
    try:
        feed_pass = itertools.count()
        for clients in levels:
            sessions = [verified_session(u) for u in practitioners[:clients]]
            auditor_sessions = [verified_session(auditor)] * clients
            connections.close_all()
            for kind in HTTP_KINDS:
                if kind.startswith("search-"):
                    items, who = work[kind], sessions
                elif kind == "record":
                    items, who = references, sessions
                elif kind == "feed-upsert":
                    # each client its own rows (two calls never upsert one external id at once); each pass
                    # changes the contact phone, so after the first run every row is "updated"
                    phone = f"0300 555 {next(feed_pass) % 10000:04d}"
                    items, who = feed_batches(key, rows, clients, args.feed_batch, phone), None
                elif kind == "audit-filter":
                    items, who = filters, auditor_sessions
                else:
                    items, who = csv_paths, auditor_sessions
                if not items:
                    http[kind][str(clients)] = {"n": 0}
                    continue
                if kind == "feed-upsert":
                    http[kind][str(clients)] = run_feed(port, items, args.requests, args.seconds)
                else:
                    http[kind][str(clients)] = run_http(kind, port, clients, who, items, args.requests, args.seconds,
                                                          args.warm)
                print(f"{kind:<18} {clients:>3} clients  {http[kind][str(clients)]}", flush=True)
        rss = worker_rss_kib(server.pid)
    finally:
        stop_gunicorn(server)
    worker_rss = {"workers": len(rss), "max_mib": round(max(rss) / 1024, 1) if rss else None,
                  "mean_mib": round(sum(rss) / len(rss) / 1024, 1) if rss else None}
    icontains = time_icontains(sampled, args.icontains, args.seconds)
    middle = "4" if "4" in http["search-plain"] else str(levels[0])
    if http["search-plain"].get(middle, {}).get("n"):
        icontains["http_clients"] = int(middle)
        plain_p95 = http["search-plain"][middle]["p95_ms"]
        icontains["ratio_p95_http"] = round(icontains["icontains"]["p95_ms"] / plain_p95, 1)
    audit_write = time_audit_writes(args.audit_writers, args.audit_events, args.full_verify_max)
    retention_result = time_retention(args.retention_children)
    meta["load_after"] = round(os.getloadavg()[0], 2)
    meta["events_after"] = AccessEvent.objects.count()
    result = {"meta": meta, "http": http, "icontains": icontains, "audit_write": audit_write,
              "retention": retention_result, "worker_rss": worker_rss, "targets_p95_ms": TARGET_P95_MS}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"bench-run-{started.strftime('%Y%m%dT%H%M%S')}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(result)
    stem.with_suffix(".md").write_text(table)
    print("\n" + table + f"\nwritten: {stem}.json, {stem}.md")
    return result


def feed_batches(key, rows, clients: int, batch: int, phone: str) -> list[list]:
    """Each client's own batches: the rows split into ``clients`` disjoint shares, then batches."""
    batch = max(1, min(batch, len(rows) // clients))
    shares = [rows[n::clients] for n in range(clients)]
    return [[(key, [{**r, "contact_phone": phone} for r in share[i: i + batch]])
             for i in range(0, len(share), batch)] for share in shares]


def run_feed(port, per_client: list[list], requests: int, seconds: float) -> dict:
    """Feed calls, each client posting its own batches (at most one pass over its rows)."""
    clients = len(per_client)
    calls = max(1, requests // clients)
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        results = pool.map(client, [("feed-upsert", port, None, batches[:calls], seconds, 0)
                                    for batches in per_client])
    rows = [r for out in results for r in out]
    window = max(sum(ms for ms, _, _ in out) for out in results) / 1000 if rows else 0
    result = summary([ms for ms, _, _ in rows], window, units=sum(u for _, _, u in rows))
    result["rows"] = sum(u for _, _, u in rows)
    return result


if __name__ == "__main__":
    main()
