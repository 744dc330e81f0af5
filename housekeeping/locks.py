"""One lock per housekeeping job, held for one transaction (SPEC 8; ``signpost.locks``)."""

from signpost import locks


def _name(job: str) -> str:
    return f"signpost.housekeeping:{job}"


def job_lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_try_advisory_xact_lock``."""
    return locks.advisory_key(_name(name))


def try_job_lock(name: str) -> bool:
    """Hold job ``name``'s lock until the current transaction ends; False if another transaction has it.

    SQLite: always True, a second writer waits at BEGIN instead of skipping (``signpost.locks``).
    Raises RuntimeError outside ``transaction.atomic()``, where the lock would end at once.
    """
    return locks.try_hold(_name(name))
