"""Every audit table, not only the access log, is append-only in the database itself (issue 17),
on SQLite and PostgreSQL: anomaly reviews, daily search tallies, django-auditlog's field history
(which leaves only with the record it describes) and the chain heads (forward only)."""

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit import guards, services
from audit.context import RequestContext
from audit.models import AnomalyReview, ChainHead, DailySearchCount, DailySearchTally
from tests import factories

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL's")


def refused(sql, params=()):
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError as error:
        assert "append-only" in str(error)
        return True
    return False


@pytest.fixture
def rows(auditor):
    """One row in each audit table, written the way the application writes them."""
    practitioner = factories.PractitionerFactory()
    services.record_event(action="child.search", context=RequestContext(user=practitioner.user))
    yesterday = timezone.localdate() - timedelta(days=1)
    services.tally_searches(day=timezone.localdate())  # today's one search
    services.tally_searches(day=yesterday)
    services.review_anomaly(anomaly_key="event:1", kind="denied", comment="Checked with the manager",
                            context=RequestContext(user=auditor))
    child = factories.ChildFactory()
    child.save()  # django-auditlog records the change
    assert DailySearchCount.objects.exists() and DailySearchTally.objects.exists()
    assert AnomalyReview.objects.exists() and LogEntry.objects.exists()
    return child


TABLES = ["audit_anomalyreview", "audit_dailysearchcount", "audit_dailysearchtally", "auditlog_logentry"]


@pytest.mark.parametrize("table", TABLES)
def test_update_is_refused(rows, table):
    column = {"audit_dailysearchtally": "tallied_at", "auditlog_logentry": "object_repr"}.get(table, "id")
    assert refused(f"UPDATE {table} SET {column} = {column}")


@pytest.mark.parametrize("table", TABLES)
def test_delete_is_refused(rows, table):
    if connection.vendor == "postgresql" and table == guards.HISTORY_TABLE:
        pytest.skip("the owner may delete field history on PostgreSQL; the runtime role may not "
                    "(tests/audit/test_database_roles.py)")
    assert refused(f"DELETE FROM {table}")


@postgres_only
@pytest.mark.parametrize("table", [*TABLES, guards.HEADS_TABLE])
def test_truncate_is_refused(rows, table):
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # else the rows' pending FK checks refuse it first
    assert refused(f"TRUNCATE {table} CASCADE")


def test_the_orm_cannot_rewrite_an_anomaly_review_or_a_days_count(rows):
    with pytest.raises(DatabaseError), transaction.atomic():
        AnomalyReview.objects.update(comment="nothing to see")
    with pytest.raises(DatabaseError), transaction.atomic():
        DailySearchCount.objects.update(searches=0)
    assert AnomalyReview.objects.get().comment == "Checked with the manager"


def test_a_chain_head_moves_forward_only_and_is_never_deleted(rows):
    head = ChainHead.objects.filter(last_seq__gt=0).first()
    assert refused("UPDATE audit_chainhead SET last_seq = %s WHERE id = %s", [head.last_seq - 1, head.pk])
    assert refused("UPDATE audit_chainhead SET last_hash = %s WHERE id = %s", ["f" * 64, head.pk])
    if connection.vendor == "sqlite":
        assert refused("DELETE FROM audit_chainhead")
    services.record_event(action="child.view", context=RequestContext.system())  # the writer still moves it on
    assert ChainHead.objects.get(pk=head.pk).last_seq >= head.last_seq


def test_tallying_a_day_twice_adds_nothing_and_changes_nothing(rows):
    today = timezone.localdate()
    before = list(DailySearchCount.objects.values_list("day", "actor_id", "searches"))
    assert services.tally_searches(day=today) == 0
    assert list(DailySearchCount.objects.values_list("day", "actor_id", "searches")) == before


def test_field_history_goes_only_with_its_record(rows):
    """Retention's purge: a live record's history stays, a deleted record's goes."""
    from children.retention import _delete_children

    live = factories.ChildFactory()
    live.save()
    history = list(LogEntry.objects.filter(object_pk__in=[str(rows.pk), str(live.pk)]).values_list("pk", flat=True))
    assert guards.purge_field_history(history) == 0
    _delete_children([rows.pk])
    assert not LogEntry.objects.filter(content_type__model="child", object_pk=str(rows.pk)).exists()
    assert LogEntry.objects.filter(content_type__model="child", object_pk=str(live.pk)).exists()


def test_every_guard_is_installed_after_migrating():
    assert {"audit_anomalyreview", "audit_dailysearchcount", "audit_dailysearchtally", "auditlog_logentry",
            "audit_chainhead"} <= set(guards.GUARDED_TABLES)
    assert guards.missing(connection) == []


def test_a_missing_guard_on_any_audit_table_breaks_verification(rows):
    from audit import integrity

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_anomalyreview DISABLE TRIGGER audit_refuse_update")
        else:
            cursor.execute("DROP TRIGGER audit_anomalyreview_refuse_update")
    report = integrity.verify(require_anchor=False)
    assert not report.ok and "audit_anomalyreview" in str(report.first_break)
