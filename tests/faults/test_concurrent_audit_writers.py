"""Sixteen audit writers racing for ``FAULTS_AUDIT_SECONDS`` (default 30), while some of their
transactions roll back after writing and a saboteur terminates their connections at random.

Afterwards ``verify_audit_chain``'s check passes, every chain runs 1, 2, 3... with no fork (two
events on one link) and no gap, every event a writer saw committed is there, and none it saw
rolled back is. An event whose commit was cut is uncertain either way, and may be there or not.
"""

import os
import random
import threading
import time
from collections import Counter, defaultdict

import pytest
from django.db import Error, connection, connections, transaction

from audit import integrity
from audit.context import RequestContext
from audit.models import AccessEvent, ChainHead
from audit.services import record_event
from tests.faults.conftest import figures, terminate

pytestmark = pytest.mark.django_db(transaction=True)

WRITERS = 16
SECONDS = float(os.environ.get("FAULTS_AUDIT_SECONDS", "30"))


class ChangedMind(Exception):
    """The caller's transaction fails after its event was written: the event must go too."""


def test_sixteen_writers_with_rollbacks_and_cut_connections_leave_every_chain_whole(side_connections):
    counted = figures(f"{WRITERS} concurrent audit writers for {SECONDS:g} s")
    side = side_connections()
    committed, rolled_back, uncertain = set(), set(), set()
    pids: dict[int, int] = {}
    errors = []
    start = threading.Barrier(WRITERS + 1)
    stop_at = time.monotonic() + SECONDS + 1

    def write(n):
        rng = random.Random(n)
        try:
            start.wait()
            i = 0
            while time.monotonic() < stop_at:
                i += 1
                key = (n, i)
                try:
                    connection.ensure_connection()
                    pids[n] = connection.connection.info.backend_pid
                    with transaction.atomic():
                        record_event(action="child.view", context=RequestContext.system(f"writer {n}"),
                                     child_ref=f"C-{n:05d}-{i:05d}", details={"writer": n, "i": i})
                        if rng.random() < 0.05:
                            raise ChangedMind
                    committed.add(key)
                except ChangedMind:
                    rolled_back.add(key)
                except Error:  # terminated: before, during or after the commit, we cannot tell
                    uncertain.add(key)
                    connection.close()
        except Exception as error:  # noqa: BLE001 -- surfaced in the main thread
            errors.append(repr(error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    start.wait()
    saboteur = random.Random(17)
    while time.monotonic() < stop_at - 0.5:
        time.sleep(saboteur.uniform(0.05, 0.3))
        victim = pids.get(saboteur.randrange(WRITERS))
        if victim and terminate(side, victim):
            counted["faults injected"] += 1
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []

    rows = list(AccessEvent.objects.filter(action="child.view").values_list("chain", "seq", "prev_hash", "details"))
    stored = Counter((d["writer"], d["i"]) for *_, d in rows)
    holes = {
        "committed events missing": len(committed - set(stored)),
        "rolled-back events stored": len(rolled_back & set(stored)),
        "events nobody wrote": len(set(stored) - committed - uncertain),
        "events stored twice": sum(1 for n in stored.values() if n > 1),
    }
    links = defaultdict(list)
    for chain, seq, prev_hash, _ in rows:
        links[chain].append((seq, prev_hash))
    for chain, chain_links in links.items():
        seqs = sorted(seq for seq, _ in chain_links)
        holes[f"chain {chain} gaps"] = len(set(range(1, seqs[-1] + 1)) - set(seqs))
        holes[f"chain {chain} forks"] = len(seqs) - len(set(seqs)) + sum(
            n - 1 for n in Counter(prev for _, prev in chain_links).values())
    report = integrity.verify(anchor_file="/nonexistent")
    holes["verify_audit_chain breaks"] = len(report.breaks)

    counted["events committed"] = len(committed)
    counted["transactions rolled back"] = len(rolled_back)
    counted["commits cut (uncertain)"] = len(uncertain)
    counted["uncertain that were stored"] = len(uncertain & set(stored))
    counted["chains used"] = len(links)
    counted["holes found"] = sum(holes.values())
    assert holes == dict.fromkeys(holes, 0), (holes, report.first_break)
    assert report.events_checked == len(rows)
    assert dict(ChainHead.objects.values_list("id", "last_seq")) == {
        chain: max(seq for seq, _ in chain_links) for chain, chain_links in links.items()
    } | {head: 0 for head in ChainHead.objects.exclude(id__in=links).values_list("id", flat=True)}
    # The faults were real: writers were cut mid-stream, and several chains were in use at once.
    assert counted["faults injected"] >= SECONDS and uncertain and len(links) > 1
