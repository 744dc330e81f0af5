"""Matching-engine latency by stage, against the configured database, inside a transaction that
is rolled back at the end (nothing is left behind).

    DATABASE_URL=postgres://... SECRET_KEY=... python bench/search_latency.py --children 20000 --queries 300

Prints p50/p95 in milliseconds for identifier, plain, fuzzy (auto on mistyped queries) and, for
comparison, a naive ``icontains`` name query. In-process: it measures the engine and the database,
not Django's HTTP layer.
"""

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "signpost.settings")


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def timed(fn, items):
    out = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - started) * 1000)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children", type=int, default=20000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection, transaction

    from children.matching import FUZZY, PLAIN, Query, search
    from children.models import Child
    from tests.children import corpus

    class Rollback(Exception):
        pass

    try:
        with transaction.atomic():
            people = corpus.population(args.children, absent=0)
            started = time.perf_counter()
            corpus.load(people)
            print(f"loaded {args.children} children in {time.perf_counter() - started:.1f}s")
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            exact, variants, _ = corpus.cases(people, targets=args.queries)
            rng = random.Random(1)
            variants = rng.sample(variants, min(args.queries, len(variants)))
            children = list(Child.objects.order_by("?")[: args.queries])
            rows = {
                "identifier": timed(lambda c: search(Query.of(nhs_number=c.nhs_number)), children),
                "plain": timed(lambda case: search(case.query, mode=PLAIN), exact),
                "fuzzy (forced)": timed(lambda case: search(case.query, mode=FUZZY), variants),
                "icontains baseline": timed(
                    lambda case: list(Child.objects.filter(family_name__icontains=case.query.family_name[:5],
                                                           given_names__icontains=case.query.given_name[:3])[:20]),
                    exact[:50]),
            }
            for name, values in rows.items():
                print(f"{name:20s} n={len(values):4d} p50={statistics.median(values):7.2f} ms "
                      f"p95={percentile(values, 0.95):7.2f} ms")
            raise Rollback
    except Rollback:
        pass


if __name__ == "__main__":
    main()
