"""Retention runs in batches: a crash loses nothing half-way, a rerun finishes, two runs don't collide."""

import threading
from datetime import date

import pytest
from django.db import DatabaseError, connection

from audit.models import AccessEvent
from children import retention
from children.models import Address, Child, ChildName, Involvement
from housekeeping.jobs import run_job
from housekeeping.models import JobRun
from tests import factories
from tests.housekeeping.conftest import at_noon

TODAY = date(2026, 6, 15)
LONG_AGO = date(2024, 1, 10)


class InjectedFailure(Exception):
    pass


def stale_children_with_rows(n):
    children = []
    for _ in range(n):
        child = factories.ChildFactory(last_activity_at=at_noon(LONG_AGO), date_of_birth=date(2019, 5, 1))
        factories.AddressFactory(child=child)
        factories.InvolvementFactory(child=child, started_on=date(2022, 1, 1), ended_on=date(2023, 1, 1))
        children.append(child)
    return children


def rows_of(child):
    return (ChildName.objects.filter(child=child).count(), Address.objects.filter(child=child).count(),
            Involvement.objects.filter(child=child).count())


def fail_on_batch(number):
    calls = []

    def inside_batch(child_ids):
        calls.append(child_ids)
        if len(calls) == number:
            raise InjectedFailure("disk full")

    return inside_batch


@pytest.mark.django_db(transaction=True)
def test_a_crash_inside_a_batch_rolls_that_batch_back_whole_and_a_rerun_finishes():
    children = stale_children_with_rows(5)
    with pytest.raises(InjectedFailure):
        retention.expire_stale_records(today=TODAY, batch_size=2, inside_batch=fail_on_batch(2))

    # The first batch is committed; the second rolled back whole: every row of those children is there.
    assert set(Child.objects.values_list("pk", flat=True)) == {c.pk for c in children[2:]}
    for child in children[2:]:
        assert rows_of(child) == (1, 1, 1)
    # The committed batch has its event; the rolled-back one wrote none (its event rolled back with it).
    committed = AccessEvent.objects.get(action="housekeeping.expire_records")
    assert committed.details["child_refs"] == sorted(c.reference for c in children[:2])

    result = retention.expire_stale_records(today=TODAY, batch_size=2)
    assert result.completed and result.counts()["children"] == 3
    assert not Child.objects.exists() and not Involvement.objects.exists() and not Address.objects.exists()
    audited = [ref for e in AccessEvent.objects.filter(action="housekeeping.expire_records")
               for ref in e.details["child_refs"]]
    assert sorted(audited) == sorted(c.reference for c in children)  # each deletion audited exactly once


@pytest.fixture
def audit_inserts_fail(db):
    """A real database failure on insert into the audit table: a trigger made inside the test's
    transaction, so the test's rollback takes it away again."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("""CREATE FUNCTION test_refuse_insert() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'disk full (test)'; END $$""")
            cursor.execute("CREATE TRIGGER test_refuse_insert BEFORE INSERT ON audit_accessevent "
                           "FOR EACH ROW EXECUTE FUNCTION test_refuse_insert()")
        else:
            cursor.execute("CREATE TRIGGER test_refuse_insert BEFORE INSERT ON audit_accessevent "
                           "BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END")


def test_a_batch_whose_audit_event_cannot_be_written_deletes_nothing(audit_inserts_fail):
    children = stale_children_with_rows(3)
    with pytest.raises(DatabaseError):
        retention.expire_stale_records(today=TODAY, batch_size=10)
    assert Child.objects.count() == 3 and [rows_of(c) for c in children] == [(1, 1, 1)] * 3


def test_running_twice_deletes_nothing_more(db):
    stale_children_with_rows(3)
    first = retention.expire_stale_records(today=TODAY, batch_size=2)
    second = retention.expire_stale_records(today=TODAY, batch_size=2)
    assert (first.counts()["children"], first.batches) == (3, 2)
    assert second.counts()["children"] == 0 and second.completed


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_one_holds_the_lock_and_the_other_skips():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite has no advisory locks; its IMMEDIATE transactions make a second "
                    "run wait for the first batch to commit instead of skipping")
    stale_children_with_rows(4)
    in_batch, release = threading.Event(), threading.Event()
    outcome = {}

    def hold_the_lock(child_ids):
        in_batch.set()
        assert release.wait(timeout=30)

    def first_run():
        try:
            outcome["first"] = retention.expire_stale_records(today=TODAY, batch_size=10, inside_batch=hold_the_lock)
        finally:
            connection.close()

    thread = threading.Thread(target=first_run)
    thread.start()
    try:
        assert in_batch.wait(timeout=30)
        run, second = run_job("expire_records")  # this thread, its own connection
    finally:
        release.set()
        thread.join(timeout=30)

    assert second.counts["children"] == 0 and run.outcome == JobRun.Outcome.SKIPPED
    assert outcome["first"].counts()["children"] == 4
    assert not Child.objects.exists()
