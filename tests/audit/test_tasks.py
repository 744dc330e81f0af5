"""The scheduled audit jobs do what their commands do."""

import logging

import pytest
from django.db import connection

from audit import integrity, tasks
from audit.context import RequestContext
from audit.models import DailySearchTally
from audit.services import record_event

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def anchor_file(settings, tmp_path):
    settings.AUDIT_ANCHOR_FILE = tmp_path / "anchors.jsonl"
    return settings.AUDIT_ANCHOR_FILE


def test_the_anchor_task_appends_a_signed_anchor(anchor_file):
    record_event(action="child.view", context=RequestContext.system())
    assert tasks.anchor_chain_heads() == 1
    assert integrity.anchor_is_genuine(integrity.read_anchors(anchor_file)[-1])


def test_the_verify_task_logs_a_broken_chain_at_error(caplog):
    record_event(action="child.view", context=RequestContext.system())
    assert tasks.verify_audit_chain() == {"broken": 0}
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER audit_eventdisclosure_refuse_update" if connection.vendor == "sqlite"
                       else "ALTER TABLE audit_eventdisclosure DISABLE TRIGGER audit_refuse_update")
    with caplog.at_level(logging.ERROR, logger="audit.verification"):
        assert tasks.verify_audit_chain()["broken"] == 1
    assert "Audit chain broken" in caplog.text


def test_the_tally_task_counts_the_days_not_yet_counted():
    assert tasks.tally_search_volume() == {"days_tallied": 35}
    assert DailySearchTally.objects.count() == 35


@pytest.mark.skipif(connection.vendor != "postgresql", reason="partitioning is PostgreSQL's")
def test_the_partition_task_keeps_three_months_ahead():
    from datetime import timedelta

    from django.utils import timezone

    from audit import partitions

    tasks.ensure_partitions()
    ahead = (timezone.now().date().replace(day=1) + timedelta(days=3 * 31)).replace(day=1)
    assert f"audit_accessevent_y{ahead:%Y}m{ahead:%m}" in partitions.partitions()
