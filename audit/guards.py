"""Database triggers that make the audit tables append-only, on PostgreSQL and SQLite.

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

PROTECTED_TABLES = ("audit_accessevent", "audit_eventdisclosure")
FLUSH_SETTING = "signpost.audit_test_flush"
SQLITE_FLUSH_FUNCTION = "signpost_audit_test_flush"

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


def pg_table_triggers(table: str) -> str:
    return f"""
DROP TRIGGER IF EXISTS audit_refuse_update ON {table};
CREATE TRIGGER audit_refuse_update BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
DROP TRIGGER IF EXISTS audit_refuse_delete ON {table};
CREATE TRIGGER audit_refuse_delete BEFORE DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
DROP TRIGGER IF EXISTS audit_refuse_truncate ON {table};
CREATE TRIGGER audit_refuse_truncate BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate();
"""


def sqlite_table_triggers(table: str) -> list[str]:
    return [
        f"""CREATE TRIGGER IF NOT EXISTS {table}_refuse_update BEFORE UPDATE ON {table}
BEGIN SELECT RAISE(ABORT, 'audit log is append-only: UPDATE on {table} refused'); END""",
        f"""CREATE TRIGGER IF NOT EXISTS {table}_refuse_delete BEFORE DELETE ON {table}
WHEN NOT {SQLITE_FLUSH_FUNCTION}()
BEGIN SELECT RAISE(ABORT, 'audit log is append-only: DELETE on {table} refused'); END""",
    ]


def install(connection) -> None:
    """Install (or re-install) the append-only triggers on every protected table."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(PG_FUNCTIONS)
            for table in PROTECTED_TABLES:
                cursor.execute(pg_table_triggers(table))
        elif connection.vendor == "sqlite":
            for table in PROTECTED_TABLES:
                for statement in sqlite_table_triggers(table):
                    cursor.execute(statement)
        else:  # pragma: no cover - only the two supported databases
            raise NotImplementedError(f"No append-only triggers for {connection.vendor}")


def uninstall(connection) -> None:
    """Reverse of ``install`` (migration rollback only)."""
    with connection.cursor() as cursor:
        for table in PROTECTED_TABLES:
            if connection.vendor == "postgresql":
                for name in ("audit_refuse_update", "audit_refuse_delete", "audit_refuse_truncate"):
                    cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            else:
                for op in ("update", "delete"):
                    cursor.execute(f"DROP TRIGGER IF EXISTS {table}_refuse_{op}")


def missing(connection) -> list[str]:
    """Which append-only triggers are not in place (empty when all are)."""
    absent = []
    with connection.cursor() as cursor:
        for table in PROTECTED_TABLES:
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

    connection.connection.create_function(SQLITE_FLUSH_FUNCTION, 0, gate)


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
    if set(PROTECTED_TABLES) <= set(connection.introspection.table_names()) and missing(connection):
        install(connection)
