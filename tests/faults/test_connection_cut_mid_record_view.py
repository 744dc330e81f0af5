"""The database connection terminated (pg_terminate_backend) in the middle of a record view.

Two ways in. First, at each SQL statement the real view sends, in turn: just before the
statement runs, another connection terminates this one's backend, so that statement and
everything after it fail. Second, at random moments of the request (the commit and the page
rendering included), from another thread. Whatever the moment, the practitioner gets either
the record with its ``child.view`` event committed, or an error page without the record.
"""

import random
import threading
import time
from datetime import date, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from audit.context import RequestContext
from audit.models import AccessEvent
from practitioners.models import AccessGrant
from practitioners.services import grant_access
from tests import factories
from tests.faults.conftest import figures, terminate

pytestmark = pytest.mark.django_db(transaction=True)
SECRETS = ["Zephyrine", "Quenby-Ashworth", "9434765919", "LS7 3QB", "14 Harbour Road", "9 March 2015", "2015-03-09"]


@pytest.fixture
def record(client, login_verified):
    """A practitioner signed in with a second factor and granted one child's record."""
    practitioner = factories.PractitionerFactory()
    child = factories.ChildFactory(given_names="Zephyrine", family_name="Quenby-Ashworth", nhs_number="9434765919",
                                   postcode="LS7 3QB", address_line="14 Harbour Road",
                                   date_of_birth=date(2015, 3, 9))
    factories.InvolvementFactory(child=child, started_on=date(2022, 1, 1))
    grant_access(practitioner=practitioner, child=child, source=AccessGrant.Source.ACCESS_REQUEST,
                 reason="Team around the child meeting", expires_at=timezone.now() + timedelta(hours=4),
                 context=RequestContext.system("test"))
    login_verified(client, practitioner.user)
    client.raise_request_exception = False  # what the practitioner would get: the error page
    return client, child


def views_of(child) -> int:
    return AccessEvent.objects.filter(action="child.view", child_ref=child.reference).count()


def shows_record(response) -> bool:
    body = response.content.decode(errors="replace")
    return any(secret in body for secret in SECRETS)


def open_record(client, child, wrapper=None):
    """One request for the record, its statements passed through ``wrapper``; returns (response,
    whether the request's audit row was committed)."""
    before = views_of(child)
    connection.ensure_connection()
    if wrapper is None:
        response = client.get(child.get_absolute_url())
    else:
        with connection.execute_wrapper(wrapper):
            response = client.get(child.get_absolute_url())
    connection.close()  # a terminated connection is not reusable: the next statement reconnects
    return response, views_of(child) > before


def test_the_connection_cut_at_any_statement_of_a_record_view_never_sends_the_record_unaudited(record,
                                                                                               side_connections):
    client, child = record
    counted = figures("connection terminated at each statement of a record view")
    statements = []
    response, audited = open_record(
        client, child, lambda execute, sql, *rest: statements.append(sql) or execute(sql, *rest))
    assert response.status_code == 200 and shows_record(response) and audited  # the undisturbed view
    side = side_connections()

    outcomes = []
    for target in range(len(statements)):
        seen = []

        def cut_at_target(execute, sql, params, many, context):
            seen.append(sql)
            if len(seen) - 1 == target:
                assert terminate(side, connection.connection.info.backend_pid)
            return execute(sql, params, many, context)

        response, audited = open_record(client, child, cut_at_target)
        counted["faults injected"] += 1
        if shows_record(response) and not audited:
            counted["holes found"] += 1
        outcomes.append((target, statements[target][:60], response.status_code, audited))
    counted["statements in the view"] = len(statements)
    counted["record pages sent"] = sum(1 for *_, status, _ in outcomes if status == 200)
    assert counted["holes found"] == 0, outcomes


def test_the_connection_cut_at_random_moments_of_record_views_never_sends_the_record_unaudited(record,
                                                                                               side_connections):
    client, child = record
    counted = figures("connection terminated at random moments of record views")
    side = side_connections()
    rng = random.Random(17)
    durations = []
    for _ in range(4):  # the first is cold (templates compiled): its time would overshoot
        started = time.monotonic()
        open_record(client, child)
        durations.append(time.monotonic() - started)
    duration = sorted(durations[1:])[1]
    for _ in range(24):
        delay = rng.uniform(0, duration * 1.2)

        def cut(pid):
            if terminate(side, pid):
                counted["faults injected"] += 1

        def start_the_clock(execute, sql, params, many, context, timer=[]):  # noqa: B006 -- once per request
            if not timer:
                timer.append(threading.Timer(delay, cut, [connection.connection.info.backend_pid]))
                timer[0].start()
            start_the_clock.timer = timer[0]
            return execute(sql, params, many, context)

        response, audited = open_record(client, child, start_the_clock)
        start_the_clock.timer.join()
        if shows_record(response) and not audited:
            counted["holes found"] += 1
        counted[f"responses {response.status_code}"] += 1
    assert counted["holes found"] == 0
    assert counted["faults injected"] >= 6  # the cuts really landed while requests were running
