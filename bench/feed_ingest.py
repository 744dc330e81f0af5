"""Feed ingest benchmark: involvements per second through POST /api/v1/involvements/bulk.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/signpost SECRET_KEY=... \\
        python bench/feed_ingest.py --children 100000 --rows 50000

It creates a throwaway database (``test_<name>``, dropped at the end), loads
``--children`` children with NHS numbers and name keys, issues an organisation
token, then posts ``--rows`` rows in batches of FEED_BATCH_SIZE through the real
endpoint with Django's test client: the whole middleware, DRF authentication,
throttling, validation, matching, writes, history and audit, without a network.

Scenarios, each timed end to end:
  identifier  new involvements for existing children matched by NHS number (the SPEC 7 target)
  unchanged   the same batches again: every row ``unchanged``
  updated     the same rows with an end date: every row ``updated`` (the organisation's access ends)
  new-child   rows nobody matches: demographic search, then a new child record per row (each row
              carries an NHS number nobody holds, as health feeds send)
  unidentified  the same without NHS numbers (as school feeds send): demographic search, then a new
              record or, for rows like a loaded child, a review-queue entry; the synthetic names
              (few given names, one postcode) make the search's blocks far fuller than real ones
"""

import argparse
import collections
import json
import multiprocessing
import os
import platform
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "signpost.settings")

import warnings  # noqa: E402

import django  # noqa: E402

django.setup()
warnings.filterwarnings("ignore", message="No directory at")  # static files are not collected for a benchmark

from django.conf import settings  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from children import identifiers, names  # noqa: E402
from children.models import Child, ChildName, Involvement, NameKey, new_child_reference  # noqa: E402
from feeds.models import OrganisationToken  # noqa: E402
from practitioners.models import ChildGroupObjectPermission, LocalAuthority, Organisation, Service  # noqa: E402

GIVEN = ["Amelia", "Oliver", "Isla", "Noah", "Ava", "Leo", "Mia", "Arlo", "Ivy", "Muhammad", "Freya", "Theo"]
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "zi", "ba", "do", "fe", "gu", "ha", "jo", "pe", "qui",
             "sho", "tri", "wen"]


def family_name(i: int) -> str:
    """A distinct, pronounceable family name per number, so phonetic blocks stay realistic in size."""
    parts = []
    while True:
        i, digit = divmod(i, len(SYLLABLES))
        parts.append(SYLLABLES[digit])
        if not i:
            break
    return "".join(parts).capitalize() + "ton"


def nhs_numbers(start: int, count: int) -> list[str]:
    out, n = [], start
    while len(out) < count:
        first_nine = f"{n:09d}"
        check = identifiers.nhs_check_digit(first_nine)
        if check is not None:
            out.append(f"{first_nine}{check}")
        n += 1
    return out


def load_children(count: int, la) -> list[str]:
    numbers = nhs_numbers(400_000_000, count)
    started = time.perf_counter()
    for offset in range(0, count, 5000):
        chunk = numbers[offset: offset + 5000]
        children = []
        for i, nhs in enumerate(chunk, start=offset):
            dob = date(2008, 1, 1) + timedelta(days=i % 5000)
            children.append(Child(
                reference=new_child_reference(), given_names=GIVEN[i % len(GIVEN)],
                family_name=family_name(i), date_of_birth=dob, nhs_number=nhs, postcode="LS6 2AB",
                postcode_district="LS6", postcode_sector="LS6 2", local_authority=la,
                retain_until=date.today() + timedelta(days=365),
            ))
        Child.objects.bulk_create(children)
        child_names = ChildName.objects.bulk_create([
            ChildName(child=c, kind="current", given_names=c.given_names, family_name=c.family_name,
                      given_norm=names.normalise(c.given_names), family_norm=names.normalise(c.family_name),
                      given_phonetic=names.phonetic(c.given_names), family_phonetic=names.phonetic(c.family_name))
            for c in children
        ])
        # bulk_create sends no save(): the matching engine's blocking keys are written as save() would.
        NameKey.objects.bulk_create([key for name in child_names for key in NameKey.rows_for(name, name.child)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # planner statistics, as a live database has them
    print(f"loaded {count:,} children in {time.perf_counter() - started:.1f}s", flush=True)
    return numbers


def add_practitioners(organisation, count: int):
    from django.contrib.auth.models import Group, User

    from practitioners.models import Practitioner

    group = Group.objects.get(name="Practitioner")
    for n in range(count):
        user = User.objects.create(username=f"bench-{organisation.pk}-{n}")
        user.groups.add(group)
        Practitioner.objects.create(user=user, organisation=organisation, job_title="Nurse", status="active",
                                    vetting_expires_on=date.today() + timedelta(days=365),
                                    training_completed_on=date.today())


def row(i: int, nhs: str, **extra) -> dict:
    return {"external_id": f"MIS-{i}", "given_names": GIVEN[i % len(GIVEN)], "family_name": family_name(i),
            "date_of_birth": (date(2008, 1, 1) + timedelta(days=i % 5000)).isoformat(), "sex": "U",
            "nhs_number": nhs, "postcode": "LS6 2AB", "service": "school-nursing", "started_on": "2024-09-02",
            "contact_phone": "0113 496 0000", **extra}


def post_all(key, rows, batch_size, expect) -> tuple[float, collections.Counter]:
    """(seconds, outcome counts); every row must end in one of the ``expect`` outcomes."""
    client = Client()
    started = time.perf_counter()
    total = collections.Counter()
    for offset in range(0, len(rows), batch_size):
        body = json.dumps({"rows": rows[offset: offset + batch_size]})
        response = client.post("/api/v1/involvements/bulk", body, content_type="application/json",
                               HTTP_AUTHORIZATION=f"Token {key}")
        assert response.status_code == 200, response.content[:500]
        counts = response.json()["counts"]
        assert sum(counts[e] for e in expect) == len(rows[offset: offset + batch_size]), counts
        total.update(counts)
    return time.perf_counter() - started, total


def _client_process(args):
    connections.close_all()  # a forked process opens its own connection
    try:
        return post_all(*args)
    finally:
        connections.close_all()


def run_scenario(work: list[tuple], batch_size: int, expect: tuple[str, ...]) -> tuple[float, collections.Counter]:
    """Wall-clock seconds for every client's rows (the clients in parallel processes), outcome counts."""
    if len(work) == 1:
        return post_all(work[0][0], work[0][1], batch_size, expect)
    connections.close_all()
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(len(work)) as pool:
        results = pool.map(_client_process, [(key, rows, batch_size, expect) for key, rows in work])
    return time.perf_counter() - started, sum((counts for _, counts in results), collections.Counter())


def time_matching(rows: list[dict]):
    """Milliseconds a row in the demographic search feed ingest runs (``find_child``), nothing else."""
    from feeds.matching import IncomingChild, find_child

    for label, strip in (("with NHS numbers", False), ("without NHS numbers", True)):
        incoming = [IncomingChild.from_row({**r, "date_of_birth": date.fromisoformat(r["date_of_birth"]),
                                            **({"nhs_number": ""} if strip else {})}) for r in rows]
        started = time.perf_counter()
        candidates = sum(len(find_child(child).candidates) for child in incoming)
        seconds = time.perf_counter() - started
        print(f"find_child {label:<20} {len(rows):>5,} rows: {seconds / len(rows) * 1000:6.2f} ms a row "
              f"({candidates:,} candidates listed)", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--new-child-rows", type=int, default=5_000)
    parser.add_argument("--practitioners", type=int, default=3,
                        help="active practitioner accounts per organisation (they open the records through the "
                             "organisation's access, which each new open involvement gives: "
                             "practitioners.services.sync_organisation_access)")
    parser.add_argument("--clients", type=int, default=1,
                        help="concurrent clients (processes), each an organisation with its own token")
    parser.add_argument("--match-only", type=int, default=0, metavar="N",
                        help="first time feeds.matching.find_child alone on N new-child rows, with and without "
                             "their NHS numbers, against the loaded children (nothing written)")
    parser.add_argument("--profile", choices=["identifier", "unchanged", "updated", "new-child", "unidentified"],
                        help="print where the time of one scenario goes (cProfile; with --clients 1)")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("Run the benchmark on PostgreSQL: set DATABASE_URL=postgres://...")
    args.rows = min(args.rows, args.children)
    batch_size = settings.FEED_BATCH_SIZE
    settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["token"] = "100000/min"  # measure the work, not the limiter

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        la = LocalAuthority.objects.create(name="Bench LA", gss_code="E08000035", safeguarding_contact="x",
                                           out_of_hours_phone="0113 000 0000")
        service = Service.objects.create(name="School nursing", code="school-nursing")
        keys = []
        for n in range(args.clients):
            organisation = Organisation.objects.create(name=f"Bench Trust {n}", kind="nhs_trust", local_authority=la,
                                                       contact_phone="0113 496 0000")
            organisation.services.add(service)
            add_practitioners(organisation, args.practitioners)
            key = OrganisationToken.new_key()
            OrganisationToken.objects.create(name="bench", organisation=organisation, prefix=key[:10],
                                             key_hash=OrganisationToken.hash_key(key))
            keys.append(key)
        numbers = load_children(args.children, la)
        rows = [row(i, numbers[i]) for i in range(args.rows)]
        fresh = nhs_numbers(700_000_000, args.new_child_rows)
        new_rows = [row(args.children + i, fresh[i]) for i in range(args.new_child_rows)]
        unidentified = [row(args.children + args.new_child_rows + i, "") for i in range(args.new_child_rows)]
        if args.match_only:
            time_matching(new_rows[:args.match_only])

        def split(data):  # each client its own share of the rows
            return [(key, data[n::args.clients]) for n, key in enumerate(keys)]

        print(f"{args.clients} client(s), batches of {batch_size}, {args.practitioners} practitioner account(s) "
              "per organisation", flush=True)
        created = 0
        for name, data, expect in [
            ("identifier", rows, ("created",)),
            ("unchanged", rows, ("unchanged",)),
            ("updated", [{**r, "ended_on": "2025-07-18"} for r in rows], ("updated",)),
            ("new-child", new_rows, ("created",)),
            ("unidentified", unidentified, ("created", "queued_for_review")),
        ]:
            if args.profile == name:
                import cProfile
                import pstats

                profile = cProfile.Profile()
                profile.enable()
            cpu = time.process_time()
            seconds, counts = run_scenario(split(data), batch_size, expect)
            created += counts["created"]
            cpu = time.process_time() - cpu
            if args.profile == name:
                profile.disable()
                pstats.Stats(profile).sort_stats(os.environ.get("BENCH_PROFILE_SORT", "tottime")).print_stats(
                    int(os.environ.get("BENCH_PROFILE_LINES", "30")))
            print(f"{name:<12} {len(data):>7,} rows in {seconds:6.2f}s = {len(data) / seconds:>8,.0f} rows/s"
                  + (f"  (Django process CPU {cpu:.2f}s)" if args.clients == 1 else "")
                  + (f"  {dict((e, counts[e]) for e in expect)}" if len(expect) > 1 else ""), flush=True)
        assert Involvement.objects.count() == created
        # the work was done: each organisation holds access to exactly the children it has open rows for
        assert ChildGroupObjectPermission.objects.count() == Involvement.objects.open().values(
            "organisation", "child").distinct().count()
        load = os.getloadavg()[0]
        print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, load average {load:.1f} at the end, "
              f"Python {platform.python_version()}, PostgreSQL {connection.pg_version // 10000}; "
              f"{args.children:,} children")
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
