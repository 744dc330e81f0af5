"""Auditors read plain words: every action the app can write has a label, and details name people and
format dates instead of showing ids and ISO timestamps."""

import ast
import re
from datetime import datetime, timezone as dt_timezone
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from audit import actions
from audit.context import RequestContext
from audit.services import record_event
from practitioners import roles
from tests import factories
from tests.conftest import verified_login

ROOT = Path(__file__).resolve().parents[2]
APPS = ["audit", "children", "practitioners", "feeds", "housekeeping", "signpost"]
ACTION_SHAPE = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")


def _source_files():
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts:
                yield path


def _strings(node) -> list:
    """String literals an expression can evaluate to: a constant, either branch of `a if c else b`, an f-string
    (as a regex)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body) + _strings(node.orelse)
    if isinstance(node, ast.JoinedStr):
        parts = [re.escape(v.value) if isinstance(v, ast.Constant) else "[a-z_]+" for v in node.values]
        return [re.compile("^" + "".join(parts) + "$")]
    if isinstance(node, (ast.Tuple, ast.List)):
        return [s for item in node.elts for s in _strings(item)]
    return []


def actions_in_source() -> tuple[set[str], list[re.Pattern]]:
    """Every audit action the code can write, found by reading the source:
    - values passed as ``action=`` / ``audit_action=`` (also as defaults), or as the action argument of ``_audit``;
    - constants whose name says ACTION, ``{"action": ...}`` dicts and ``for action, ... in (("x.y", ...), ...)``
      loops."""
    found, patterns = set(), []
    for path in _source_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            values = []
            if isinstance(node, ast.keyword) and node.arg in ("action", "audit_action"):
                values = _strings(node.value)
            elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "_audit":
                values = _strings(node.args[1]) if len(node.args) > 1 else []
            elif isinstance(node, ast.arguments):
                names = [a.arg for a in node.args + node.kwonlyargs]
                defaults = [None] * (len(node.args) - len(node.defaults)) + list(node.defaults) + list(node.kw_defaults)
                values = [s for name, d in zip(names, defaults) if d is not None and "action" in name for s in _strings(d)]
            elif isinstance(node, ast.Assign) and any("ACTION" in getattr(t, "id", "") for t in node.targets):
                values = _strings(node.value)
            elif isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.target, ast.Tuple) and \
                    getattr(node.target.elts[0], "id", "") == "action":
                values = [s for item in getattr(node.iter, "elts", []) for s in _strings(getattr(item, "elts", [None])[0])]
            elif isinstance(node, ast.Dict):
                values = [s for k, v in zip(node.keys, node.values)
                          if isinstance(k, ast.Constant) and k.value == "action" for s in _strings(v)]
            for value in values:
                if isinstance(value, re.Pattern):
                    patterns.append(value)
                elif ACTION_SHAPE.match(value) or value in ("logout",):
                    found.add(value)
    return found, patterns


def test_the_source_scan_finds_the_actions_written_in_each_way():
    found, patterns = actions_in_source()
    # keyword, _audit(request, ...), a constant, a for-loop tuple, a conditional, a keyword default, an f-string
    assert {"child.view", "feed.hub.view", "housekeeping.expire_records", "grant.organisation_end",
            "feed.token.issue", "feed.token.revoke_rotated"} <= found
    assert any(p.pattern.startswith("^console\\.") for p in patterns)


def test_every_action_the_app_can_write_has_a_plain_english_label():
    found, patterns = actions_in_source()
    missing = sorted(action for action in found if action not in actions.LABELS)
    assert missing == [], f"add labels to audit/actions.py LABELS for: {missing}"
    for pattern in patterns:
        assert any(pattern.match(key) for key in actions.LABELS), f"no label matches {pattern.pattern}"
    for key, text in actions.LABELS.items():
        assert text and text[0].isupper() and "_" not in text, key


def test_the_console_form_actions_each_have_their_own_label():
    for step in ("approve", "suspend", "reinstate", "vetting"):
        assert actions.label(f"console.{step}_form") != f"console.{step}_form"


def test_dates_in_details_read_as_govuk_dates_not_iso():
    assert actions.plain_value("expires_at", "2026-12-04T17:03:00+00:00") == "4 December 2026, 5:03pm"
    assert actions.plain_value("expires_at", "2026-06-04T09:05:00+00:00") == "4 June 2026, 10:05am"  # BST
    assert actions.plain_value("since", "2026-12-04") == "4 December 2026"
    assert actions.when(datetime(2026, 12, 4, 0, 1, tzinfo=dt_timezone.utc)) == "4 December 2026, 12:01am"


def test_details_use_words_for_keys_flags_and_codes():
    assert actions.describe({"too_many": False, "mode": "fuzzy", "result_count": 3}) == [
        ("Search stage", "Including similar names and dates"), ("Children found", "3"), ("Too many to list", "No")]
    assert actions.describe({"filter": {"action": "child.view", "since": "2026-12-01", "actor": ""}}) == [
        ("Filter", "Action: Opened a child's record; From: 1 December 2026")]
    assert actions.describe({"filter": {"actor": "", "since": None}}) == [("Filter", "None set")]


@pytest.mark.django_db
def test_the_audit_log_names_the_practitioner_instead_of_showing_their_id():
    practitioner = factories.PractitionerFactory(user__username="tomh", user__first_name="Tom",
                                                 user__last_name="Hughes", organisation__name="Wormholt Park")
    auditor = factories.UserFactory(roles=[roles.AUDITOR])
    record_event(action="console.approve_form", context=RequestContext.system("test"),
                 details={"practitioner_id": practitioner.pk, "organisation_id": practitioner.organisation_id,
                          "expires_at": "2026-12-04T17:03:00+00:00"})
    page = verified_login(Client(), auditor).get(reverse("audit:events")).content.decode()
    assert "Practitioner: Tom Hughes (tomh)" in page and "Organisation: Wormholt Park" in page
    assert "Access until: 4 December 2026, 5:03pm" in page
    assert "practitioner_id" not in page and "2026-12-04T17:03" not in page.split("<tbody")[1].split('datetime="')[0]
    assert "Opened the approve-account form" in page
