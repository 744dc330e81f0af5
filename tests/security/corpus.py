"""The bad-input corpus (bad_inputs.json) as Python values, and the prober that sends them.

The prober makes one request, in a savepoint, and records what a hostile input must never
cause: a server error (or an exception the test client re-raises), an API refusal that is
not JSON, a web refusal without a GOV.UK page, markup echoed unescaped, or rows written by
a request that was refused.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from django.apps import apps
from django.core.cache import cache
from django.db import connection, transaction

from tests.security import figures

CORPUS_FILE = Path(__file__).with_name("bad_inputs.json")


@dataclass(frozen=True)
class BadInput:
    name: str
    category: str
    value: object  # str for "strings"; any JSON value for "json_values"
    marker: str = ""  # markup that must never come back unescaped

    def __repr__(self):
        return f"<{self.category}: {self.name}>"


def _string(entry: dict) -> str:
    if "repeat" in entry:
        return entry.get("prefix", "") + entry["repeat"] * entry["times"]
    return entry["value"]


def _generated(entry: dict):
    if entry.get("generate") == "array":
        return ["x"] * entry["length"]
    if entry.get("generate") == "nested":
        return None  # built as text: Python cannot build (or dump) it without recursion
    return entry.get("json")


def nested_json_text(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def load():
    data = json.loads(CORPUS_FILE.read_text(encoding="utf-8"))
    strings = [BadInput(e["name"], e["category"], _string(e), e.get("marker", "")) for e in data["strings"]]
    json_values = [BadInput(e["name"], "json", _generated(e) if "generate" in e else e["json"])
                   for e in data["json_values"]]
    nested = {e["name"]: e["depth"] for e in data["json_values"] if e.get("generate") == "nested"}
    bodies = []
    for e in data["bodies"]:
        if e.get("generate") == "bytes":
            raw = b"a=" + b"A" * e["size"]
        elif e.get("generate") == "nested":
            raw = nested_json_text(e["depth"]).encode()
        elif e.get("generate") == "array":
            raw = json.dumps(["x"] * e["length"]).encode()
        elif "raw_hex" in e:
            raw = bytes.fromhex(e["raw_hex"])
        else:
            raw = e["raw"].encode()
        bodies.append(BadInput(e["name"], "body", raw))
    return strings, json_values, nested, bodies


def form_body(data: dict) -> bytes:
    """application/x-www-form-urlencoded as a hostile client may send it: a lone surrogate goes
    as the (invalid UTF-8) bytes that would encode it, which no real encoder makes."""
    parts = []
    for key, value in data.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            parts.append(f"{_quote(key)}={_quote(item)}")
    return "&".join(parts).encode("ascii")


def _quote(value) -> str:
    return quote(str(value).encode("utf-8", "surrogatepass"), safe="")


def url_with(path: str, old: str, new: str) -> str:
    """``path`` with the segment ``old`` replaced by ``new``, percent-encoded as a client would."""
    segment = f"/{old}/"
    assert segment in f"{path}/", (path, old)
    return f"{path}/".replace(segment, f"/{_quote(new)}/", 1)[:-1]


# Rows a refused request must not have written: everything but the audit trail, sign-in
# bookkeeping (axes, the per-account SignInFailure count, sessions) and caches.
_NOT_COUNTED = {"audit", "axes", "sessions", "contenttypes", "admin", "otp_static", "otp_totp", "two_factor",
                "django_celery_beat", "housekeeping"}


def _counted_models():
    return [m for m in apps.get_models() if m._meta.app_label not in _NOT_COUNTED and not m._meta.proxy
            and m._meta.managed and m.__name__ not in {"UserSession", "Token", "Session", "SignInFailure"}]


@dataclass
class Prober:
    client: object
    where: str
    markers: tuple = ()  # markup that must never appear unescaped in any page
    faults: list = field(default_factory=list)
    models: list = field(default_factory=_counted_models)
    stored_markup: bool = False  # a request carrying markup was accepted: look where it shows

    def counts(self) -> tuple:
        """Row counts of every counted table, in one query."""
        quote_name = connection.ops.quote_name
        sql = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {quote_name(m._meta.db_table)})" for m in self.models)
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return tuple(cursor.fetchone())

    def send(self, method: str, url: str, *, body: bytes | None = None, content_type: str = "",
             bad: BadInput | None = None, what: str = "", api: bool = False, **headers):
        """One request; returns the response (None after an exception). Faults are collected, not raised."""
        cache.clear()  # throttles and rate limits would turn most of the corpus into 429s
        label = f"{self.where} {method.upper()} {what} {bad!r}"
        before = self.counts()
        figures.count_request()
        try:
            with transaction.atomic():
                if method == "get":
                    response = self.client.get(url, **headers)
                else:
                    response = getattr(self.client, method)(url, data=body or b"", content_type=content_type,
                                                            **headers)
                if response.streaming:
                    response.content_bytes = b"".join(response.streaming_content)
                else:
                    response.content_bytes = response.content
        except Exception as error:  # noqa: BLE001 -- every exception here is what the test looks for
            figures.count_server_error()
            self.faults.append(f"{label}: {type(error).__name__}: {str(error)[:200]}")
            return None
        self.check(response, label, before, bad, api)
        return response

    def check(self, response, label, before, bad, api):
        status = response.status_code
        body = response.content_bytes
        content_type = response.get("Content-Type", "")
        if status >= 500:
            figures.count_server_error()
            self.faults.append(f"{label}: {status}")
            return
        if api and status >= 400:
            try:
                json.loads(body or b"null")
                ok = content_type.startswith("application/json")
            except ValueError:
                ok = False
            if not ok:
                self.faults.append(f"{label}: {status} is not a JSON error ({content_type})")
        is_html = content_type.startswith("text/html")
        if is_html and status in (400, 404) and b"govuk-" not in body:
            self.faults.append(f"{label}: {status} without a GOV.UK page")
        if is_html and any(marker.encode() in body for marker in self.markers):
            self.faults.append(f"{label}: markup shown unescaped")
        refused = status >= 400 or (is_html and b"govuk-error-summary" in body)
        if bad is not None and bad.marker and not refused:
            self.stored_markup = True
        if refused and self.counts() != before:
            changed = [m.__name__ for m, a, b in zip(self.models, before, self.counts()) if a != b]
            self.faults.append(f"{label}: refused ({status}) but wrote {changed}")
