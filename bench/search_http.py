"""Search and record-view latency end to end over HTTP (SPEC 7), at concurrent clients.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/signpost SECRET_KEY=... \\
        python bench/search_http.py --children 1000000 --clients 4 --requests 400

It creates a throwaway database (``test_<name>``, dropped at the end), loads ``--children``
synthetic children (``tests.children.corpus``: Faker names with accents, double-barrelled and
previous names, families sharing a surname and postcode, twins) with their name rows, addresses
and matching-engine name keys as ``save()`` writes them, then ANALYZE. It makes ``--clients``
vetted practitioners with a verified second factor (a session written to the session store as the
OTP login would leave it) in one organisation that has open involvements with some children, so
their records may be opened. It collects static files, starts the app under gunicorn against that
database (DEBUG off, as deployed) and runs ``--clients`` client processes, each with its own
session, issuing, in a shuffled mix:

  identifier  search by NHS number
  plain       exact given and family name and date of birth (the plain stage answers)
  fuzzy-auto  a typo or sound-alike name with the date of birth: the plain stage finds nothing,
              then the fuzzy stage (phonetic keys, short forms, scoring inside the block) runs
  fuzzy-asked the exact name and date of birth with "include similar names" ticked: the fuzzy
              stage alone
  record      GET of a child record the practitioner may open (the audit write included)
  search-page GET of the empty search form (signed in: the middleware and template floor, no query)
  healthz     GET /healthz (no session, one SELECT 1: the HTTP and WSGI floor)

Each kind's queries are checked in-process first (``matching.search``) so each lands in the stage
its label says. Latency is per request, connect to last byte, measured in the client. Search is a
POST (the form posts, so the query stays out of URLs and logs) carrying the CSRF token.
"""

import argparse
import multiprocessing
import os
import platform
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "signpost.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, connections  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from http_load import percentile, request, signed_in, start_gunicorn, stop_gunicorn, verified_session  # noqa: E402

KINDS = ["identifier", "plain", "fuzzy-auto", "fuzzy-asked", "record", "search-page", "healthz"]
TARGET_MS = {"identifier": 25, "plain": 25, "fuzzy-auto": 150, "fuzzy-asked": 150, "record": 25}


def load_children(count: int, chunk: int = 20_000):
    """The corpus's people, loaded in chunks as ``tests.children.corpus.load`` does (derived fields
    and name keys as ``save()`` computes them), with NHS numbers unique across chunks."""
    from datetime import date

    from children.models import Address, Child, ChildName, NameKey
    from feed_ingest import nhs_numbers
    from tests import factories
    from tests.children import corpus

    started = time.perf_counter()
    people = corpus.population(count, absent=0).people
    print(f"generated {len(people):,} people in {time.perf_counter() - started:.1f}s", flush=True)
    la = factories.LocalAuthorityFactory()
    numbers = nhs_numbers(400_000_000, len(people))  # valid and distinct (a random draw collides at 1M)
    nhs = {}
    for offset in range(0, len(people), chunk):
        children, child_names, addresses = [], [], []
        for n, person in enumerate(people[offset: offset + chunk], start=offset):
            child = Child(given_names=person.given, family_name=person.family, date_of_birth=person.dob,
                          sex=person.sex, nhs_number=numbers[n], postcode=person.postcode,
                          address_line="1 Corpus Road", local_authority=la, shielded=person.shielded)
            child.derive_fields()
            children.append(child)
        Child.objects.bulk_create(children, batch_size=2000)
        for person, child in zip(people[offset: offset + chunk], children):
            person.reference = child.reference
            nhs[child.reference] = child.nhs_number
            child_names += corpus.names_of(person, child)
            addresses.append(Address(child=child, postcode=person.postcode, local_authority=la,
                                     moved_in_on=date(2022, 1, 1)))
        ChildName.objects.bulk_create(child_names, batch_size=2000)
        Address.objects.bulk_create(addresses, batch_size=2000)
        NameKey.rebuild_for_children(children)
        if (offset // chunk) % 10 == 9:
            print(f"  {offset + chunk:,} loaded, {time.perf_counter() - started:.0f}s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"loaded {len(people):,} children in {time.perf_counter() - started:.1f}s", flush=True)
    return people, nhs


def make_practitioners(count: int, viewable: list):
    """``count`` vetted practitioners of one organisation with open involvements on ``viewable``
    children (access synced as a real involvement gives it), each with a verified-TOTP session."""
    from audit.context import RequestContext
    from practitioners.services import involvement_access_pairs, sync_organisation_access
    from tests import factories

    organisation = factories.OrganisationFactory()
    service = factories.ServiceFactory(name="School nursing", code="school-nursing")
    involvements = [factories.InvolvementFactory(child=child, organisation=organisation, service=service)
                    for child in viewable]
    sync_organisation_access(opened=involvement_access_pairs(involvements), context=RequestContext.system("bench"),
                             audit_each=False)
    return [verified_session(factories.PractitionerFactory(organisation=organisation).user) for _ in range(count)]


def build_work(people, nhs, viewable_refs, per_kind: int, seed: int = 7):
    """(kind, method, path, form) requests, each search's stage checked in-process first."""
    from children import matching
    from tests.children import corpus

    rng = random.Random(seed)
    work = {kind: [] for kind in KINDS}

    def form(given, family, dob, **extra):
        return {"given_name": given, "family_name": family, "dob_day": dob.day, "dob_month": dob.month,
                "dob_year": dob.year, **extra}

    def stage(given, family, dob, mode=matching.AUTO):
        outcome = matching.search(matching.Query.of(given_name=given, family_name=family, date_of_birth=dob),
                                  mode=mode)
        return outcome.mode, outcome.references

    sample = rng.sample(people, min(len(people), per_kind * 6))
    for person in sample:
        if len(work["identifier"]) < per_kind:
            work["identifier"].append(("identifier", {"nhs_number": nhs[person.reference]}))
        used, refs = stage(person.given, person.family, person.dob)
        if used == matching.PLAIN and len(work["plain"]) < per_kind:
            work["plain"].append(("plain", form(person.given, person.family, person.dob)))
        if len(work["fuzzy-asked"]) < per_kind:
            work["fuzzy-asked"].append(("fuzzy-asked", form(person.given, person.family, person.dob, similar="on")))
        if len(work["fuzzy-auto"]) < per_kind:
            slip = corpus.typo if rng.random() < 0.5 else corpus.sound_alike
            family = slip(rng, person.family)
            used, refs = stage(person.given, family, person.dob)
            if used == matching.FUZZY:
                work["fuzzy-auto"].append(("fuzzy-auto", form(person.given, family, person.dob)))
    refs = list(viewable_refs)
    work["record"] = [("record", refs[i % len(refs)]) for i in range(per_kind)]
    work["search-page"] = [("search-page", None)] * (per_kind // 4)
    work["healthz"] = [("healthz", None)] * (per_kind // 4)
    short = {kind: len(items) for kind, items in work.items() if len(items) < per_kind and kind in TARGET_MS}
    if short:
        print(f"note: fewer queries than asked for {short}", flush=True)
    return work


def client_process(args):
    """One signed-in practitioner: fetch the search page for a CSRF token, then time each request."""
    port, session_key, items = args
    cookies, token = signed_in(port, session_key)
    out, started = [], time.perf_counter()
    for kind, payload in items:
        t0 = time.perf_counter()
        if kind == "record":
            status, _, data = request(port, "GET", f"/children/{payload}/", cookies=cookies)
        elif kind == "search-page":
            status, _, data = request(port, "GET", "/children/search/", cookies=cookies)
        elif kind == "healthz":
            status, _, data = request(port, "GET", "/healthz")
        else:
            body = urlencode({"csrfmiddlewaretoken": token, **payload})
            status, _, data = request(port, "POST", "/children/search/", body=body, cookies=cookies,
                                      headers={"Referer": f"http://127.0.0.1:{port}/children/search/"})
        elapsed = (time.perf_counter() - t0) * 1000
        assert status == 200, f"{kind} answered {status}: {data[:300]!r}"
        out.append((kind, elapsed))
    return out, time.perf_counter() - started


def icontains_baseline(people, count: int):
    """A naive ``icontains`` query on the two names alone (``UPPER(col) LIKE``: no index serves it, as
    SPEC 7 measured), timed in-process."""
    from children.models import Child

    rng = random.Random(3)
    times = []
    for person in rng.sample(people, count):
        t0 = time.perf_counter()
        list(Child.objects.filter(family_name__icontains=person.family[:5], given_names__icontains=person.given[:3])
                             [:20])
        times.append((time.perf_counter() - t0) * 1000)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--children", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--requests", type=int, default=400, help="requests of each kind (shared by the clients)")
    parser.add_argument("--viewable", type=int, default=500, help="children the practitioners' organisation is "
                                                                   "involved with (their records may be opened)")
    parser.add_argument("--icontains", type=int, default=10, help="naive icontains queries to time (0: none)")
    parser.add_argument("--data-dir", default=os.environ.get("SIGNPOST_DATA_DIR", "/tmp/signpost-bench"))
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run the benchmark on PostgreSQL: set DATABASE_URL=postgres://...")

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    server = None
    try:
        people, nhs = load_children(args.children)
        from children.models import Child

        viewable = list(Child.objects.filter(shielded=False).order_by("?")[:args.viewable])
        sessions = make_practitioners(args.clients, viewable)
        work = build_work(people, nhs, [child.reference for child in viewable], args.requests)
        mixed = [item for items in work.values() for item in items]
        random.Random(11).shuffle(mixed)
        naive = icontains_baseline(people, args.icontains) if args.icontains else []

        url = urlsplit(os.environ["DATABASE_URL"])
        database_url = urlunsplit(url._replace(path=f"/{connection.settings_dict['NAME']}"))
        server, port = start_gunicorn(database_url, args.workers, args.data_dir)
        connections.close_all()
        # warm up each worker (imports, template loading, the planner's first plans): untimed
        warm = [(port, key, mixed[:20]) for key in sessions]
        with multiprocessing.get_context("fork").Pool(args.clients) as pool:
            pool.map(client_process, warm)
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        with multiprocessing.get_context("fork").Pool(args.clients) as pool:
            results = pool.map(client_process, [(port, key, mixed[n::args.clients]) for n, key in enumerate(sessions)])
        wall = time.perf_counter() - started
        load_after = os.getloadavg()[0]

        by_kind = {kind: [] for kind in KINDS}
        for out, _ in results:
            for kind, ms in out:
                by_kind[kind].append(ms)
        total = sum(len(v) for v in by_kind.values())
        print(f"\n{args.clients} clients, gunicorn {args.workers} sync workers, {total:,} requests in {wall:.1f}s "
              f"= {total / wall:,.0f} requests/s")
        print(f"{'kind':<12} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  SPEC 7 p95 target")
        for kind, values in by_kind.items():
            if values:
                p95 = percentile(values, 0.95)
                print(f"{kind:<12} {len(values):>5} {percentile(values, 0.5):8.1f} {p95:8.1f} "
                      f"{percentile(values, 0.99):8.1f}  " + (
                          f"<= {TARGET_MS[kind]} ms {'met' if p95 <= TARGET_MS[kind] else 'MISSED'}"
                          if kind in TARGET_MS else "(floor, no target)"))
        if naive:
            print(f"{'icontains':<12} {len(naive):>5} {percentile(naive, 0.5):8.1f} {percentile(naive, 0.95):8.1f} "
                  f"{percentile(naive, 0.99):8.1f}  in-process ORM query, no HTTP (for the SPEC's 100x comparison)")
        from audit.models import AccessEvent

        modes = {}
        for details in AccessEvent.objects.filter(action="child.search").values_list("details", flat=True):
            modes[details.get("mode")] = modes.get(details.get("mode"), 0) + 1
        print(f"audited searches by stage: {modes}; record views audited: "
              f"{AccessEvent.objects.filter(action='child.view').count():,}")
        print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores (clients and server share them), "
              f"load average {load_before:.1f} before / {load_after:.1f} after, Python {platform.python_version()}, "
              f"PostgreSQL {connection.pg_version // 10000}; {Child.objects.count():,} children")
    finally:
        if server is not None:
            stop_gunicorn(server)
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
