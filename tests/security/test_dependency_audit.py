"""The dependency audit's own rules: every accepted vulnerability has a reason, and anything else fails."""

import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "scripts" / "dependency_audit.py"
_spec = importlib.util.spec_from_file_location("dependency_audit", _PATH)
audit = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit)

REPORT = {"dependencies": [
    {"name": "django", "version": "5.2.19", "vulns": []},
    {"name": "requests", "version": "2.0.0", "vulns": [
        {"id": "PYSEC-2023-74", "aliases": ["CVE-2023-32681", "GHSA-j8r2-6x86-q33q"], "fix_versions": ["2.31.0"]}]},
]}


def test_the_projects_allow_list_gives_a_reason_for_every_entry():
    audit.read_allowlist(audit.ALLOWLIST.read_text())  # raises on an entry without one


@pytest.mark.parametrize("line", ["GHSA-j8r2-6x86-q33q", "GHSA-j8r2-6x86-q33q requests", "PYSEC-1 requests ok"])
def test_an_entry_without_a_package_and_a_real_reason_is_refused(line):
    with pytest.raises(audit.AllowListError):
        audit.read_allowlist(line)


def test_a_known_vulnerability_not_on_the_allow_list_fails_with_its_fix():
    assert audit.unaccepted(REPORT, {}) == ["requests 2.0.0: PYSEC-2023-74 (fixed in 2.31.0)"]


def test_an_allow_list_entry_matches_by_id_or_alias():
    reason = "Only the CLI is affected; we import the library only."
    assert audit.unaccepted(REPORT, {"PYSEC-2023-74": reason}) == []
    assert audit.unaccepted(REPORT, {"CVE-2023-32681": reason}) == []
    assert audit.unaccepted(REPORT, {"CVE-2099-0001": reason}) != []


def test_comments_and_blank_lines_are_not_entries():
    assert audit.read_allowlist("# a comment\n\n   \n") == {}
