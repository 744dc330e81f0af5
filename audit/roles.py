"""Two database roles on PostgreSQL (SPEC 4, issue 16 item 5).

The **owner** (``MIGRATE_DATABASE_URL``) owns every table, function and partition and runs
migrations. The **runtime** role (``DATABASE_URL``: web, worker, beat) owns nothing and is
granted only what the application does: plain DML on ordinary tables, and on the audit tables
no more than the append-only design needs -- SELECT and INSERT, plus UPDATE on the chain heads
(whose trigger lets them move only forward). It has no TRUNCATE, REFERENCES or TRIGGER anywhere,
and, owning nothing, cannot ALTER a table, disable a trigger or drop one.

Monthly audit partitions are created at runtime by ``audit_ensure_month_partitions``, a SECURITY
DEFINER function owned by the owner: the new partition belongs to the owner and the runtime role
gets no privilege on it at all (existing partitions: SELECT only). It still inserts into it,
because privileges are checked on the partitioned table it writes through, not on the partition.

``grant_runtime_role`` is idempotent; run it (``manage.py migrate_as_owner`` does) after every
migration, since new tables start with no grants.
"""

from django.db import connection

from audit import guards, partitions

# Audit tables and what the runtime role may do on each: nothing that rewrites history.
AUDIT_PRIVILEGES = {
    **{table: "SELECT, INSERT" for table in guards.APPEND_ONLY_TABLES},
    guards.HISTORY_TABLE: "SELECT, INSERT",
    guards.HEADS_TABLE: "SELECT, INSERT, UPDATE",
    "django_migrations": "SELECT",
}
ORDINARY_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"


class RoleError(Exception):
    pass


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def grant_runtime_role(role: str) -> dict[str, int]:
    """Grant ``role`` exactly what the application needs; run as the owner. Returns counts.

    Raises RoleError if ``role`` owns anything (it would then be able to alter or disable) or
    is the current user (the owner would be granting to itself).
    """
    if connection.vendor != "postgresql":
        raise RoleError("Database roles are a PostgreSQL feature; the embedded SQLite setup has one user.")
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, current_schema()")
        me, schema = cursor.fetchone()
        if role == me:
            raise RoleError(f"{role} is the role running this command: the runtime role must not be the owner.")
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone() is None:
            raise RoleError(f"No role {role}: create it first (deploy/postgres/init-roles.sql).")
        owned = owned_by(role)
        if owned:
            raise RoleError(f"{role} owns {', '.join(owned[:5])}: the runtime role must own nothing.")
        cursor.execute(
            "SELECT c.relname, c.relkind, c.relispartition FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'S', 'v')", [schema])
        relations = cursor.fetchall()
        r = _q(role)
        cursor.execute(f"GRANT USAGE ON SCHEMA {_q(schema)} TO {r}")
        counts = {"tables": 0, "audit_tables": 0, "partitions": 0, "sequences": 0}
        for name, kind, is_partition in relations:
            # Start from nothing each time, so a privilege granted by hand is taken away again.
            cursor.execute(f"REVOKE ALL ON {_q(name)} FROM {r}")
            if kind == "S":
                cursor.execute(f"GRANT USAGE, SELECT ON SEQUENCE {_q(name)} TO {r}")
                counts["sequences"] += 1
            elif is_partition:
                # Written through its parent; read directly only by the verifier's default-partition check.
                cursor.execute(f"GRANT SELECT ON {_q(name)} TO {r}")
                counts["partitions"] += 1
            elif name in AUDIT_PRIVILEGES:
                cursor.execute(f"GRANT {AUDIT_PRIVILEGES[name]} ON {_q(name)} TO {r}")
                counts["audit_tables"] += 1
            else:
                cursor.execute(f"GRANT {ORDINARY_PRIVILEGES} ON {_q(name)} TO {r}")
                counts["tables"] += 1
        # Only the runtime role needs the retention purge; PUBLIC keeps nothing it could misuse.
        cursor.execute("REVOKE ALL ON FUNCTION audit_purge_field_history(bigint[]) FROM PUBLIC")
        cursor.execute(f"GRANT EXECUTE ON FUNCTION audit_purge_field_history(bigint[]) TO {r}")
    return counts


def owned_by(role: str) -> list[str]:
    """Relations and functions ``role`` owns (should be none for the runtime role)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = %s"
            " UNION ALL SELECT p.proname FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner WHERE r.rolname = %s"
            " ORDER BY 1", [role, role])
        return [row[0] for row in cursor.fetchall()]


def audit_relations() -> list[str]:
    """Every audit table and every partition of the access log, for checks and tests."""
    return sorted(set(guards.GUARDED_TABLES) | set(partitions.partitions()))
