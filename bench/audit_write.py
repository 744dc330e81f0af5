"""Audit write throughput on the configured database (meant for PostgreSQL).

    DATABASE_URL=postgres://... SECRET_KEY=... python bench/audit_write.py --writers 8 --events 2000

Each writer is a separate process calling ``audit.services.record_event`` in its own
transaction per event (the shape of a web request that audits one view), as a signed-in
practitioner (so the actor lookup is included) or, with --system, with no actor. With
--batch N it calls ``record_events`` with N events per transaction (the bulk jobs' path).
AUDIT_CHAINS=1 in the environment measures the old single-chain design.
Afterwards the chains are verified end to end. Prints events/s. Writes into the
configured database: point it at a throwaway one.
"""

import argparse
import os
import sys
import time
import uuid
from multiprocessing import Barrier, Process, Queue

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "signpost.settings")


def writer(barrier, results, events, user_id, child_ids, batch):
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from audit.context import RequestContext
    from audit.services import record_event, record_events
    from children.models import Child

    user = get_user_model().objects.get(pk=user_id) if user_id else None
    children = list(Child.objects.filter(pk__in=child_ids))
    context = RequestContext(user=user, ip_address="192.0.2.10", user_agent="bench/1.0")
    barrier.wait()
    started = time.perf_counter()
    for n in range(events // batch):
        if batch == 1:
            with transaction.atomic():
                record_event(action="child.view", context=context, child=children[n % len(children)],
                             details={"n": n})
        else:
            with transaction.atomic():
                record_events(context=context, events=[
                    {"action": "child.view", "child": children[(n * batch + k) % len(children)], "details": {"n": n}}
                    for k in range(batch)])
    results.put(time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--events", type=int, default=2000, help="events per writer")
    parser.add_argument("--batch", type=int, default=1, help="events per transaction (record_events when > 1)")
    parser.add_argument("--system", action="store_true", help="no actor (skips the actor lookup)")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection

    from audit import integrity
    from audit.models import AccessEvent
    from tests import factories

    run = uuid.uuid4().hex[:8]
    la = factories.LocalAuthorityFactory(name=f"Bench borough {run}", gss_code=f"W{int(run, 16) % 10**8:08d}")
    organisation = factories.OrganisationFactory(name=f"Bench team {run}", local_authority=la)
    user = factories.UserFactory(username=f"bench-{run}", roles=["Practitioner"])
    user_id = None if args.system else factories.PractitionerFactory(user=user, organisation=organisation).user_id
    child_ids = [factories.ChildFactory(local_authority=la, nhs_number=None).pk for _ in range(20)]
    before = AccessEvent.objects.count()
    connection.close()

    barrier, results = Barrier(args.writers + 1), Queue()
    procs = [Process(target=writer, args=(barrier, results, args.events, user_id, child_ids, args.batch))
             for _ in range(args.writers)]
    for p in procs:
        p.start()
    barrier.wait()
    started = time.perf_counter()
    for p in procs:
        p.join()
    wall = time.perf_counter() - started
    written = AccessEvent.objects.count() - before
    print(f"{connection.vendor}: {args.writers} writers x {args.events} events, {args.batch} per transaction, "
          f"{'no actor' if args.system else 'practitioner actor'}, {settings_chains()} chains")
    print(f"  {written} events in {wall:.2f}s = {written / wall:,.0f} events/s")
    t = time.perf_counter()
    report = integrity.verify()
    print(f"  verify: {'OK' if report.ok else report.first_break} "
          f"({report.events_checked} events checked in {time.perf_counter() - t:.1f}s)")


def settings_chains():
    from django.conf import settings

    return settings.AUDIT_CHAINS


if __name__ == "__main__":
    main()
