"""Monthly range partitions of the audit table on PostgreSQL (SPEC 7).

Partitions are ``audit_accessevent_yYYYYmMM`` over UTC months of ``occurred_at``,
plus ``audit_accessevent_default`` so an insert never fails for want of a partition
(a failed audit write would fail the request it records). Months are created ahead
of time by ``manage.py ensure_audit_partitions`` (scheduled daily); the default
partition should stay empty, and ``verify_audit_chain`` warns when it is not.

New partitions get the row triggers of the parent automatically, but not its
statement-level TRUNCATE trigger: ``audit_ensure_month_partitions`` adds that one.
The function is SECURITY DEFINER, owned by the migration role, so the application
role (which owns nothing) can add months and nothing else.
"""

from datetime import date

from django.db import connections
from django.utils import timezone

PARENT = "audit_accessevent"
DEFAULT_PARTITION = "audit_accessevent_default"

ENSURE_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_ensure_month_partitions(first_month date, months integer)
RETURNS SETOF text LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    month_start date;
    part text;
BEGIN
    FOR i IN 0 .. months - 1 LOOP
        month_start := (date_trunc('month', first_month) + make_interval(months => i))::date;
        part := format('audit_accessevent_y%sm%s', to_char(month_start, 'YYYY'), to_char(month_start, 'MM'));
        IF to_regclass(part) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF audit_accessevent FOR VALUES FROM (%L) TO (%L)',
                           part, month_start::timestamp AT TIME ZONE 'UTC',
                           (month_start + interval '1 month')::timestamp AT TIME ZONE 'UTC');
            EXECUTE format('CREATE TRIGGER audit_refuse_truncate BEFORE TRUNCATE ON %I'
                           ' FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate()', part);
            RETURN NEXT part;
        END IF;
    END LOOP;
END $$;
"""

# Run once by migration 0010 on PostgreSQL: rebuild the (then still small) table as a
# partitioned one. A unique index on a partitioned table must include the partition
# key, so the primary key becomes (id, occurred_at); ids still come from one sequence.
_CREATE_PARTITIONED = """
ALTER TABLE audit_accessevent RENAME TO audit_accessevent_unpartitioned;
CREATE TABLE audit_accessevent (
    LIKE audit_accessevent_unpartitioned INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS
) PARTITION BY RANGE (occurred_at);
ALTER TABLE audit_accessevent ADD CONSTRAINT audit_accessevent_partitioned_pkey PRIMARY KEY (id, occurred_at);
CREATE TABLE audit_accessevent_default PARTITION OF audit_accessevent DEFAULT;
"""
_MOVE_ROWS = """
INSERT INTO audit_accessevent SELECT * FROM audit_accessevent_unpartitioned;
SELECT setval(pg_get_serial_sequence('audit_accessevent', 'id'),
              COALESCE((SELECT max(id) FROM audit_accessevent), 0) + 1, false);
DROP TABLE audit_accessevent_unpartitioned;
ALTER TABLE audit_accessevent RENAME CONSTRAINT audit_accessevent_partitioned_pkey TO audit_accessevent_pkey;
"""


def convert_to_partitioned(connection, *, months_ahead: int = 3) -> None:
    """Migration step (PostgreSQL): make ``audit_accessevent`` partitioned by month, keeping its rows.

    Needs the functions of ``audit.guards`` (the TRUNCATE trigger) installed first.
    """
    with connection.cursor() as cursor:
        cursor.execute(ENSURE_FUNCTION)
        cursor.execute("SELECT min(occurred_at) FROM audit_accessevent")
        oldest = cursor.fetchone()[0]
        cursor.execute(_CREATE_PARTITIONED)
        cursor.execute("CREATE TRIGGER audit_refuse_truncate BEFORE TRUNCATE ON audit_accessevent_default"
                       " FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate()")
        this_month = timezone.now().date().replace(day=1)
        first = min(oldest.date().replace(day=1), this_month) if oldest else this_month
        months = (this_month.year - first.year) * 12 + this_month.month - first.month + months_ahead + 1
        cursor.execute("SELECT audit_ensure_month_partitions(%s, %s)", [first, months])
        cursor.execute(_MOVE_ROWS)


def ensure_month_partitions(*, first_month: date, months: int, using: str = "default") -> list[str]:
    """Create the monthly partitions from ``first_month`` for ``months`` months; return the new ones.

    Idempotent. PostgreSQL only (returns [] elsewhere).
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute("SELECT audit_ensure_month_partitions(%s, %s)", [first_month, months])
        return [row[0] for row in cursor.fetchall()]


def ensure_upcoming(*, months_ahead: int = 3, using: str = "default") -> list[str]:
    """This month and the next ``months_ahead`` months."""
    today = timezone.now().date()
    return ensure_month_partitions(first_month=today.replace(day=1), months=months_ahead + 1, using=using)


def partitions(using: str = "default") -> list[str]:
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = %s::regclass ORDER BY c.relname", [PARENT])
        return [row[0] for row in cursor.fetchall()]


def default_partition_rows(using: str = "default") -> int:
    """Events that fell into the default partition (no month partition existed for them)."""
    connection = connections[using]
    if connection.vendor != "postgresql" or DEFAULT_PARTITION not in partitions(using):
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {DEFAULT_PARTITION}")
        return cursor.fetchone()[0]
