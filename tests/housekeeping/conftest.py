import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, time as clock, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from celery.result import EagerResult
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

ROOT = Path(__file__).resolve().parents[2]


def at_noon(day):
    """An aware datetime at noon on ``day``: far from midnight, whatever the UTC offset."""
    return timezone.make_aware(datetime.combine(day, clock(12)))


@pytest.fixture(autouse=True)
def _policy(settings):
    """The defaults of the spec, whatever this machine's environment says."""
    settings.RETENTION_PERIOD = timedelta(days=365)
    settings.RETENTION_BATCH_SIZE = 500
    settings.TRAINING_VALID_FOR = timedelta(days=3 * 365)
    settings.ACCESS_REMINDER_DAYS = 30
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def _test_database_url() -> str:
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    """A real ``celery -A signpost worker`` process consuming its own queue on the test Redis."""

    def __init__(self, queue: str):
        self.queue = queue
        self.nodename = f"{queue}@localhost"

    def run(self, task) -> None:
        """Queue ``task`` for the worker; never runs it here."""
        assert not task.app.conf.task_always_eager, "tasks would run in this process, not the worker"
        result = task.apply_async(queue=self.queue)
        assert not isinstance(result, EagerResult)


@pytest.fixture(scope="module")
def real_worker(django_db_setup, tmp_path_factory):
    """Start a worker subprocess on the test database (``test_<name>``) and the real Redis.

    The worker reads the same settings module as production, configured only through the
    environment (as docker-compose does). Tests using it must be transactional: the worker
    sees committed rows only.
    """
    yield from start_worker(tmp_path_factory)


def start_worker(tmp_path_factory, **environment):
    """``real_worker``'s body; ``environment`` overrides the worker's variables (e.g. EMAIL_BACKEND)."""
    if connection.vendor != "postgresql" or not django_settings.REDIS_URL:
        pytest.skip("needs PostgreSQL and REDIS_URL: a real worker cannot share SQLite's test database or run on the in-memory broker")
    queue = f"housekeeping-test-{uuid.uuid4().hex[:12]}"
    nodename = f"{queue}@localhost"
    log = tmp_path_factory.mktemp("celery") / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": _test_database_url(),
        "DB_CONN_MAX_AGE": "0",  # no connection left open when the test database is dropped
        "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend",
        "LOG_LEVEL": "WARNING",
        # The worker outlives single tests (and their own anchor files): one file for its whole life.
        "AUDIT_ANCHOR_FILE": str(tmp_path_factory.mktemp("anchors") / "audit-anchors.jsonl"),
        "AUDIT_ANCHOR_REQUIRED": "false",  # as in-process (tests/conftest.py): these jobs verify the chain alone
        **environment,
    }
    command = [
        sys.executable, "-m", "celery", "-A", "signpost", "worker", "--pool", "solo", "--queues", queue,
        "--hostname", nodename, "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO",
    ]
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    from signpost.celery import app

    try:
        deadline = time.monotonic() + 30
        while not app.control.ping(destination=[nodename], timeout=0.5):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Celery worker did not start:\n{log.read_text()[-3000:]}")
        yield Worker(queue)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        _forget_queue(queue)


def _forget_queue(queue: str) -> None:
    """Delete the test queue and kombu's bookkeeping keys for it from Redis."""
    import redis

    client = redis.Redis.from_url(django_settings.REDIS_URL)
    keys = list(client.scan_iter(match=f"*{queue}*"))
    if keys:
        client.delete(*keys)
