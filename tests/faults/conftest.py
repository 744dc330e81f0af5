"""Fault injection (issue 17): real workers killed, real connections cut, real writers racing.

PostgreSQL and Redis only: SQLite cannot share its test database with a worker process, has no
``pg_terminate_backend`` and serialises every writer. Each test adds what it injected and what
it found to ``FIGURES``; the run ends with them printed (for docs/security.md).
"""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import connection

from tests.housekeeping.conftest import _test_database_url

ROOT = Path(__file__).resolve().parents[2]
FIGURES: dict[str, Counter] = {}


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if Path(item.fspath).is_relative_to(here):
            item.add_marker(pytest.mark.faults)
            if connection.vendor != "postgresql" or not django_settings.REDIS_URL:
                item.add_marker(pytest.mark.skip(reason="fault injection needs PostgreSQL and REDIS_URL"))


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    terminalreporter.section("fault injection figures")
    total = Counter()
    for name, figures in FIGURES.items():
        total.update({"faults injected": figures["faults injected"], "holes found": figures["holes found"]})
        terminalreporter.write_line(f"{name}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    terminalreporter.write_line(
        f"TOTAL: faults injected {total['faults injected']}, holes found {total['holes found']}")


def figures(name: str) -> Counter:
    FIGURES[name] = FIGURES.get(name) or Counter({"faults injected": 0, "holes found": 0})
    return FIGURES[name]


def side_connection() -> psycopg.Connection:
    """A connection of the test's own to the test database, outside Django: the saboteur's.
    (pg_stat_activity is read as of a transaction's first look: watch from one not holding locks.)"""
    return psycopg.connect(_test_database_url(), autocommit=True)


@pytest.fixture
def side_connections():
    """side_connections() -> a new side connection; all are closed before the database is flushed,
    so a lock a failed test still holds cannot block the flush."""
    opened = []

    def make():
        opened.append(side_connection())
        return opened[-1]

    yield make
    for conn in opened:
        conn.close()


def terminate(side: psycopg.Connection, pid: int) -> bool:
    """pg_terminate_backend, waiting (up to 5 s) until the backend has really gone."""
    return side.execute("SELECT pg_terminate_backend(%s, 5000)", [pid]).fetchone()[0]


def wait_for(predicate, *, timeout: float, what: str, every: float = 0.05, diagnose=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out after {timeout} s waiting for {what}" + (f"\n{diagnose()}" if diagnose else ""))


class WorkerProcess:
    """A real ``celery -A signpost worker`` (solo pool: the task runs in the process we kill)
    on the test database and this helper's Redis database, consuming the default queue."""

    def __init__(self, log_dir: Path, env: dict[str, str]):
        self.log = log_dir / f"worker-{time.monotonic_ns()}.log"
        self.nodename = f"faults-{os.getpid()}-{time.monotonic_ns()}@localhost"
        command = [sys.executable, "-m", "celery", "-A", "signpost", "worker", "--pool", "solo",
                   "--queues", "celery", "--hostname", self.nodename, "--without-gossip",
                   "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"]
        full_env = {**os.environ, "DATABASE_URL": _test_database_url(), "DB_CONN_MAX_AGE": "0",
                    "LOG_LEVEL": "WARNING", **env}
        with open(self.log, "w") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout=30):
        """Until the worker logs that it is ready (a ping would go unanswered while the solo
        pool is busy with a task it was handed at once)."""
        deadline = time.monotonic() + timeout
        while f"{self.nodename} ready." not in self.log.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Celery worker did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)
        return self

    def tail(self) -> str:
        return self.log.read_text()[-3000:]

    def kill(self):
        """SIGKILL: no handler runs, no task is acknowledged, the database sees a dropped client."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self):
        """Cold shutdown (SIGQUIT): by now the worker is idle, or the test failed anyway."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def forget_default_queue():
    """Empty this Redis database's default queue and kombu's unacknowledged-task bookkeeping."""
    import redis

    client = redis.Redis.from_url(django_settings.REDIS_URL)
    patterns = ("celery*", "unacked*", "_kombu.binding.celery*")
    keys = [key for pattern in patterns for key in client.scan_iter(match=pattern)]
    if keys:
        client.delete(*keys)


def queue_drained() -> bool:
    """Nothing waiting in the default queue and nothing handed out but unacknowledged."""
    import redis

    client = redis.Redis.from_url(django_settings.REDIS_URL)
    return client.llen("celery") == 0 and client.hlen("unacked") == 0


def backends_gone(side: psycopg.Connection, pids: list[int]) -> bool:
    return not side.execute("SELECT 1 FROM pg_stat_activity WHERE pid = ANY(%s)", [pids]).fetchall()


@pytest.fixture
def workers(tmp_path):
    """start(**env) -> a ready WorkerProcess; every one started is stopped at the end."""
    started = []
    forget_default_queue()

    def start(**env):
        worker = WorkerProcess(tmp_path, {k: str(v) for k, v in env.items()})
        started.append(worker)
        return worker.wait_ready()

    yield start
    for worker in started:
        worker.stop()
    forget_default_queue()
