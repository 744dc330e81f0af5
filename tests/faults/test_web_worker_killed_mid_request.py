"""gunicorn workers SIGKILLed while they serve record views (DEBUG off, the production shape).

Clients open one record over and over, each request with its own User-Agent, which the audit
event records; meanwhile a saboteur SIGKILLs a random web worker every few tenths of a second.
A request on a killed worker gets a dropped connection, never the record; the master starts a
new worker and the rest go on being served. Every page that showed the record has its own
``child.view`` event, matched by that User-Agent.
"""

import http.client
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.context import RequestContext
from audit.models import AccessEvent
from practitioners.models import AccessGrant
from practitioners.services import grant_access
from tests import factories
from tests.faults.conftest import ROOT, figures, wait_for
from tests.housekeeping.conftest import _test_database_url

pytestmark = pytest.mark.django_db(transaction=True)
WEB_WORKERS = 3
CLIENTS = 4
SECONDS = 10
NAME = "Zephyrine"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port, path, *, cookie="", agent="faults") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Host": "127.0.0.1", "Cookie": cookie, "User-Agent": agent})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def worker_pids(master: int) -> list[int]:
    """The master's children, from /proc."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                pids.append(int(entry.name))
    return pids


@pytest.fixture
def web(tmp_path):
    """gunicorn with DEBUG off on the test database; yields (port, master pid)."""
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "SIGNPOST_DEBUG": "false",
           "SECURE_COOKIES": "false", "SIGNPOST_DATA_DIR": str(tmp_path), "LOG_LEVEL": "WARNING",
           "DB_CONN_MAX_AGE": "0"}
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"], env=env, check=True,
                   cwd=ROOT)
    port = free_port()
    with open(tmp_path / "gunicorn.log", "w") as log:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "signpost.wsgi", "--workers", str(WEB_WORKERS),
             "--bind", f"127.0.0.1:{port}", "--log-level", "warning"], env=env, cwd=ROOT, stdout=log,
            stderr=subprocess.STDOUT)

    def answers():
        try:
            return get(port, "/healthz")[0] == 200 and len(worker_pids(server.pid)) == WEB_WORKERS
        except OSError:
            return False

    try:
        wait_for(answers, timeout=60, what="gunicorn to answer", every=0.3,
                 diagnose=lambda: (tmp_path / "gunicorn.log").read_text()[-3000:])
        yield port, server.pid
    finally:
        server.send_signal(signal.SIGQUIT)  # gunicorn's quick shutdown
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture
def granted_session():
    """A practitioner's verified session cookie and a record they are granted."""
    practitioner = factories.PractitionerFactory()
    child = factories.ChildFactory(given_names=NAME, family_name="Quenby-Ashworth", date_of_birth=date(2015, 3, 9))
    grant_access(practitioner=practitioner, child=child, source=AccessGrant.Source.ACCESS_REQUEST,
                 reason="Team around the child meeting", expires_at=timezone.now() + timedelta(hours=4),
                 context=RequestContext.system("test"))
    device = TOTPDevice.objects.create(user=practitioner.user, name="phone", confirmed=True)
    client = Client()
    client.force_login(practitioner.user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}", child


def test_web_workers_killed_mid_request_never_send_a_record_unaudited_and_the_rest_keep_serving(web, granted_session):
    port, master = web
    cookie, child = granted_session
    counted = figures("gunicorn workers SIGKILLed mid request")
    status, body = get(port, child.get_absolute_url(), cookie=cookie, agent="faults-warm")
    assert status == 200 and NAME.encode() in body  # the session and grant work before any fault

    pages, lock = {}, threading.Lock()
    stop_at = time.monotonic() + SECONDS

    def client_loop(n):
        i = 0
        while time.monotonic() < stop_at:
            i += 1
            agent = f"faults-{n}-{i}"
            try:
                status, body = get(port, child.get_absolute_url(), cookie=cookie, agent=agent)
            except (OSError, http.client.HTTPException):
                status, body = "dropped", b""
            with lock:
                pages[agent] = (status, NAME.encode() in body)

    clients = [threading.Thread(target=client_loop, args=(n,)) for n in range(CLIENTS)]
    for thread in clients:
        thread.start()
    saboteur = random.Random(17)
    while time.monotonic() < stop_at - 1:
        time.sleep(saboteur.uniform(0.6, 1.2))
        alive = worker_pids(master)
        if len(alive) > 1:  # leave one to serve while the master boots replacements
            os.kill(saboteur.choice(alive), signal.SIGKILL)
            counted["faults injected"] += 1
    for thread in clients:
        thread.join(timeout=60)

    audited = set(AccessEvent.objects.filter(action="child.view", child_ref=child.reference)
                  .values_list("user_agent", flat=True))
    shown = {agent for agent, (_, has_record) in pages.items() if has_record}
    counted["requests"] = len(pages)
    counted["record pages sent"] = len(shown)
    counted["requests dropped"] = sum(1 for status, _ in pages.values() if status == "dropped")
    counted["holes found"] = len(shown - audited)
    assert shown - audited == set()
    assert counted["requests dropped"] > 0  # the kills did land mid request
    # The master replaced every worker killed, and the replacements serve audited views.
    wait_for(lambda: len(worker_pids(master)) == WEB_WORKERS, timeout=30, what="gunicorn to replace its workers")
    status, body = get(port, child.get_absolute_url(), cookie=cookie, agent="faults-after")
    assert status == 200 and NAME.encode() in body
    assert AccessEvent.objects.filter(action="child.view", user_agent="faults-after").exists()
