"""Database triggers that make the audit tables append-only, on PostgreSQL and SQLite.

Every audit table is guarded (``GUARDED_TABLES``): the log and its disclosures, anomaly
reviews, the daily search tallies, django-auditlog's field history (rows leave only through
``purge_field_history``, for records retention deleted) and the chain heads (forward only).

UPDATE and DELETE are refused row by row; on PostgreSQL a statement-level trigger
also refuses TRUNCATE (row triggers do not fire on it). These are plain SQL, not
django-pgtrigger: every pgtrigger trigger first asks ``_pgtrigger_should_ignore()``,
which honours ``SET pgtrigger.ignore = ...`` -- a setting any role, the application's
included, may change. See docs/decisions.md, "Append-only triggers".

The one way through is for the test suite's database flush (``allow_test_flush``):
on PostgreSQL a TRUNCATE passes only when all three hold -- the session set
``signpost.audit_test_flush``, the database is a Django test database (``test_*``),
and the current role owns the table (or is a superuser), i.e. could have disabled
the trigger anyway. In production the application role owns neither the tables nor
the triggers (SPEC 4), so the setting alone opens nothing. On SQLite the DELETE
trigger asks a SQL function that Django registers per connection and that answers
yes only inside ``allow_test_flush`` on a test database; any other program opening
the file has no such function, and its DELETE fails.
"""

from contextlib import contextmanager

from django.db import connections

# The log itself (migration 0011), then every other audit table (0013, issue 17): all append-only.
PROTECTED_TABLES = ("audit_accessevent", "audit_eventdisclosure")
APPEND_ONLY_TABLES = PROTECTED_TABLES + ("audit_anomalyreview", "audit_dailysearchcount", "audit_dailysearchtally")
# django-auditlog's field history: never changed; rows leave only with the record they describe
# (retention), through ``audit_purge_field_history`` -- see ``purge_field_history``.
HISTORY_TABLE = "auditlog_logentry"
# The chain heads move forward with every event, and only forward; they are never deleted.
HEADS_TABLE = "audit_chainhead"
GUARDED_TABLES = APPEND_ONLY_TABLES + (HISTORY_TABLE, HEADS_TABLE)
FLUSH_SETTING = "signpost.audit_test_flush"
SQLITE_FLUSH_FUNCTION = "signpost_audit_test_flush"
SQLITE_PURGE_FUNCTION = "signpost_audit_history_purge"

PG_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE OR REPLACE FUNCTION audit_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('{FLUSH_SETTING}', true) = 'on'
       AND current_database() LIKE 'test\\_%'
       AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
        RETURN NULL;  -- the test suite's flush of its own throwaway database
    END IF;
    RAISE EXCEPTION 'audit log is append-only: TRUNCATE on % refused', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END $$;
"""


# The other tables' row triggers (installed by migration 0013). Heads: forward only. History:
# a DELETE passes only for a role that owns the table -- inside the SECURITY DEFINER purge
# function, or a single-role setup whose role could drop the trigger anyway.
PG_MORE_FUNCTIONS = """
CREATE OR REPLACE FUNCTION audit_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id <> OLD.id OR NEW.last_seq <= OLD.last_seq THEN
        RAISE EXCEPTION 'audit log is append-only: a chain head only moves forward (% on %)', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION audit_history_delete_gate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit log is append-only: DELETE on % refused (retention purges through '
                    'audit_purge_field_history)', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;

-- Retention's one way to remove field history: only entries whose object no longer exists, so
-- the runtime role cannot erase the history of a live record. Owned by the migration role.
CREATE OR REPLACE FUNCTION audit_purge_field_history(entry_ids bigint[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    entry record;
    tbl text;
    still_there boolean;
    purged integer := 0;
BEGIN
    FOR entry IN SELECT e.id, e.object_pk, ct.app_label, ct.model FROM auditlog_logentry e
                 JOIN django_content_type ct ON ct.id = e.content_type_id WHERE e.id = ANY(entry_ids) LOOP
        tbl := entry.app_label || '_' || entry.model;
        IF to_regclass(tbl) IS NULL THEN
            CONTINUE;  -- a model with its own table name: its history stays
        END IF;
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE id::text = $1)', tbl) INTO still_there USING entry.object_pk;
        IF NOT still_there THEN
            DELETE FROM auditlog_logentry WHERE id = entry.id;
            purged := purged + 1;
        END IF;
    END LOOP;
    RETURN purged;
END $$;
"""

_PG_ROW_FUNCTIONS = {"update": "audit_refuse_change", "delete": "audit_refuse_change"}
_PG_KIND_FUNCTIONS = {
    HEADS_TABLE: {"update": "audit_head_forward_only", "delete": "audit_refuse_change"},
    HISTORY_TABLE: {"update": "audit_refuse_change", "delete": "audit_history_delete_gate"},
}


def pg_table_triggers(table: str) -> str:
    functions = _PG_KIND_FUNCTIONS.get(table, _PG_ROW_FUNCTIONS)
    return f"""
DROP TRIGGER IF EXISTS audit_refuse_update ON {table};
CREATE TRIGGER audit_refuse_update BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {functions["update"]}();
DROP TRIGGER IF EXISTS audit_refuse_delete ON {table};
CREATE TRIGGER audit_refuse_delete BEFORE DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {functions["delete"]}();
DROP TRIGGER IF EXISTS audit_refuse_truncate ON {table};
CREATE TRIGGER audit_refuse_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate();
"""


def sqlite_table_triggers(table: str) -> list[str]:
    update_when = "WHEN NEW.id <> OLD.id OR NEW.last_seq <= OLD.last_seq" if table == HEADS_TABLE else ""
    delete_gate = f"NOT {SQLITE_FLUSH_FUNCTION}()"
    if table == HISTORY_TABLE:
        delete_gate += f" AND NOT {SQLITE_PURGE_FUNCTION}()"
    return [
        f"""CREATE TRIGGER IF NOT EXISTS {table}_refuse_update BEFORE UPDATE ON {table} {update_when}
BEGIN SELECT RAISE(ABORT, 'audit log is append-only: UPDATE on {table} refused'); END""",
        f"""CREATE TRIGGER IF NOT EXISTS {table}_refuse_delete BEFORE DELETE ON {table}
WHEN {delete_gate}
BEGIN SELECT RAISE(ABORT, 'audit log is append-only: DELETE on {table} refused'); END""",
    ]


def install(connection, tables=GUARDED_TABLES) -> None:
    """Install (or re-install) the append-only triggers on ``tables`` (by default every guarded one)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(PG_FUNCTIONS)
            if set(tables) - set(PROTECTED_TABLES):
                cursor.execute(PG_MORE_FUNCTIONS)
            for table in tables:
                cursor.execute(pg_table_triggers(table))
        elif connection.vendor == "sqlite":
            for table in tables:
                for statement in sqlite_table_triggers(table):
                    cursor.execute(statement)
        else:  # pragma: no cover - only the two supported databases
            raise NotImplementedError(f"No append-only triggers for {connection.vendor}")


def uninstall(connection, tables=GUARDED_TABLES) -> None:
    """Reverse of ``install`` (migration rollback only)."""
    with connection.cursor() as cursor:
        for table in tables:
            if connection.vendor == "postgresql":
                for name in ("audit_refuse_update", "audit_refuse_delete", "audit_refuse_truncate"):
                    cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            else:
                for op in ("update", "delete"):
                    cursor.execute(f"DROP TRIGGER IF EXISTS {table}_refuse_{op}")


def missing(connection) -> list[str]:
    """Which append-only triggers are not in place (empty when all are), on the guarded tables that exist."""
    absent = []
    present = set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        for table in (t for t in GUARDED_TABLES if t in present or t in PROTECTED_TABLES):
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal"
                    " AND tgenabled <> 'D'", [table])
                have = {row[0] for row in cursor.fetchall()}
                wanted = {"audit_refuse_update", "audit_refuse_delete", "audit_refuse_truncate"}
            else:
                cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [table])
                have = {row[0] for row in cursor.fetchall()}
                wanted = {f"{table}_refuse_update", f"{table}_refuse_delete"}
            absent += [f"{table}.{name}" for name in sorted(wanted - have)]
    return absent


def register_sqlite_function(sender, connection, **kwargs):
    """``connection_created`` receiver: give SQLite connections the flush gate function."""
    if connection.vendor != "sqlite":
        return

    def gate():
        return int(bool(getattr(connection, "_audit_test_flush", False)) and _is_test_database(connection))

    def purge_gate():
        return int(bool(getattr(connection, "_audit_history_purge", False)))

    connection.connection.create_function(SQLITE_FLUSH_FUNCTION, 0, gate)
    connection.connection.create_function(SQLITE_PURGE_FUNCTION, 0, purge_gate)


def _is_test_database(connection) -> bool:
    name = str(connection.settings_dict["NAME"])
    return connection.is_in_memory_db() or name.rsplit("/", 1)[-1].startswith("test_")


@contextmanager
def allow_test_flush(connection):
    """Let the test suite's flush empty the audit tables of a test database (see module doc)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, 'on', false)", [FLUSH_SETTING])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config(%s, '', false)", [FLUSH_SETTING])
    else:
        connection.ensure_connection()
        connection._audit_test_flush = True
        try:
            yield
        finally:
            connection._audit_test_flush = False


def ensure_sqlite_triggers(using="default", **kwargs):
    """``post_migrate`` receiver: Django's SQLite schema editor rebuilds a table to alter
    it, and the rebuilt table has no triggers; put them back (PostgreSQL keeps them)."""
    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    present = set(connection.introspection.table_names())
    if set(PROTECTED_TABLES) <= present and missing(connection):
        install(connection, tables=[t for t in GUARDED_TABLES if t in present])


def purge_field_history(entry_ids, *, using="default") -> int:
    """Delete django-auditlog entries whose object is gone (retention, after deleting the records).

    On PostgreSQL through ``audit_purge_field_history`` (SECURITY DEFINER, owned by the migration
    role), which skips any entry whose object still exists: the runtime role has no DELETE on the
    table. On SQLite (no roles, one process owns the file) the DELETE trigger lets the rows go
    only inside this function. Returns how many went.
    """
    entry_ids = [int(pk) for pk in entry_ids]
    if not entry_ids:
        return 0
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT audit_purge_field_history(%s::bigint[])", [entry_ids])
            return cursor.fetchone()[0]
    from auditlog.models import LogEntry

    gone = []  # as on PostgreSQL: only entries whose object no longer exists
    for entry in LogEntry.objects.using(using).filter(pk__in=entry_ids).select_related("content_type"):
        model = entry.content_type.model_class()
        if model is not None and not model._base_manager.using(using).filter(pk=entry.object_pk).exists():
            gone.append(entry.pk)
    connection.ensure_connection()
    connection._audit_history_purge = True
    try:
        deleted, _ = LogEntry.objects.using(using).filter(pk__in=gone).delete()
    finally:
        connection._audit_history_purge = False
    return deleted

