"""PostgreSQL advisory locks held for one transaction, keyed by name (SPEC 8).

A session-level ``pg_advisory_lock`` would leak behind PgBouncer in transaction mode (the
session outlives our use of it); a transaction-level lock ends with the commit or rollback, on
whichever server connection. SQLite has no such lock and needs none: our SQLite transactions
are IMMEDIATE (settings), so a second writer waits at BEGIN until the first commits.
"""

import hashlib

from django.db import connection


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``name``, as the advisory-lock functions take it."""
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _in_transaction(caller: str) -> None:
    if not connection.in_atomic_block:
        raise RuntimeError(f"{caller} needs a transaction: call it inside transaction.atomic()")


def hold(name: str) -> None:
    """Wait for lock ``name`` and hold it until the current transaction ends."""
    _in_transaction("hold()")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [advisory_key(name)])


def try_hold(name: str) -> bool:
    """Hold lock ``name`` until the current transaction ends; False at once if another transaction has it."""
    _in_transaction("try_hold()")
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [advisory_key(name)])
        return bool(cursor.fetchone()[0])
