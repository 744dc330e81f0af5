"""Every hostile input of bad_inputs.json, into every form field, URL parameter and API property.

The routes and the people who may use them come from the audit walk's reviewed table
(tests/audit/test_every_view_is_audited.py, kept complete against the URL map by its own
test), plus the sign-in page. For each route, as its user (a vetted practitioner, an LA
admin, an auditor, an organisation's feed token), the test:

- takes the valid request from that table, and the field names of the page's own forms;
- replaces one field, one URL parameter or (on the API) one property of the OpenAPI
  schema at a time with an input from the corpus, and sends it;
- sends each whole hostile body (20 MB, nested 100,000 deep, ...) to each POST.

Each answer must be below 500; an API refusal is JSON; a web 400 or 404 is a GOV.UK page;
a refused request writes nothing but its audit event; markup comes back escaped, on the
answer and on the pages that show stored text afterwards (tests/security/corpus.py).

Sampling: the corpus stays whole, but every input does not go into every field. A field
gets every ``STRIDE``-th input (the offset turns per field, so each input meets many fields) plus every
fourth input of its own kind (dates into date boxes, NHS numbers into NHS number fields...). Set
SIGNPOST_BAD_INPUT_STRIDE=1 to send everything everywhere (slow).
"""

import collections
import itertools
import json
import os
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import resolve, reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token

from tests.audit.test_every_view_is_audited import CASES, Audited, world  # noqa: F401 (fixture)
from tests.security import corpus, figures

pytestmark = pytest.mark.django_db

STRINGS, JSON_VALUES, NESTED, BODIES = corpus.load()
figures.corpus_size(len([*STRINGS, *JSON_VALUES, *BODIES]))
MARKERS = tuple(bad.marker for bad in STRINGS if bad.marker)
STRIDE = int(os.environ.get("SIGNPOST_BAD_INPUT_STRIDE", "20"))
KIND_STRIDE = min(STRIDE, 4)
_ROTATIONS = collections.defaultdict(itertools.count)
FORM = "application/x-www-form-urlencoded"
NESTED_PLACEHOLDER = "__signpost_nested_placeholder__"

SIGN_IN = ("two_factor:login", Audited("login.failure", None, method="post", data=lambda w: {
    "login_view-current_step": "auth", "auth-username": w["granted"].username, "auth-password": "wrong password"}))
WEB_CASES = [(name, case) for name, case in CASES if case.auth == "session"] + [SIGN_IN]
API_CASES = [(name, case) for name, case in CASES if case.auth in ("token", "feed")]


def kinds_of(field: str) -> set[str]:
    """The corpus categories aimed at a field, from its name."""
    name = field.lower()
    kinds = {kind for kind in ("nhs", "upn", "postcode") if kind in name}
    if re.search(r"(day|month|year|date|dob|_on(_[012])?$|_[012]$|expires|started|ended)", name):
        kinds.add("date")
    return kinds


def sample(inputs: list, key: str) -> list:
    """Every STRIDE-th input and every KIND_STRIDE-th of the field's own kind. The offset turns by one
    for each field sampled, so over a run every input goes into many fields."""
    offset = next(_ROTATIONS[len(inputs)])  # one turning offset per input list
    kinds = {"json"} if key.endswith(":json") else kinds_of(key.rsplit(":", 1)[-1])
    chosen = [bad for i, bad in enumerate(inputs)
              if (i + offset) % STRIDE == 0 or (bad.category in kinds and (i + offset) % KIND_STRIDE == 0)]
    for bad in chosen:
        figures.count_input(repr(bad))
    return chosen


class FormFields(HTMLParser):
    """The names of the fields of each <form> on a page: [(method, action, [names])]."""

    def __init__(self, html: str):
        super().__init__()
        self.forms = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append(((attrs.get("method") or "get").lower(), attrs.get("action") or "", []))
        elif tag in ("input", "select", "textarea") and self.forms and attrs.get("name"):
            self.forms[-1][2].append(attrs["name"])


def plain(data: dict) -> dict:
    """A valid request's data as text fields (an uploaded file becomes its name)."""
    return {k: (v.name if isinstance(v, SimpleUploadedFile) else v) for k, v in data.items()}


def page_fields(prober, url: str, method: str) -> set[str]:
    page = prober.send("get", url, what="(the page's own form)")
    if page is None or not page.get("Content-Type", "").startswith("text/html"):
        return set()
    path = urlsplit(url).path
    names = set()
    for form_method, action, fields in FormFields(page.content_bytes.decode("utf-8", "replace")).forms:
        if form_method == method and (not action or urlsplit(action).path == path):
            names.update(fields)
    return names - {"csrfmiddlewaretoken"}


def send_form(prober, method, url, data, bad=None, what=""):
    body = corpus.form_body(data)
    if method == "get":
        return prober.send("get", f"{url}?{body.decode()}" if body else url, bad=bad, what=what)
    return prober.send(method, url, body=body, content_type=FORM, bad=bad, what=what)


# Where stored text shows again: each page as the user who reads it.
DISPLAY_PAGES = [
    ("la_admin", lambda w: reverse("practitioners:practitioner_list")),
    ("la_admin", lambda w: reverse("practitioners:practitioner_list") + "?status=pending"),
    ("la_admin", lambda w: reverse("practitioners:access_requests")),
    ("la_admin", lambda w: reverse("practitioners:break_glass_reviews")),
    ("la_admin", lambda w: reverse("practitioners:practitioner_detail", kwargs={"pk": w["active"].pk})),
    ("la_admin", lambda w: reverse("feeds:reviews")),
    ("la_admin", lambda w: reverse("feeds:tokens")),
    ("la_admin", lambda w: reverse("feeds:merges")),
    ("auditor", lambda w: reverse("audit:events")),
    ("granted", lambda w: w["child"].get_absolute_url()),
    ("granted", lambda w: reverse("feeds:upload")),
    ("requester", lambda w: reverse("practitioners:my_requests")),
]


def display_sweep(prober, client, login_verified, world):
    """After markup was accepted somewhere: the pages that show stored text, each checked for it."""
    for user, url in DISPLAY_PAGES:
        client.logout()
        login_verified(client, world[user])
        prober.send("get", url(world), what=f"(stored text shown to {user})")
    client.logout()


@pytest.mark.parametrize("name, case", WEB_CASES, ids=[f"{name}-{case.method}" for name, case in WEB_CASES])
def test_bad_input_in_every_form_field_and_url_parameter_is_refused_cleanly(
        client, login_verified, world, name, case):
    if case.user is not None:
        login_verified(client, world[case.user])
    prober = corpus.Prober(client, name, MARKERS)
    url = case.url(world) if case.url else reverse(name)
    valid = plain(case.data(world))
    fields = set(valid) | page_fields(prober, url, case.method)

    for field in sorted(fields):
        for bad in sample(STRINGS, f"{name}:{case.method}:{field}"):
            send_form(prober, case.method, url, {**valid, field: bad.value}, bad=bad, what=f"field {field}")
    for kwarg, value in resolve(urlsplit(url).path).kwargs.items():
        for bad in sample(STRINGS, f"{name}:<{kwarg}>"):
            send_form(prober, case.method, corpus.url_with(url, str(value), bad.value), valid, bad=bad,
                      what=f"URL parameter {kwarg}")
    if case.method == "post":
        for bad in BODIES:
            figures.count_input(repr(bad))
            prober.send("post", url, body=bad.value, content_type=FORM, bad=bad, what="whole body")

    if prober.stored_markup:
        display_sweep(prober, client, login_verified, world)
    assert prober.faults == [], "\n".join(prober.faults[:30])


# The API: every property of the OpenAPI schema ----------------------------------------------

def _schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _resolve(schema, node):
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def property_paths(schema, node, prefix=()):
    """Every property of a request body, as a path into a valid body: ("rows", 0, "external_id")."""
    node = _resolve(schema, node)
    for prop, sub in node.get("properties", {}).items():
        yield prefix + (prop,)
        sub = _resolve(schema, sub)
        if sub.get("type") == "array" and "items" in sub:
            yield from property_paths(schema, sub["items"], prefix + (prop, 0))
        elif sub.get("type") == "object":
            yield from property_paths(schema, sub, prefix + (prop,))


def request_properties(path: str, method: str) -> list[tuple]:
    schema = _schema()
    templates = [p for p in schema["paths"] if method in schema["paths"][p]
                 and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", p), path)]
    operation = schema["paths"][min(templates, key=lambda p: p.count("{"))][method] if templates else {}
    body = operation.get("requestBody", {}).get("content", {}).get("application/json")
    return list(property_paths(schema, body["schema"])) if body else []


def with_value(data, path, value):
    data = json.loads(json.dumps(data))
    node = data
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return data


def json_text(data) -> str:
    text = json.dumps(data, ensure_ascii=True)  # a lone surrogate goes as its \ud800 escape
    for depth in NESTED.values():
        text = text.replace(f'"{NESTED_PLACEHOLDER}{depth}"', corpus.nested_json_text(depth))
    return text


def api_headers(world, case):
    key = world[case.user] if case.auth == "feed" else Token.objects.get(user=world[case.user]).key
    return {"HTTP_AUTHORIZATION": f"Token {key}"}


@pytest.mark.parametrize("name, case", API_CASES, ids=[f"{name}-{case.method}" for name, case in API_CASES])
def test_bad_input_in_every_api_property_gets_a_json_refusal(client, world, name, case):
    prober = corpus.Prober(client, name, MARKERS)
    url = case.url(world) if case.url else reverse(name)
    headers = api_headers(world, case)
    valid = case.data(world)
    json_values = [bad if bad.name not in NESTED else corpus.BadInput(
        bad.name, bad.category, f"{NESTED_PLACEHOLDER}{NESTED[bad.name]}") for bad in JSON_VALUES]

    paths = request_properties(urlsplit(url).path, case.method)
    assert case.method == "get" or paths, f"no request properties in the schema for {url}"
    for path in paths:
        key = f"{name}:{'.'.join(map(str, path))}"
        # JSON values (null, numbers, lists, deep nesting) are few and only fit here: every KIND_STRIDE-th.
        for bad in sample(STRINGS, key) + sample(json_values, f"{key}:json"):
            prober.send(case.method, url, body=json_text(with_value(valid, path, bad.value)).encode(),
                        content_type="application/json", bad=bad, what=f"property {path}", api=True, **headers)
    for kwarg, value in resolve(urlsplit(url).path).kwargs.items():
        for bad in sample(STRINGS, f"{name}:<{kwarg}>"):
            prober.send("get", corpus.url_with(url, str(value), bad.value), bad=bad,
                        what=f"URL parameter {kwarg}", api=True, **headers)
    if case.method == "post":
        for bad in BODIES:
            figures.count_input(repr(bad))
            prober.send("post", url, body=bad.value, content_type="application/json", bad=bad,
                        what="whole body", api=True, **headers)
    assert prober.faults == [], "\n".join(prober.faults[:30])


def test_every_api_operation_with_a_body_is_walked():
    walked = {reverse(name) for name, case in API_CASES if case.url is None}  # the ones with a body
    schema = _schema()
    with_body = {p for p, ops in schema["paths"].items() for op in ops.values()
                 if isinstance(op, dict) and "requestBody" in op}
    assert with_body <= walked, with_body - walked


def test_zz_every_input_of_the_corpus_was_tried():
    """Last in the module: the sampling reached every input (skipped when only some routes ran)."""
    if figures.FIGURES["bad-input requests"] < 1000:
        pytest.skip("only part of the walk ran")
    assert figures.untried([repr(bad) for bad in [*STRINGS, *JSON_VALUES, *BODIES]]) == []
