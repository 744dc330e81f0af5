"""Concurrent writers never fork a chain, and do not queue behind each other (PostgreSQL)."""

import threading
from collections import Counter

import pytest
from django.db import connection, connections, transaction

from audit import integrity
from audit.context import RequestContext
from audit.models import AccessEvent
from audit.services import record_event

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="SQLite takes one database-wide write lock per transaction, so its writers "
                              "cannot run concurrently at all; the race only exists on PostgreSQL"),
]


def in_thread(target, *args):
    errors = []

    def run():
        try:
            target(*args)
        except Exception as error:  # surfaced in the main thread
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_parallel_writers_leave_every_chain_unbroken(settings):
    settings.AUDIT_CHAINS = 4
    start = threading.Barrier(8)

    def write(n):
        start.wait()
        for i in range(40):
            with transaction.atomic():
                record_event(action="child.view", context=RequestContext.system(f"writer {n}"),
                             details={"writer": n, "i": i})

    threads = [in_thread(write, n) for n in range(8)]
    for thread, errors in threads:
        thread.join()
        assert errors == []
    assert AccessEvent.objects.count() == 320
    # No fork: within a chain every seq and every prev_hash occurs exactly once.
    for chain in AccessEvent.objects.values_list("chain", flat=True).distinct():
        links = list(AccessEvent.objects.filter(chain=chain).values_list("seq", "prev_hash"))
        assert sorted(seq for seq, _ in links) == list(range(1, len(links) + 1))
        assert max(Counter(prev for _, prev in links).values()) == 1
    report = integrity.verify(anchor_file="/nonexistent")
    assert report.ok, report.first_break
    assert report.events_checked == 320


def test_a_writer_does_not_wait_for_another_writers_open_transaction(settings):
    settings.AUDIT_CHAINS = 4
    holding, release = threading.Event(), threading.Event()

    def slow_request():
        with transaction.atomic():
            record_event(action="child.view", context=RequestContext.system("slow"))
            holding.set()
            release.wait(10)

    thread, errors = in_thread(slow_request)
    assert holding.wait(10)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")  # would fail here if it queued behind the slow one
        fast = record_event(action="child.view", context=RequestContext.system("fast"))
    finally:
        release.set()
        thread.join()
    assert errors == []
    slow = AccessEvent.objects.get(user_agent="slow")
    assert fast.chain != slow.chain


def test_one_transaction_writing_several_events_keeps_to_its_chain(settings):
    settings.AUDIT_CHAINS = 4
    with transaction.atomic():
        first = record_event(action="grant.break_glass", context=RequestContext.system())
        second = record_event(action="child.view", context=RequestContext.system())
    assert (second.chain, second.seq, second.prev_hash) == (first.chain, first.seq + 1, first.hash)
