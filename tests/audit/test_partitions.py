"""On PostgreSQL the audit table is range-partitioned by month (SPEC 7)."""

from datetime import UTC, date, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from audit import integrity, partitions
from audit.context import RequestContext
from audit.models import AccessEvent
from audit.services import record_event

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(connection.vendor != "postgresql", reason="partitioning is PostgreSQL's")]


def partition_of(event) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM audit_accessevent WHERE id = %s", [event.pk])
        return cursor.fetchone()[0]


def test_an_event_lands_in_its_months_partition():
    event = record_event(action="child.view", context=RequestContext.system())
    month = event.occurred_at.astimezone(UTC).strftime("y%Ym%m")
    assert partition_of(event) == f"audit_accessevent_{month}"


def test_the_next_months_exist_ahead_and_ensuring_them_again_changes_nothing(capsys):
    names = partitions.partitions()
    this_month = timezone.now().date().replace(day=1)
    for ahead in range(4):
        month = (this_month + timedelta(days=32 * ahead)).replace(day=1)
        assert f"audit_accessevent_y{month:%Y}m{month:%m}" in names
    call_command("ensure_audit_partitions")
    assert "All partitions already exist." in capsys.readouterr().out
    assert partitions.partitions() == names


def test_a_new_months_partition_is_append_only_too():
    made = partitions.ensure_month_partitions(first_month=date(2031, 5, 1), months=1)
    assert made == ["audit_accessevent_y2031m05"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_accessevent_y2031m05'::regclass")
        assert {row[0] for row in cursor.fetchall()} >= {"audit_refuse_update", "audit_refuse_delete",
                                                          "audit_refuse_truncate"}


def test_an_event_with_no_months_partition_is_kept_in_the_default_one_and_reported():
    old = timezone.now().replace(year=2001)
    with connection.cursor() as cursor:  # an event from before the first partition (e.g. an import)
        cursor.execute("INSERT INTO audit_accessevent (occurred_at, chain, seq, action, child_ref, reason, "
                       "request_id, user_agent, outcome, details, prev_hash, hash, actor_username, actor_role, "
                       "shielded) VALUES (%s, 99, 1, 'import', '', '', '', '', 'allowed', '{}', '', '', '', '', "
                       "false) RETURNING id", [old])
        event = AccessEvent.objects.get(pk=cursor.fetchone()[0])
    assert partition_of(event) == "audit_accessevent_default"
    assert partitions.default_partition_rows() == 1
    assert any("default partition" in w for w in integrity.verify(anchor_file="/nonexistent").warnings)


def test_a_date_range_filter_reads_only_that_months_partitions():
    record_event(action="child.view", context=RequestContext.system())
    start = timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    query = AccessEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=start + timedelta(days=20))
    plan = query.explain()
    assert f"audit_accessevent_{start:y%Ym%m}" in plan
    others = [name for name in partitions.partitions() if name != f"audit_accessevent_{start:y%Ym%m}"
              and name != partitions.DEFAULT_PARTITION]
    assert others and not any(name in plan for name in others)
