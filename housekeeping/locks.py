"""One lock per housekeeping job, held for one transaction (SPEC 8)."""

import hashlib

from django.db import connection


def job_lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_try_advisory_xact_lock``."""
    digest = hashlib.sha256(f"signpost.housekeeping:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def try_job_lock(name: str) -> bool:
    """Hold job ``name``'s lock until the current transaction ends; False if another transaction has it.

    PostgreSQL: ``pg_try_advisory_xact_lock``. A session-level ``pg_advisory_lock`` would leak
    behind PgBouncer in transaction mode (the session outlives our use of it); the
    transaction-level lock ends with the commit or rollback, on whichever server connection.
    SQLite has no such lock and needs none: our SQLite transactions are IMMEDIATE (settings),
    so a second writer waits at BEGIN until the first commits (busy timeout 20 s) instead of
    skipping. Raises RuntimeError outside ``transaction.atomic()``, where the lock would end at once.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("try_job_lock() needs a transaction: call it inside transaction.atomic()")
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [job_lock_key(name)])
        return bool(cursor.fetchone()[0])
