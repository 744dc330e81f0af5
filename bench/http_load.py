"""What the HTTP benchmarks share: the app under gunicorn, signed-in sessions, timed requests.

Imported by ``bench/search_http.py`` and ``bench/run.py`` after ``django.setup()``.
"""

import html
import http.client
import os
import re
import socket
import subprocess
import sys
import time
from http.cookies import SimpleCookie
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def summary(latencies_ms: list[float], wall_seconds: float, units: int | None = None) -> dict:
    """p50/p95/p99 of the latencies and the throughput: ``units`` (default: requests) per second."""
    if not latencies_ms:
        return {"n": 0}
    units = len(latencies_ms) if units is None else units
    return {"n": len(latencies_ms), "p50_ms": round(percentile(latencies_ms, 0.50), 2),
            "p95_ms": round(percentile(latencies_ms, 0.95), 2), "p99_ms": round(percentile(latencies_ms, 0.99), 2),
            "per_second": round(units / max(wall_seconds, 1e-9), 1), "seconds": round(wall_seconds, 2)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, body=None, cookies=None, headers=None, content_type=None):
    """(status, Set-Cookie, body) of one request on a fresh connection (as a browser's first request)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        all_headers = {"Host": "127.0.0.1", **(headers or {})}
        if cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        if body is not None:
            all_headers["Content-Type"] = content_type or "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, response.getheader("Set-Cookie") or "", data
    finally:
        conn.close()


def start_gunicorn(database_url: str, workers: int, data_dir: str, extra_env: dict | None = None):
    """The app as deployed (DEBUG off, static files collected) on a free loopback port: (process, port)."""
    env = {**os.environ, "DATABASE_URL": database_url, "SIGNPOST_DEBUG": "false", "SECURE_COOKIES": "false",
           "SIGNPOST_DATA_DIR": data_dir, "LOG_LEVEL": "WARNING",
           # A few bench practitioners search thousands of times: the per-practitioner limits (issue 17)
           # would answer 429 and measure the refusal page instead of the search.
           "SEARCH_RATE_PER_MINUTE": "1000000", "SEARCH_RATE_PER_DAY": "100000000",
           "ADMIN_EMAILS": os.environ.get("ADMIN_EMAILS") or "bench@example.invalid", **(extra_env or {})}
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "collectstatic", "--noinput", "-v", "0"],
                   env=env, check=True, cwd=ROOT)
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "signpost.wsgi", "--workers", str(workers),
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning"], env=env, cwd=ROOT)
    deadline = time.time() + 60
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}")
        try:
            status, _, _ = request(port, "GET", "/healthz")
            if status == 200:
                return process, port
        except OSError:
            pass
        time.sleep(0.3)
    process.terminate()
    raise SystemExit("gunicorn did not answer /healthz within 60s")


def stop_gunicorn(process) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def worker_rss_kib(master_pid: int) -> list[int]:
    """Resident memory (KiB, from /proc) of each gunicorn worker: the master's child processes."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    sizes = []
    for pid in children:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:  # a worker recycled between the two reads
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
        if match:
            sizes.append(int(match.group(1)))
    return sizes


def verified_session(user) -> str:
    """A session key for ``user`` signed in with a verified second factor, written to the session
    store as the OTP login leaves it (no password or TOTP round trip: the benchmark times the pages)."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, name="bench").first() or TOTPDevice.objects.create(
        user=user, name="bench")
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return session.session_key


def signed_in(port, session_key: str, form_path: str = "/children/search/") -> tuple[dict, str]:
    """(cookies, CSRF token) of a signed-in session, from a GET of a page with a form."""
    cookies = {settings.SESSION_COOKIE_NAME: session_key}
    status, set_cookie, page = request(port, "GET", form_path, cookies=cookies)
    assert status == 200, f"{form_path} answered {status}: is the session verified?"
    jar = SimpleCookie()
    jar.load(set_cookie)
    cookies[settings.CSRF_COOKIE_NAME] = jar[settings.CSRF_COOKIE_NAME].value
    token = html.unescape(re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1).decode())
    return cookies, token
