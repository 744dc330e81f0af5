"""Auditor filter latency over a large synthetic log (PostgreSQL).

    DATABASE_URL=postgres://.../throwaway SECRET_KEY=... python bench/audit_filters.py --events 2000000

Loads --events synthetic events spread over the last 90 days (skip with --no-load to reuse
them), then times the console's own selectors -- the first page and a page 20 steps deep,
for each filter the auditor has -- and prints p50/p95 per filter. Writes into the
configured database: point it at a throwaway one.
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "signpost.settings")

LOAD = """
INSERT INTO audit_accessevent (occurred_at, chain, seq, actor_id, actor_username, actor_role, organisation_id,
    local_authority_id, action, child_ref, child_local_authority_id, shielded, reason, request_id, ip_address,
    user_agent, outcome, details, prev_hash, hash)
SELECT now() - (random() * interval '90 days'), 1 + (i %% 8), i, a, 'user' || a, 'Practitioner', 1 + a %% 500,
    1 + a %% 150,
    (ARRAY['child.search','child.search','child.search','child.view','child.view','grant.involvement',
           'grant.break_glass','login.success'])[1 + (i %% 8)],
    CASE WHEN i %% 8 < 3 THEN '' ELSE 'C-' || lpad(((i * 7919) %% 200000)::text, 5, '0') || '-AAAAA' END,
    1 + (a + (i %% 13 = 0)::int) %% 150, i %% 200 = 0, '', md5(i::text), '192.0.2.1', 'Mozilla/5.0',
    CASE WHEN i %% 50 = 0 THEN 'denied' ELSE 'allowed' END, '{}', repeat('0', 64), md5(i::text) || md5(i::text)
FROM (SELECT i, 1 + (i * 104729) %% 5000 AS a FROM generate_series(%s::bigint, %s::bigint) AS i) AS numbers
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--no-load", action="store_true")
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from audit import partitions, selectors
    from audit.models import AccessEvent

    if not args.no_load:
        start = (timezone.now() - timedelta(days=100)).date().replace(day=1)
        partitions.ensure_month_partitions(first_month=start, months=8)
        t = time.perf_counter()
        with connection.cursor() as cursor:
            for low in range(1, args.events + 1, 500_000):
                cursor.execute(LOAD, [low, min(low + 499_999, args.events)])
            cursor.execute("ANALYZE audit_accessevent")
        print(f"loaded {args.events:,} events in {time.perf_counter() - t:.0f}s")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_accessevent")
        total = cursor.fetchone()[0]
    rng = random.Random(7)
    today = timezone.localdate()
    filters = {
        "no filter": lambda: selectors.EventFilter(),
        "actor": lambda: selectors.EventFilter(actor=f"user{rng.randint(1, 5000)}"),
        "organisation id": None,
        "child reference": lambda: selectors.EventFilter(child_ref=f"C-{rng.randint(0, 199999):05d}-AAAAA"),
        "action": lambda: selectors.EventFilter(action=rng.choice(["child.view", "grant.break_glass"])),
        "outcome denied": lambda: selectors.EventFilter(outcome="denied"),
        "date range (1 week)": lambda: selectors.EventFilter(date_from=today - timedelta(days=rng.randint(8, 80)),
                                                             date_to=today - timedelta(days=rng.randint(1, 7))),
        "action + date range": lambda: selectors.EventFilter(action="child.view",
                                                             date_from=today - timedelta(days=30), date_to=today),
    }
    print(f"{total:,} events, {len(partitions.partitions())} partitions; {args.runs} runs per filter")
    print(f"{'filter':24} {'first page p50/p95 ms':>22} {'page 20 p50/p95 ms':>20}")
    for name, make in filters.items():
        if make is None:  # the organisation filter by id (the name lookup is a small table)
            def queryset():
                return AccessEvent.objects.filter(organisation_id=rng.randint(1, 500))
        else:
            def queryset(make=make):
                return selectors.events_matching(make())
        first, deep = [], []
        for _ in range(args.runs):
            events = queryset()
            t = time.perf_counter()
            page = selectors.page_of(events, size=50)
            first.append((time.perf_counter() - t) * 1000)
            for _ in range(19):
                if not page.older:
                    break
                page = selectors.page_of(events, before=page.older, size=50)
            t = time.perf_counter()
            if page.older:
                selectors.page_of(events, before=page.older, size=50)
                deep.append((time.perf_counter() - t) * 1000)
        print(f"{name:24} {pct(first)} {pct(deep):>20}")


def pct(values):
    if len(values) < 2:
        return "n/a".rjust(22)
    q = statistics.quantiles(values, n=20)
    return f"{statistics.median(values):8.1f} / {q[18]:6.1f}".rjust(22)


if __name__ == "__main__":
    main()
