"""The application connects as a runtime role that cannot tamper with the audit log (issue 16 item 5).

The reproduction: as the database owner, ``ALTER TABLE audit_accessevent DISABLE TRIGGER USER``
then ``UPDATE`` works. Here a real runtime role is created on the test database, granted by
``grant_runtime_role`` exactly as the deployment's migrate step does, and the application's own
connection is switched to it: every tamper statement on every audit table and partition is
refused, while the application's own writes still work, also into a partition made afterwards.
"""

import secrets
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from audit import guards, partitions, roles
from audit.context import RequestContext
from audit.models import AccessEvent, ChainHead
from audit.services import record_event
from tests import factories

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="database roles are PostgreSQL's"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def runtime_role():
    """A login role that owns nothing, granted as in production; the app's connection uses it."""
    role = f"signpost_rt_{secrets.token_hex(4)}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} LOGIN")
        cursor.execute(f"GRANT CONNECT ON DATABASE {connection.ops.quote_name(connection.settings_dict['NAME'])} "
                       f"TO {role}")
    call_command("grant_runtime_role", role=role, verbosity=0)
    settings_dict = connection.settings_dict
    owner = settings_dict["USER"]
    connection.close()
    settings_dict["USER"] = role
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone()[0] == role  # a real connection as the runtime role, not SET ROLE
        yield role
    finally:
        connection.close()
        settings_dict["USER"] = owner
        with connection.cursor() as cursor:
            cursor.execute(f"DROP OWNED BY {role}")
            cursor.execute(f"DROP ROLE {role}")


def refused(sql, params=()):
    """True if the database refused the statement (each in its own transaction)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError:
        return True
    return False


@pytest.fixture
def logged():
    child = factories.ChildFactory()
    event = record_event(action="child.search", context=RequestContext.system(), disclosed_refs=[child.reference])
    return event


def audit_relations():
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                       " WHERE i.inhparent = 'audit_accessevent'::regclass")
        parts = [row[0] for row in cursor.fetchall()]
    return list(guards.GUARDED_TABLES) + parts


TAMPERING = [
    "UPDATE {t} SET {c} = {c}",
    "DELETE FROM {t}",
    "TRUNCATE {t}",
    "ALTER TABLE {t} DISABLE TRIGGER USER",
    "ALTER TABLE {t} DISABLE TRIGGER ALL",
    "ALTER TABLE {t} DISABLE TRIGGER audit_refuse_update",
    "DROP TRIGGER audit_refuse_delete ON {t}",
    "ALTER TABLE {t} RENAME TO {t}_gone",
    "ALTER TABLE {t} ADD COLUMN sneaky integer",
    "ALTER TABLE {t} OWNER TO CURRENT_USER",
    "DROP TABLE {t}",
]


def test_every_tamper_statement_on_every_audit_table_and_partition_is_refused(logged, runtime_role):
    relations = audit_relations()
    assert len([r for r in relations if r.startswith("audit_accessevent_y")]) >= 4  # this month + 3 ahead
    assert "audit_accessevent_default" in relations and "auditlog_logentry" in relations
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::regclass", ["audit_accessevent"])
    let_through = []
    for table in relations:
        column = "last_seq" if table == guards.HEADS_TABLE else "id"
        for statement in TAMPERING:
            sql = statement.format(t=table, c=column)
            if table == guards.HEADS_TABLE and sql.startswith("UPDATE"):
                continue  # the heads' own row (UPDATE moves them forward): below
            if not refused(sql):
                let_through.append(sql)
    assert let_through == []
    assert AccessEvent.objects.filter(pk=logged.pk, hash=logged.hash).exists()


def test_the_runtime_role_cannot_move_a_chain_head_back_or_delete_it(logged, runtime_role):
    head = ChainHead.objects.get(pk=logged.chain)
    assert refused("UPDATE audit_chainhead SET last_seq = 0, last_hash = %s WHERE id = %s", ["0" * 64, head.pk])
    assert refused("UPDATE audit_chainhead SET last_hash = %s WHERE id = %s", ["f" * 64, head.pk])
    assert refused("DELETE FROM audit_chainhead")
    assert ChainHead.objects.get(pk=head.pk).last_hash == logged.hash


def test_the_runtime_role_cannot_switch_triggers_off_for_its_session_or_open_the_test_flush(runtime_role, logged):
    assert refused("SET session_replication_role = replica")
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config(%s, 'on', false)", [guards.FLUSH_SETTING])
    assert refused("TRUNCATE audit_accessevent")
    assert refused("CREATE TABLE audit_shadow (id integer)")


def test_the_runtime_role_owns_nothing(runtime_role):
    assert roles.owned_by(runtime_role) == []


def test_the_application_still_writes_events_as_the_runtime_role(runtime_role):
    child = factories.ChildFactory()
    event = record_event(action="child.search", context=RequestContext.system(), disclosed_refs=[child.reference])
    assert AccessEvent.objects.filter(pk=event.pk).exists()
    from audit.integrity import verify

    assert verify(require_anchor=False).ok


def test_a_partition_made_at_runtime_takes_the_runtime_roles_inserts(runtime_role):
    """Partitions are made by the owner's SECURITY DEFINER function; inserts go through the parent."""
    made = partitions.ensure_month_partitions(first_month=date(2031, 5, 1), months=1)
    assert made == ["audit_accessevent_y2031m05"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = %s", [made[0]])
        assert cursor.fetchone()[0] != runtime_role
        cursor.execute(
            "INSERT INTO audit_accessevent (occurred_at, chain, seq, actor_username, actor_role, action, child_ref,"
            " shielded, reason, request_id, user_agent, outcome, details, prev_hash, hash)"
            " VALUES ('2031-05-02T10:00:00Z', 99, 1, '', '', 'test.future', '', false, '', '', '', 'allowed', '{}',"
            " %s, %s) RETURNING tableoid::regclass::text", ["0" * 64, "1" * 64])
        assert cursor.fetchone()[0] == "audit_accessevent_y2031m05"
    for statement in TAMPERING[:4]:
        assert refused(statement.format(t=made[0], c="id"))


def test_retention_can_purge_the_field_history_of_deleted_records_only(runtime_role):
    from auditlog.models import LogEntry

    gone, kept = factories.ChildFactory(), factories.ChildFactory()
    gone.save()
    kept.save()
    ids = list(LogEntry.objects.filter(object_pk__in=[str(gone.pk), str(kept.pk)]).values_list("pk", flat=True))
    assert refused("DELETE FROM auditlog_logentry")
    assert guards.purge_field_history(ids) == 0  # both records still exist
    from children.retention import _delete_children

    counts = _delete_children([gone.pk])
    assert counts["field_history"] >= 1
    assert not LogEntry.objects.filter(object_pk=str(gone.pk), content_type__model="child").exists()
    assert LogEntry.objects.filter(object_pk=str(kept.pk), content_type__model="child").exists()


def test_granting_refuses_a_runtime_role_that_is_the_owner():
    with pytest.raises(CommandError, match="must not be the owner"):
        call_command("grant_runtime_role", role=connection.settings_dict["USER"])
