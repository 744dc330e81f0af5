"""The database itself refuses to change or remove audit events, whoever asks (SPEC 4)."""

import pytest
from django.db import DatabaseError, connection, transaction

from audit import guards
from audit.context import RequestContext
from audit.models import AccessEvent, EventDisclosure
from audit.services import record_event
from tests import factories

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL feature (roles, TRUNCATE)")


@pytest.fixture
def event():
    child = factories.ChildFactory()
    return record_event(action="child.search", context=RequestContext.system(), disclosed_refs=[child.reference])


def refused(sql, params=()):
    """Run raw SQL; True if the database refused it (leaving the test's transaction usable)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError as error:
        assert "append-only" in str(error)
        return True
    return False


@pytest.mark.parametrize("table", guards.PROTECTED_TABLES)
def test_a_raw_sql_update_is_refused(event, table):
    assert refused(f"UPDATE {table} SET occurred_at = occurred_at")
    assert AccessEvent.objects.get(pk=event.pk).hash == event.hash


@pytest.mark.parametrize("table", guards.PROTECTED_TABLES)
def test_a_raw_sql_delete_is_refused(event, table):
    assert refused(f"DELETE FROM {table}")
    assert AccessEvent.objects.filter(pk=event.pk).exists() and EventDisclosure.objects.exists()


def test_the_orm_cannot_update_or_delete_either(event):
    with pytest.raises(DatabaseError), transaction.atomic():
        AccessEvent.objects.filter(pk=event.pk).update(reason="edited")
    with pytest.raises(DatabaseError), transaction.atomic():
        AccessEvent.objects.filter(pk=event.pk).delete()
    assert AccessEvent.objects.filter(pk=event.pk, reason="").exists()


def test_every_append_only_trigger_is_installed_after_migrating():
    assert guards.missing(connection) == []


@postgres_only
@pytest.mark.parametrize("table", ["audit_accessevent", "audit_eventdisclosure", "audit_accessevent_default"])
def test_truncate_is_refused_on_postgresql(event, table):
    assert refused(f"TRUNCATE {table}")
    assert AccessEvent.objects.filter(pk=event.pk).exists()


@postgres_only
def test_truncate_of_one_monthly_partition_is_refused(event):
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM audit_accessevent WHERE id = %s", [event.pk])
        partition = cursor.fetchone()[0]
    assert partition.startswith("audit_accessevent_y")
    assert refused(f"TRUNCATE {partition}")


@postgres_only
def test_pgtriggers_ignore_switch_does_not_open_the_audit_tables(event):
    """django-pgtrigger's triggers obey ``SET pgtrigger.ignore``, which any role can set;
    ours must not."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('pgtrigger.ignore', %s, true)",
                       ["{audit_refuse_update,audit_refuse_delete,audit_refuse_truncate}"])
        assert refused("UPDATE audit_accessevent SET reason = 'x'")
        assert refused("DELETE FROM audit_accessevent")


@postgres_only
def test_the_test_flush_setting_opens_nothing_for_a_role_that_does_not_own_the_table(event):
    """The application's role may set any custom setting; the TRUNCATE gate also wants ownership."""
    role = "signpost_h5_test_app_role"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP ROLE IF EXISTS {role}")
        cursor.execute(f"CREATE ROLE {role}")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON audit_accessevent, "
                       f"audit_accessevent_default TO {role}")
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL ROLE {role}")
            cursor.execute("SELECT set_config(%s, 'on', true)", [guards.FLUSH_SETTING])
            assert refused("TRUNCATE audit_accessevent")
            assert refused("UPDATE audit_accessevent SET reason = 'x'")
            cursor.execute("RESET ROLE")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
            cursor.execute(f"DROP OWNED BY {role}")
            cursor.execute(f"DROP ROLE {role}")
    assert AccessEvent.objects.filter(pk=event.pk).exists()


def test_the_flush_way_through_is_shut_outside_the_test_flush(event):
    with guards.allow_test_flush(connection):
        pass
    assert refused("DELETE FROM audit_accessevent") if connection.vendor == "sqlite" else \
        refused("TRUNCATE audit_accessevent")


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's table rebuild drops triggers; PostgreSQL's ALTER keeps them")
def test_sqlite_triggers_come_back_after_a_migration_rebuilds_the_table():
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER audit_accessevent_refuse_update")
    assert guards.missing(connection) == ["audit_accessevent.audit_accessevent_refuse_update"]
    guards.ensure_sqlite_triggers(using="default")
    assert guards.missing(connection) == []


@pytest.mark.django_db(transaction=True)
def test_the_test_suites_own_flush_still_empties_the_audit_tables_1():
    record_event(action="test.flush", context=RequestContext.system(), disclosed_refs=["C-AAAAA-BBBBB"])
    assert AccessEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_test_suites_own_flush_still_empties_the_audit_tables_2():
    """Runs after _1: its committed event was flushed away by the suite, through the narrow gate."""
    assert not AccessEvent.objects.filter(action="test.flush").exists()
    assert not EventDisclosure.objects.exists()
