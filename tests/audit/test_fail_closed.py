"""Fail closed: when the audit event cannot be written, nothing of the log is shown."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture
def secret_events(record):
    return [record("child.view", child_ref="C-QQQQQ-RRRRR", reason="Reason nobody may read unaudited")
            for _ in range(3)]


@pytest.mark.parametrize("name, query", [
    ("audit:events", {}),
    ("audit:export", {}),
    ("audit:child_report", {"ref": "C-QQQQQ-RRRRR"}),
    ("audit:child_report_csv", {"ref": "C-QQQQQ-RRRRR"}),
    ("audit:anomalies", {}),
])
def test_no_event_written_means_no_page(auditor_client, secret_events, audit_inserts_fail, name, query):
    auditor_client.raise_request_exception = False
    response = auditor_client.get(reverse(name), query)
    assert response.status_code == 500
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"Reason nobody may read" not in body and b"C-QQQQQ-RRRRR" not in body
