"""A real Celery worker SIGKILLed in the middle of a retention batch, twice over.

The first worker is killed while a batch is half-way through its cascade delete, the second
while a batch waits to write its audit event (both moments are held open by a row lock the
test takes, then the worker dies). The task comes back from Redis after the visibility
timeout, the sweep marks the silent runs abandoned and queues the job again, and a third
worker finishes. Afterwards: every stale record is gone, every other record is whole, and
every deletion is named by exactly one batch's audit event.
"""

import random
import time
from datetime import date, timedelta

import pytest
from django.utils import timezone

from audit import integrity
from audit.models import AccessEvent
from children import retention
from children import tasks as children_tasks
from children.models import Address, Child, ChildName, Involvement, NameKey
from housekeeping import services
from housekeeping.models import JobRun
from tests import factories
from tests.faults.conftest import backends_gone, figures, queue_drained, wait_for
from tests.housekeeping.conftest import at_noon

pytestmark = pytest.mark.django_db(transaction=True)

BATCH = 30
WORKER_ENV = {
    "RETENTION_BATCH_SIZE": BATCH,
    "JOB_LONGEST_RUN_SECONDS": 4,  # Redis hands an unacknowledged task out again after 4 s
    "JOB_HEARTBEAT_TIMEOUT_SECONDS": 2,
}


def build_records(*, stale: int, kept: int, seed: int = 17) -> None:
    """Children with names, name keys, addresses and involvements, in bulk; about one in
    ``stale + kept`` is due for deletion on any rule, the rest must stay."""
    rng = random.Random(seed)
    today = timezone.localdate()
    la = factories.LocalAuthorityFactory()
    organisation = factories.OrganisationFactory(local_authority=la)
    service = factories.ServiceFactory()
    kinds = ["idle"] * stale + [rng.choice(["recent", "open", "hold", "ended_recently"]) for _ in range(kept)]
    rng.shuffle(kinds)
    children = []
    for n, kind in enumerate(kinds):
        idle = kind in ("idle", "open", "hold", "ended_recently")
        child = Child(
            given_names=rng.choice(["Amara", "Oliver", "Zofia", "Kwame", "Isla"]), family_name=f"Family{n}",
            date_of_birth=date(2016, 1, 1) + timedelta(days=rng.randint(0, 1500)), sex="F",
            nhs_number=factories.nhs_number_for(n), postcode="LS7 3QB", address_line="1 Test Street",
            local_authority=la, legal_hold=kind == "hold",
            last_activity_at=at_noon(today - timedelta(days=800 if idle else 20)),
        )
        child.derive_fields()
        children.append((child, kind))
    Child.objects.bulk_create([c for c, _ in children], batch_size=500)
    names = []
    for child, _ in children:
        name = ChildName(child=child, kind=ChildName.Kind.CURRENT, given_names=child.given_names,
                         family_name=child.family_name)
        name.derive_fields()
        names.append(name)
    ChildName.objects.bulk_create(names, batch_size=500)
    NameKey.rebuild_for_children([c for c, _ in children])
    Address.objects.bulk_create([Address(child=c, postcode="LS7 3QB", local_authority=la,
                                         moved_in_on=date(2020, 1, 1)) for c, _ in children], batch_size=500)
    involvements = []
    for child, kind in children:
        ended = {"open": None, "ended_recently": today - timedelta(days=30)}.get(kind, date(2023, 1, 1))
        involvements.append(Involvement(child=child, organisation=organisation, service=service,
                                        started_on=date(2022, 1, 1), ended_on=ended))
    Involvement.objects.bulk_create(involvements, batch_size=500)


def blocked_backends(side, table: str) -> list[int]:
    """Backends of the test database waiting for a lock in a statement on ``table``."""
    return [pid for (pid,) in side.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' "
        "AND query ILIKE %s AND pid <> pg_backend_pid()", [f"%{table}%"]).fetchall()]


def wait_out_the_visibility_timeout(run) -> None:
    """Until Redis may hand the killed run's task out again (the worker that starts next looks
    once at start-up, then only every minute)."""
    visible_at = run.started_at + timedelta(seconds=WORKER_ENV["JOB_LONGEST_RUN_SECONDS"] + 0.5)
    time.sleep(max(0.0, (visible_at - timezone.now()).total_seconds()))


def running_run_started():
    return JobRun.objects.filter(job="expire_records", outcome=JobRun.Outcome.RUNNING).order_by("-pk").first()


def test_a_worker_killed_mid_batch_loses_nothing_and_leaves_no_deletion_unaudited(workers, side_connections,
                                                                                   settings):
    counted = figures("worker SIGKILLed mid retention batch")
    build_records(stale=300, kept=150)
    today = timezone.localdate()
    due = dict(retention.stale_children(today=today).values_list("pk", "reference"))
    kept = set(Child.objects.exclude(pk__in=due).values_list("reference", flat=True))
    assert len(due) == 300 and len(kept) == 150
    ordered_due = sorted(due)

    side, watch = side_connections(), side_connections()
    # Fault 1: hold one Address row of the fourth batch; the worker's cascade delete waits on it
    # with the batch half-deleted, and is killed there.
    hostage = ordered_due[3 * BATCH + 5]
    side.execute("BEGIN")
    side.execute("SELECT 1 FROM children_address WHERE child_id = %s FOR UPDATE", [hostage])
    first = workers(**WORKER_ENV)
    children_tasks.expire_stale_records.apply_async()
    waiting = wait_for(lambda: blocked_backends(watch, "children_address"), timeout=30,
                       what="the cascade delete to block")
    assert Child.objects.filter(pk__in=due).count() == len(due) - 3 * BATCH  # three batches committed
    first.kill()
    killed_at = timezone.now()
    side.execute("ROLLBACK")
    # Freed, the orphaned backend finishes its statement, finds its client gone and rolls back.
    wait_for(lambda: backends_gone(watch, waiting), timeout=30, what="the killed worker's backend to end")
    counted["faults injected"] += 1
    first_run = running_run_started()
    assert first_run.heartbeat_at > first_run.started_at  # it beat after each committed batch
    killed_runs = [first_run.pk]
    wait_out_the_visibility_timeout(first_run)

    # Fault 2: hold every audit chain head; the next worker's batch deletes its rows, then waits
    # to write its event, and is killed there. Its task is the first one, handed out again by
    # Redis once the visibility timeout has passed.
    side.execute("BEGIN")
    side.execute("SELECT id FROM audit_chainhead FOR UPDATE")
    second = workers(**WORKER_ENV)
    waiting = wait_for(lambda: blocked_backends(watch, "audit_chainhead"), timeout=90,  # the periodic scan, if start-up missed it
                       what="the redelivered task's batch to wait for its audit event",
                       diagnose=lambda: (second.tail(), list(JobRun.objects.values()), watch.execute(
                           "SELECT pid, state, wait_event_type, left(query, 150) FROM pg_stat_activity "
                           "WHERE datname = current_database()").fetchall()))
    counted["redelivered by Redis"] += 1
    second.kill()
    side.execute("ROLLBACK")
    wait_for(lambda: backends_gone(watch, waiting), timeout=30, what="the killed worker's backend to end")
    counted["faults injected"] += 1
    second_run = running_run_started()
    killed_runs.append(second_run.pk)
    counted["seconds from kill to redelivery"] = round((second_run.started_at - killed_at).total_seconds())
    assert killed_runs[0] != killed_runs[1]

    # The sweep finds both runs silent, marks them abandoned and queues the job once.
    settings.JOB_HEARTBEAT_TIMEOUT = timedelta(seconds=2)
    time.sleep(2.1)
    swept = services.sweep_abandoned_runs()
    assert sorted(swept.abandoned) == sorted(killed_runs) and swept.requeued == ["expire_records"]
    wait_out_the_visibility_timeout(second_run)
    workers(**WORKER_ENV)
    wait_for(lambda: JobRun.objects.filter(job="expire_records", outcome=JobRun.Outcome.SUCCEEDED,
                                           counts__children__gt=0).exists(),
             timeout=60, what="a rerun to finish")
    # The sweep's task and the second worker's, handed out again, both run: let them end.
    wait_for(lambda: queue_drained() and not JobRun.objects.filter(outcome=JobRun.Outcome.RUNNING).exists(),
             timeout=30, what="every queued run to end")

    left = set(Child.objects.values_list("reference", flat=True))
    events = list(AccessEvent.objects.filter(action=retention.AUDIT_ACTION))
    audited = [ref for event in events for ref in event.details["child_refs"]]
    holes = {
        "non-expired records lost": len(kept - left),
        "due records left": len(left & set(due.values())),
        "deletions without an audit event": len(set(due.values()) - set(audited)),
        "deletions audited twice": len(audited) - len(set(audited)),
        "audited deletions that did not happen": len(set(audited) & left),
    }
    counted["records due"] = len(due)
    counted["records kept"] = len(kept)
    counted["batch events"] = len(events)
    counted["holes found"] = sum(holes.values())
    assert holes == dict.fromkeys(holes, 0)
    # The cascade went with them, the killed runs show as abandoned, and the chain holds.
    assert ChildName.objects.count() == Address.objects.count() == Involvement.objects.count() == len(kept)
    outcomes = dict(JobRun.objects.filter(pk__in=killed_runs).values_list("pk", "outcome"))
    assert set(outcomes.values()) == {JobRun.Outcome.ABANDONED}
    report = integrity.verify(anchor_file="/nonexistent")
    assert report.ok, report.first_break
